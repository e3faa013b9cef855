#include "services/auth/permissions.h"

#include <initializer_list>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"

namespace frontdoor::auth {
namespace {

struct MethodRule {
  const char* method;
  Permission permission;
  bool patient_data;
};

// One row per RPC. A new RPC without a row here fails CheckDeclared at
// server start and in permissions_test.
constexpr MethodRule kMethods[] = {
    // Health and reflection: probes and tools need them before any token.
    {"/grpc.health.v1.Health/Check", Permission::kPublic, false},
    {"/grpc.health.v1.Health/Watch", Permission::kPublic, false},
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
     Permission::kPublic, false},
    {"/frontdoor.v1.AuthService/WhoAmI", Permission::kAuthenticated, false},

    {"/frontdoor.v1.ReferralService/SubmitReferral",
     Permission::kReferralSubmit, true},
    {"/frontdoor.v1.ReferralService/GetReferral", Permission::kReferralRead,
     true},
    {"/frontdoor.v1.ReferralService/ListReferrals", Permission::kReferralRead,
     true},
    {"/frontdoor.v1.ReferralService/ListReferralEvents",
     Permission::kReferralRead, true},
    {"/frontdoor.v1.ReferralService/TransitionReferral",
     Permission::kReferralUpdate, true},
    {"/frontdoor.v1.ReferralService/OverrideTriage",
     Permission::kTriageOverride, true},
    {"/frontdoor.v1.ReferralService/GetWorklist", Permission::kWorklistRead,
     true},
    {"/frontdoor.v1.ReferralService/WatchWorklist", Permission::kWorklistRead,
     true},

    {"/frontdoor.v1.TriageService/Triage", Permission::kTriageRun, false},
    {"/frontdoor.v1.TriageService/TriageBatch", Permission::kTriageRun, false},
    {"/frontdoor.v1.TriageService/Explain", Permission::kTriageRun, false},
    {"/frontdoor.v1.TriageService/GetRuleSetInfo", Permission::kRulesRead,
     false},

    {"/frontdoor.v1.DirectoryService/ListServices", Permission::kDirectoryRead,
     false},
    {"/frontdoor.v1.DirectoryService/GetService", Permission::kDirectoryRead,
     false},
    {"/frontdoor.v1.DirectoryService/MatchService", Permission::kDirectoryRead,
     false},
    {"/frontdoor.v1.DirectoryService/SetCapacity", Permission::kCapacityWrite,
     false},

    {"/frontdoor.v1.AdminService/Backup", Permission::kAdmin, false},

    {"/frontdoor.v1.RuleSetService/ListVersions", Permission::kRulesRead,
     false},
    {"/frontdoor.v1.RuleSetService/GetVersion", Permission::kRulesRead, false},
    {"/frontdoor.v1.RuleSetService/GetActive", Permission::kRulesRead, false},
    {"/frontdoor.v1.RuleSetService/Validate", Permission::kRulesRead, false},
    {"/frontdoor.v1.RuleSetService/Diff", Permission::kRulesRead, false},
    {"/frontdoor.v1.RuleSetService/GetShadowReport", Permission::kRulesRead,
     false},
    {"/frontdoor.v1.RuleSetService/Propose", Permission::kRulesPropose, false},
    {"/frontdoor.v1.RuleSetService/SetShadow", Permission::kRulesPropose,
     false},
    {"/frontdoor.v1.RuleSetService/Approve", Permission::kRulesApprove, false},
    {"/frontdoor.v1.RuleSetService/Activate", Permission::kRulesApprove, false},
    {"/frontdoor.v1.RuleSetService/Rollback", Permission::kRulesApprove, false},
    {"/frontdoor.v1.RuleSetService/Replay", Permission::kRulesReplay, true},

