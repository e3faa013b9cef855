#include "services/auth/identities.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/temp_dir.h"

namespace frontdoor::auth {
namespace {

using ::testing::HasSubstr;

const char kHash[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(ParseIdentityFileTest, AcceptsAWellFormedFile) {
  absl::StatusOr<v1::IdentityFile> f = ParseIdentityFile(
      absl::StrCat("identities { principal: \"dr.a@practice\" role: "
                   "ROLE_REFERRER token_sha256: \"",
                   kHash,
                   "\" }\n"
                   "identities { principal: \"gp-portal\" role: ROLE_SERVICE "
                   "certificate_common_name: \"gp-portal.example\" }\n"),
      "tokens.txtpb");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->identities_size(), 2);
}

TEST(ParseIdentityFileTest, SyntaxErrorNamesFileLineAndColumn) {
  absl::StatusOr<v1::IdentityFile> f = ParseIdentityFile(
      "identities {\n  principal: \"a\"\n  rolee: ROLE_ADMIN\n}\n", "t.txtpb");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(f.status().message(), HasSubstr("t.txtpb:3:"));
  EXPECT_THAT(f.status().message(), HasSubstr("rolee"));
}

TEST(ParseIdentityFileTest, ContentErrorsNameTheField) {
  struct Case {
    std::string text;
    std::string want;
  } cases[] = {
      {"identities { role: ROLE_ADMIN token_sha256: \"" + std::string(kHash) +
           "\" }",
       "identities[0].principal"},
      {"identities { principal: \"a b\" role: ROLE_ADMIN }",
       "identities[0].principal"},
      {"identities { principal: \"a\" token_sha256: \"" + std::string(kHash) +
           "\" }",
       "identities[0].role"},
      {"identities { principal: \"a\" role: ROLE_ADMIN }",
       "identities[0].token_sha256"},
      {"identities { principal: \"a\" role: ROLE_ADMIN token_sha256: \"AB\" }",
       "identities[0].token_sha256"},
      {"identities { principal: \"a\" role: ROLE_ADMIN token_sha256: \"" +
           std::string(kHash) +
           "\" } identities { principal: \"a\" role: ROLE_AUDITOR "
           "certificate_common_name: \"x\" }",
       "identities[1].principal: duplicate"},
      {"identities { principal: \"a\" role: ROLE_ADMIN token_sha256: \"" +
           std::string(kHash) + "\" } identities { principal: \"b\" role: " +
           "ROLE_AUDITOR token_sha256: \"" + std::string(kHash) + "\" }",
       "identities[1].token_sha256: duplicate"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<v1::IdentityFile> f = ParseIdentityFile(c.text, "f");
    ASSERT_FALSE(f.ok()) << c.text;
    EXPECT_THAT(f.status().message(), HasSubstr(c.want)) << c.text;
  }
}

TEST(GenerateTokenTest, TokensAreRandomAndHashedConsistently) {
  absl::StatusOr<NewToken> a = GenerateToken();
  absl::StatusOr<NewToken> b = GenerateToken();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->token, b->token);
  EXPECT_EQ(a->token.size(), 3 + 43u);
  EXPECT_EQ(HashToken(a->token), a->sha256_hex);
  EXPECT_EQ(a->sha256_hex.size(), 64u);
}

TEST(IdentityStoreTest, LooksUpReloadsAndKeepsTheLastGoodFile) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/tokens.txtpb";
  absl::StatusOr<NewToken> t1 = GenerateToken();
  absl::StatusOr<NewToken> t2 = GenerateToken();
  ASSERT_TRUE(t1.ok() && t2.ok());
  v1::IdentityFile file;
  v1::Identity* a = file.add_identities();
  a->set_principal("alice");
  a->set_role(v1::ROLE_CLINICIAN);
  a->set_token_sha256(t1->sha256_hex);
  ASSERT_TRUE(WriteIdentityFile(path, file).ok());

  absl::StatusOr<std::unique_ptr<IdentityStore>> store =
      IdentityStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->FindByTokenHash(t1->sha256_hex).has_value());
  EXPECT_EQ((*store)->FindByTokenHash(t1->sha256_hex)->principal(), "alice");
  EXPECT_FALSE((*store)->FindByTokenHash(t2->sha256_hex).has_value());

  // A new token appears after a reload.
  v1::Identity* b = file.add_identities();
  b->set_principal("bob");
  b->set_role(v1::ROLE_REFERRER);
  b->set_token_sha256(t2->sha256_hex);
  ASSERT_TRUE(WriteIdentityFile(path, file).ok());
  ASSERT_TRUE((*store)->ReloadIfChanged().ok());
  EXPECT_TRUE((*store)->FindByTokenHash(t2->sha256_hex).has_value());

  // A broken edit is reported and the previous identities stay.
  { std::ofstream(path) << "identities { principal: "; }
  EXPECT_FALSE((*store)->ReloadIfChanged().ok());
  EXPECT_TRUE((*store)->FindByTokenHash(t2->sha256_hex).has_value());

  // Disabling revokes.
  b->set_disabled(true);
  ASSERT_TRUE(WriteIdentityFile(path, file).ok());
  ASSERT_TRUE((*store)->ReloadIfChanged().ok());
  EXPECT_FALSE((*store)->FindByTokenHash(t2->sha256_hex).has_value());
  EXPECT_TRUE((*store)->FindByTokenHash(t1->sha256_hex).has_value());
}

TEST(IdentityStoreTest, MissingFileIsAnError) {
  absl::StatusOr<std::unique_ptr<IdentityStore>> store =
      IdentityStore::Open("/nonexistent/tokens.txtpb");
  EXPECT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("/nonexistent/tokens.txtpb"));
}

TEST(IdentityStoreTest, InMemoryIdentitiesMayNotClash) {
  auto store = IdentityStore::FromProto(v1::IdentityFile());
  v1::Identity id;
  id.set_principal("frontdoor-server");
  id.set_role(v1::ROLE_SERVICE);
  id.set_token_sha256(kHash);
  ASSERT_TRUE(store->AddInMemory(id).ok());
  EXPECT_TRUE(store->FindByTokenHash(kHash).has_value());
  EXPECT_EQ(store->size(), 1);
  EXPECT_FALSE(store->AddInMemory(id).ok());
}

}  // namespace
}  // namespace frontdoor::auth
