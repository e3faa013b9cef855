// What each role may do: one declared permission per RPC, and the roles
// granted each permission. This file and permissions.cc are the whole
// policy; the Authorizer enforces it for gRPC, and the HTTP API reaches the
// same RPCs, so the same check guards both.

#ifndef FRONTDOOR_SERVICES_AUTH_PERMISSIONS_H_
#define FRONTDOOR_SERVICES_AUTH_PERMISSIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "frontdoor/v1/auth.pb.h"

namespace frontdoor::auth {

enum class Permission {
  kPublic,            // no credentials needed (health, reflection)
  kAuthenticated,     // any known caller
  kReferralSubmit,
  kReferralRead,      // referrers: only referrals they submitted
  kReferralUpdate,    // lifecycle transitions
  kTriageOverride,
  kWorklistRead,
  kTriageRun,
  kDirectoryRead,
  kCapacityWrite,
  kRulesRead,
  kRulesPropose,
  kRulesApprove,      // approve, activate, roll back
  kRulesReplay,       // reads every stored referral
  kAuditRead,
  kAdmin,             // backups
};

absl::string_view PermissionName(Permission p);

// The permission declared for a full method name
// ("/frontdoor.v1.ReferralService/GetReferral"); nullopt if undeclared
// (undeclared methods are refused).
std::optional<Permission> PermissionFor(absl::string_view full_method);

bool RoleHas(v1::Role role, Permission permission);

// True for roles that may only see referrals they submitted themselves.
bool SeesOnlyOwnReferrals(v1::Role role);

// True if the method reads or writes patient data, so every call (allowed
// or not) leaves an audit entry.
bool TouchesPatientData(absl::string_view full_method);

// Every declared method, in declaration order.
std::vector<std::string> DeclaredMethods();

// OK if every method of the named services (full names,
// "frontdoor.v1.ReferralService") has a declared permission; otherwise
// FAILED_PRECONDITION listing the undeclared ones. The server calls this at
// start so a new RPC cannot ship without a policy.
absl::Status CheckDeclared(const std::vector<std::string>& service_names);

}  // namespace frontdoor::auth

#endif  // FRONTDOOR_SERVICES_AUTH_PERMISSIONS_H_
