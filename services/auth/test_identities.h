// Test support: an identities file with one token per role, for tests that
// start servers or services with authentication on.

#ifndef FRONTDOOR_SERVICES_AUTH_TEST_IDENTITIES_H_
#define FRONTDOOR_SERVICES_AUTH_TEST_IDENTITIES_H_

#include <map>
#include <memory>
#include <string>

#include "frontdoor/v1/auth.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "services/auth/authorizer.h"
#include "services/auth/identities.h"
#include "services/common/clock.h"

namespace frontdoor::testing {

// Principals are "test-<role>" ("test-referrer", "test-call-handler", ...)
// plus a second referrer and a second safety officer ("test-referrer-2",
// "test-safety-officer-2": token(role, 2)), for tests of "someone else".
class TestIdentities {
 public:
  // Writes `<dir>/tokens.txtpb`. Aborts the test binary on failure.
  static TestIdentities Create(const std::string& dir);

  const std::string& file() const { return file_; }
  const std::string& token(v1::Role role, int n = 1) const;
  const std::string& second_referrer_token() const {
    return token(v1::ROLE_REFERRER, 2);
  }
  static std::string PrincipalFor(v1::Role role, int n = 1);

  // One set per test binary, in a temporary directory removed at exit.
  static const TestIdentities& Shared();

  // A channel to `address` whose calls carry the role's token.
  std::shared_ptr<grpc::Channel> Channel(const std::string& address,
                                         v1::Role role, int n = 1) const;

  // Adds "authorization: Bearer <token of role>".
  void Authorize(grpc::ClientContext* ctx, v1::Role role, int n = 1) const;

  // An Authorizer over the file, for services tested without a whole
  // server. Shared by copies of this object.
  const auth::Authorizer* authorizer() const { return authorizer_.get(); }

 private:
  std::string file_;
  std::map<std::pair<v1::Role, int>, std::string> tokens_;
  std::shared_ptr<auth::IdentityStore> store_;
  std::shared_ptr<auth::Authorizer> authorizer_;
};

}  // namespace frontdoor::testing

#endif  // FRONTDOOR_SERVICES_AUTH_TEST_IDENTITIES_H_
