// Authentication and authorisation of one call: who is calling (bearer token
// or TLS client certificate) and whether their role holds the permission
// declared for the method (permissions.h). Every handler of every service
// starts with Authorize; the HTTP API forwards to the same handlers with the
// caller's credentials, so this is the one check for both.

#ifndef FRONTDOOR_SERVICES_AUTH_AUTHORIZER_H_
#define FRONTDOOR_SERVICES_AUTH_AUTHORIZER_H_

#include <atomic>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "frontdoor/v1/audit.pb.h"
#include "frontdoor/v1/auth.pb.h"
#include "grpcpp/server_context.h"
#include "services/auth/identities.h"
#include "services/auth/permissions.h"
#include "services/common/clock.h"

namespace frontdoor::auth {

// The caller of one RPC, as the audit trail records them.
struct Principal {
  std::string name;            // "" when not authenticated
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::string authenticated_by;  // "token", "certificate" or "" (public)
  std::optional<absl::Time> expires_at;
  std::string request_id;      // x-request-id, or one made up for the call
  std::string channel = "grpc";  // "http" when it came through the gateway
  std::string reason;          // x-frontdoor-reason, if given

  bool authenticated() const { return role != v1::ROLE_UNSPECIFIED; }
  std::string RoleName() const { return v1::Role_Name(role); }
};

// The outcome of Authorize: status is OK, UNAUTHENTICATED or
// PERMISSION_DENIED; principal holds what is known of the caller either way
// (name and role once the credentials are good), for the audit entry of a
// refused call.
struct AuthResult {
  absl::Status status;
  Principal principal;
  bool ok() const { return status.ok(); }
};

// Thread-safe. The identity store and clock must outlive it.
class Authorizer {
 public:
  struct Options {
    // How often the tokens file is checked for changes (new and revoked
    // tokens take effect without a restart).
    absl::Duration reload_interval = absl::Seconds(1);
    // A secret known only to this process's HTTP gateway (empty: none),
    // which sends it as "x-frontdoor-gateway" with every call. A call that
    // bears it came in over HTTP (its audit channel is "http"), and one that
    // has no token may name the caller by the common name of the HTTPS
    // client certificate the gateway's TLS handshake verified
    // ("x-frontdoor-certificate-cn"): its registered identity is the
    // caller, as a certificate is over gRPC. Without the secret both
    // metadata are ignored.
    std::string gateway_secret;
  };
  Authorizer(IdentityStore* identities, Clock* clock, Options options);
  Authorizer(IdentityStore* identities, Clock* clock)
      : Authorizer(identities, clock, Options()) {}

  // Authenticates the caller and checks the permission declared for
  // `full_method` ("/frontdoor.v1.ReferralService/GetReferral"). An
  // undeclared method is refused (PERMISSION_DENIED). Messages never say
  // anything about the data the call asks for.
  AuthResult Authorize(const grpc::ServerContextBase& ctx,
                       absl::string_view full_method) const;

  IdentityStore* identities() const { return identities_; }

 private:
  AuthResult Authenticate(const grpc::ServerContextBase& ctx) const;
  // Whether the call bears the gateway's secret (Options::gateway_secret).
  bool FromGateway(const grpc::ServerContextBase& ctx) const;
  void MaybeReload() const;

  IdentityStore* const identities_;
  Clock* const clock_;
  const Options options_;
  mutable std::atomic<int64_t> next_reload_ns_{0};
};

// An audit entry (frontdoor/v1/audit.proto) for a call by `who` to
// `action` (the full method name), with who, role, request id, reason and
// channel filled in; the caller adds the referral, NHS number and outcome.
v1::AuditEntry AuditEntryFor(const Principal& who, absl::string_view action);

// For unary callback handlers: Authorize, and on refusal finish `reactor`
// with the error and return nullopt.
std::optional<Principal> AdmitUnary(const Authorizer& authorizer,
                                    grpc::CallbackServerContext* ctx,
                                    grpc::ServerUnaryReactor* reactor,
                                    absl::string_view full_method);

}  // namespace frontdoor::auth

#endif  // FRONTDOOR_SERVICES_AUTH_AUTHORIZER_H_