    {"/frontdoor.v1.AuditService/Query", Permission::kAuditRead, false},
    {"/frontdoor.v1.AuditService/Verify", Permission::kAuditRead, false},
};

using R = v1::Role;

// The roles granted each permission (kPublic and kAuthenticated are
// handled before this table).
const absl::flat_hash_map<Permission, std::vector<v1::Role>>& Grants() {
  static const auto* grants =
      new absl::flat_hash_map<Permission, std::vector<v1::Role>>{
          {Permission::kReferralSubmit,
           {R::ROLE_REFERRER, R::ROLE_CALL_HANDLER, R::ROLE_CLINICIAN}},
          {Permission::kReferralRead,
           {R::ROLE_REFERRER, R::ROLE_CALL_HANDLER, R::ROLE_CLINICIAN,
            R::ROLE_SERVICE_MANAGER}},
          {Permission::kReferralUpdate,
           {R::ROLE_CALL_HANDLER, R::ROLE_CLINICIAN, R::ROLE_SERVICE_MANAGER}},
          {Permission::kTriageOverride, {R::ROLE_CLINICIAN}},
          {Permission::kWorklistRead,
           {R::ROLE_CALL_HANDLER, R::ROLE_CLINICIAN, R::ROLE_SERVICE_MANAGER}},
          // The referral role calls triage and the directory as ROLE_SERVICE;
          // staff use Explain to see why.
          {Permission::kTriageRun,
           {R::ROLE_SERVICE, R::ROLE_CALL_HANDLER, R::ROLE_CLINICIAN,
            R::ROLE_RULE_AUTHOR, R::ROLE_SAFETY_OFFICER}},
          {Permission::kDirectoryRead,
           {R::ROLE_SERVICE, R::ROLE_REFERRER, R::ROLE_CALL_HANDLER,
            R::ROLE_CLINICIAN, R::ROLE_SERVICE_MANAGER, R::ROLE_RULE_AUTHOR,
            R::ROLE_SAFETY_OFFICER}},
          {Permission::kCapacityWrite, {R::ROLE_SERVICE_MANAGER}},
          {Permission::kRulesRead,
           {R::ROLE_SERVICE, R::ROLE_CALL_HANDLER, R::ROLE_CLINICIAN,
            R::ROLE_RULE_AUTHOR, R::ROLE_SAFETY_OFFICER,
            R::ROLE_SERVICE_MANAGER, R::ROLE_AUDITOR, R::ROLE_ADMIN}},
          {Permission::kRulesPropose,
           {R::ROLE_RULE_AUTHOR, R::ROLE_SAFETY_OFFICER}},
          {Permission::kRulesApprove, {R::ROLE_SAFETY_OFFICER}},
          {Permission::kRulesReplay,
           {R::ROLE_RULE_AUTHOR, R::ROLE_SAFETY_OFFICER}},
          {Permission::kAuditRead, {R::ROLE_AUDITOR}},
          {Permission::kAdmin, {R::ROLE_ADMIN}},
      };
  return *grants;
}

const absl::flat_hash_map<std::string, const MethodRule*>& ByMethod() {
  static const auto* index = [] {
    auto* m = new absl::flat_hash_map<std::string, const MethodRule*>();
    for (const MethodRule& r : kMethods) (*m)[r.method] = &r;
    return m;
  }();
  return *index;
}

}  // namespace

absl::string_view PermissionName(Permission p) {
  switch (p) {
    case Permission::kPublic: return "public";
    case Permission::kAuthenticated: return "authenticated";
    case Permission::kReferralSubmit: return "referral.submit";
    case Permission::kReferralRead: return "referral.read";
    case Permission::kReferralUpdate: return "referral.update";
    case Permission::kTriageOverride: return "triage.override";
    case Permission::kWorklistRead: return "worklist.read";
    case Permission::kTriageRun: return "triage.run";
    case Permission::kDirectoryRead: return "directory.read";
    case Permission::kCapacityWrite: return "capacity.write";
    case Permission::kRulesRead: return "rules.read";
    case Permission::kRulesPropose: return "rules.propose";
    case Permission::kRulesApprove: return "rules.approve";
    case Permission::kRulesReplay: return "rules.replay";
    case Permission::kAuditRead: return "audit.read";
    case Permission::kAdmin: return "admin";
  }
  return "unknown";
}

std::optional<Permission> PermissionFor(absl::string_view full_method) {
  auto it = ByMethod().find(full_method);
  if (it == ByMethod().end()) return std::nullopt;
  return it->second->permission;
}

bool RoleHas(v1::Role role, Permission permission) {
  if (permission == Permission::kPublic) return true;
  if (role == v1::ROLE_UNSPECIFIED) return false;
  if (permission == Permission::kAuthenticated) return true;
  auto it = Grants().find(permission);
  if (it == Grants().end()) return false;
  for (v1::Role r : it->second)
    if (r == role) return true;
  return false;
}

bool SeesOnlyOwnReferrals(v1::Role role) { return role == v1::ROLE_REFERRER; }

bool TouchesPatientData(absl::string_view full_method) {
  auto it = ByMethod().find(full_method);
  return it != ByMethod().end() && it->second->patient_data;
}

std::vector<std::string> DeclaredMethods() {
  std::vector<std::string> out;
  for (const MethodRule& r : kMethods) out.push_back(r.method);
  return out;
}

absl::Status CheckDeclared(const std::vector<std::string>& service_names) {
  std::vector<std::string> missing;
  const google::protobuf::DescriptorPool* pool =
      google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : service_names) {
    const google::protobuf::ServiceDescriptor* s = pool->FindServiceByName(name);
    if (s == nullptr) {
      missing.push_back(absl::StrCat(name, " (unknown service)"));
      continue;
    }
    for (int i = 0; i < s->method_count(); ++i) {
      std::string full = absl::StrCat("/", name, "/", s->method(i)->name());
      if (!PermissionFor(full).has_value()) missing.push_back(full);
    }
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("no permission declared for: ", absl::StrJoin(missing, ", "),
                   " (services/auth/permissions.cc)"));
}

}  // namespace frontdoor::auth
