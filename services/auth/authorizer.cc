#include "services/auth/authorizer.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/auth_context.h"
#include "openssl/crypto.h"
#include "services/common/grpc_status.h"
#include "services/common/log.h"
#include "services/common/proto_time.h"

namespace frontdoor::auth {
namespace {

constexpr size_t kMaxHeaderValue = 512;

std::optional<absl::string_view> Metadata(const grpc::ServerContextBase& ctx,
                                          absl::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

// A printable, bounded copy of a caller-supplied header for the audit trail.
std::string Clean(absl::string_view v, size_t max) {
  std::string out;
  for (char c : v.substr(0, max)) {
    out.push_back(absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '?');
  }
  return out;
}

// 96 random bits as 24 hex digits. A correlation id, not a secret: a
// per-thread generator seeded from the OS (OpenSSL's RAND_bytes took a lock
// and a few percent of a busy server's CPU).
std::string NewRequestId() {
  thread_local absl::BitGen gen;
  const uint64_t high = absl::Uniform<uint64_t>(gen);
  const uint32_t low = absl::Uniform<uint32_t>(gen);
  return absl::StrCat(absl::Hex(high, absl::kZeroPad16), absl::Hex(low, absl::kZeroPad8));
}

}  // namespace

Authorizer::Authorizer(IdentityStore* identities, Clock* clock, Options options)
    : identities_(identities), clock_(clock), options_(std::move(options)) {}

bool Authorizer::FromGateway(const grpc::ServerContextBase& ctx) const {
  const std::string& want = options_.gateway_secret;
  if (want.empty()) return false;
  auto secret = Metadata(ctx, "x-frontdoor-gateway");
  // Constant-time, so the comparison does not tell a guesser how close.
  return secret && secret->size() == want.size() &&
         CRYPTO_memcmp(secret->data(), want.data(), want.size()) == 0;
}

void Authorizer::MaybeReload() const {
  const int64_t now = absl::ToUnixNanos(absl::Now());
  int64_t next = next_reload_ns_.load(std::memory_order_relaxed);
  if (now < next) return;
  if (!next_reload_ns_.compare_exchange_strong(
          next, now + absl::ToInt64Nanoseconds(options_.reload_interval))) {
    return;  // another thread is reloading
  }
  if (absl::Status st = identities_->ReloadIfChanged(); !st.ok()) {
    log::Error("tokens file not reloaded; keeping the previous identities",
               {{"error", std::string(st.message())}});
  }
}

AuthResult Authorizer::Authenticate(const grpc::ServerContextBase& ctx) const {
  AuthResult r;
  Principal& p = r.principal;
  if (auto id = Metadata(ctx, "x-request-id"); id && !id->empty()) {
    p.request_id = Clean(*id, 128);
  } else {
    p.request_id = NewRequestId();
  }
  const bool from_gateway = FromGateway(ctx);
  if (from_gateway) p.channel = "http";
  if (auto why = Metadata(ctx, "x-frontdoor-reason"); why)
    p.reason = Clean(*why, 200);

  MaybeReload();
  std::optional<v1::Identity> identity;
  if (auto header = Metadata(ctx, "authorization"); header) {
    if (header->size() > kMaxHeaderValue ||
        !absl::StartsWithIgnoreCase(*header, "bearer ")) {
      r.status = absl::UnauthenticatedError(
          "authorization metadata must be 'Bearer <token>'");
      return r;
    }
    absl::string_view token = absl::StripAsciiWhitespace(header->substr(7));
    identity = identities_->FindByTokenHash(HashToken(token));
    if (!identity) {
      r.status = absl::UnauthenticatedError("unknown or revoked token");
      return r;
    }
    p.authenticated_by = "token";
  } else if (auto cn = Metadata(ctx, "x-frontdoor-certificate-cn");
             cn && from_gateway) {
    // An HTTPS client whose certificate the gateway's handshake verified.
    identity = identities_->FindByCertificateName(*cn);
    if (!identity) {
      r.status = absl::UnauthenticatedError(
          "client certificate not registered in the tokens file");
      return r;
    }
    p.authenticated_by = "certificate";
  } else {
    std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
    if (auth != nullptr && auth->IsPeerAuthenticated()) {
      for (const grpc::string_ref& cn :
           auth->FindPropertyValues("x509_common_name")) {
        identity = identities_->FindByCertificateName(
            absl::string_view(cn.data(), cn.size()));
        if (identity) break;
      }
      if (!identity) {
        r.status = absl::UnauthenticatedError(
            "client certificate not registered in the tokens file");
        return r;
      }
      p.authenticated_by = "certificate";
    }
  }
  if (!identity) {
    r.status = absl::UnauthenticatedError(
        "no credentials: send 'authorization: Bearer <token>'");
    return r;
  }
  if (identity->has_expires_at()) {
    const absl::Time expires = FromProtoTime(identity->expires_at());
    if (clock_->Now() >= expires) {
      r.status = absl::UnauthenticatedError(
          absl::StrCat("token expired at ", absl::FormatTime(expires)));
      return r;
    }
    p.expires_at = expires;
  }
  p.name = identity->principal();
  p.role = identity->role();
  return r;
}

AuthResult Authorizer::Authorize(const grpc::ServerContextBase& ctx,
                                 absl::string_view full_method) const {
  std::optional<Permission> permission = PermissionFor(full_method);
  if (permission == Permission::kPublic) return AuthResult{};
  AuthResult r = Authenticate(ctx);
  if (!r.ok()) return r;
  if (!permission.has_value()) {
    log::Error("call to a method with no declared permission",
               {{"method", std::string(full_method)}});
    r.status = absl::PermissionDeniedError("method not permitted");
    return r;
  }
  if (!RoleHas(r.principal.role, *permission)) {
    r.status = absl::PermissionDeniedError(absl::StrCat(
        r.principal.RoleName(), " may not call ", full_method, " (needs ",
        PermissionName(*permission), ")"));
  }
  return r;
}

v1::AuditEntry AuditEntryFor(const Principal& who, absl::string_view action) {
  v1::AuditEntry e;
  e.set_principal(who.name);
  e.set_role(who.RoleName());
  e.set_action(std::string(action));
  e.set_request_id(who.request_id);
  e.set_reason(who.reason);
  e.set_channel(who.channel);
  return e;
}

std::optional<Principal> AdmitUnary(const Authorizer& authorizer,
                                    grpc::CallbackServerContext* ctx,
                                    grpc::ServerUnaryReactor* reactor,
                                    absl::string_view full_method) {
  AuthResult r = authorizer.Authorize(*ctx, full_method);
  if (!r.ok()) {
    reactor->Finish(ToGrpcStatus(r.status));
    return std::nullopt;
  }
  return std::move(r.principal);
}

}  // namespace frontdoor::auth
