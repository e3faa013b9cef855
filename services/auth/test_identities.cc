#include "services/auth/test_identities.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "services/common/temp_dir.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "grpcpp/security/credentials.h"
#include "services/auth/client.h"

namespace frontdoor::testing {
namespace {

[[noreturn]] void Die(const absl::Status& st) {
  std::fprintf(stderr, "TestIdentities: %s\n", std::string(st.message()).c_str());
  std::abort();
}

}  // namespace

std::string TestIdentities::PrincipalFor(v1::Role role, int n) {
  std::string name(absl::StripPrefix(v1::Role_Name(role), "ROLE_"));
  absl::AsciiStrToLower(&name);
  return absl::StrCat("test-", absl::StrReplaceAll(name, {{"_", "-"}}),
                      n == 1 ? "" : absl::StrCat("-", n));
}

const TestIdentities& TestIdentities::Shared() {
  static TempDir* dir = new TempDir("frontdoor_ids");
  static const TestIdentities* ids = [] {
    std::atexit([] { delete dir; });
    return new TestIdentities(Create(dir->path()));
  }();
  return *ids;
}

TestIdentities TestIdentities::Create(const std::string& dir) {
  TestIdentities t;
  t.file_ = absl::StrCat(dir, "/tokens.txtpb");
  v1::IdentityFile file;
  auto add = [&](v1::Role role, const std::string& principal) {
    absl::StatusOr<auth::NewToken> token = auth::GenerateToken();
    if (!token.ok()) Die(token.status());
    v1::Identity* id = file.add_identities();
    id->set_principal(principal);
    id->set_role(role);
    id->set_token_sha256(token->sha256_hex);
    return token->token;
  };
  for (int r = v1::Role_MIN + 1; r <= v1::Role_MAX; ++r) {
    const auto role = static_cast<v1::Role>(r);
    t.tokens_[{role, 1}] = add(role, PrincipalFor(role));
  }
  for (v1::Role role : {v1::ROLE_REFERRER, v1::ROLE_SAFETY_OFFICER})
    t.tokens_[{role, 2}] = add(role, PrincipalFor(role, 2));
  if (absl::Status st = auth::WriteIdentityFile(t.file_, file); !st.ok())
    Die(st);
  absl::StatusOr<std::unique_ptr<auth::IdentityStore>> store =
      auth::IdentityStore::Open(t.file_);
  if (!store.ok()) Die(store.status());
  t.store_ = std::shared_ptr<auth::IdentityStore>(*std::move(store));
  t.authorizer_ =
      std::make_shared<auth::Authorizer>(t.store_.get(), RealClock::Get());
  return t;
}

const std::string& TestIdentities::token(v1::Role role, int n) const {
  return tokens_.at({role, n});
}

std::shared_ptr<grpc::Channel> TestIdentities::Channel(
    const std::string& address, v1::Role role, int n) const {
  return auth::CreateChannelWithToken(address,
                                      grpc::InsecureChannelCredentials(),
                                      grpc::ChannelArguments(), token(role, n));
}

void TestIdentities::Authorize(grpc::ClientContext* ctx, v1::Role role,
                               int n) const {
  ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token(role, n)));
}


}  // namespace frontdoor::testing
