#include "services/auth/permissions.h"

#include <map>
#include <set>

#include "frontdoor/v1/admin_service.grpc.pb.h"
#include "frontdoor/v1/audit.grpc.pb.h"
#include "frontdoor/v1/auth.grpc.pb.h"
#include "frontdoor/v1/directory_service.grpc.pb.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "frontdoor/v1/rule_set_service.grpc.pb.h"
#include "frontdoor/v1/triage_service.grpc.pb.h"
#include "gtest/gtest.h"

namespace frontdoor::auth {
namespace {

using R = v1::Role;

// Every service of every API file (a message of each file is named so that
// its descriptors are linked in). A new file in protos/ must be added here.
std::vector<std::string> AllServices() {
  const google::protobuf::FileDescriptor* files[] = {
      v1::GetReferralRequest::descriptor()->file(),
      v1::TriageRequest::descriptor()->file(),
      v1::ListServicesRequest::descriptor()->file(),
      v1::BackupRequest::descriptor()->file(),
      v1::ListRuleSetVersionsRequest::descriptor()->file(),
      v1::WhoAmIRequest::descriptor()->file(),
      v1::QueryAuditRequest::descriptor()->file(),
  };
  std::vector<std::string> names;
  for (const google::protobuf::FileDescriptor* f : files)
    for (int i = 0; i < f->service_count(); ++i)
      names.push_back(f->service(i)->full_name());
  return names;
}

TEST(PermissionsTest, EveryMethodOfEveryServiceIsDeclared) {
  EXPECT_EQ(AllServices().size(), 7u);
  EXPECT_TRUE(CheckDeclared(AllServices()).ok()) << CheckDeclared(AllServices());
}

TEST(PermissionsTest, AnUndeclaredMethodIsNamed) {
  absl::Status st = CheckDeclared({"frontdoor.v1.NoSuchService"});
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PermissionFor("/frontdoor.v1.ReferralService/DropTable"),
            std::nullopt);
}

// The intended policy, written out independently of permissions.cc: for
// each method, the roles that may call it.
const std::map<std::string, std::set<R>>& Expected() {
  const std::set<R> reader = {R::ROLE_REFERRER, R::ROLE_CALL_HANDLER,
                              R::ROLE_CLINICIAN, R::ROLE_SERVICE_MANAGER};
  const std::set<R> worker = {R::ROLE_CALL_HANDLER, R::ROLE_CLINICIAN,
                              R::ROLE_SERVICE_MANAGER};
  const std::set<R> triage = {R::ROLE_SERVICE, R::ROLE_CALL_HANDLER,
                              R::ROLE_CLINICIAN, R::ROLE_RULE_AUTHOR,
                              R::ROLE_SAFETY_OFFICER};
  const std::set<R> directory = {
      R::ROLE_SERVICE,        R::ROLE_REFERRER,        R::ROLE_CALL_HANDLER,
      R::ROLE_CLINICIAN,      R::ROLE_SERVICE_MANAGER, R::ROLE_RULE_AUTHOR,
      R::ROLE_SAFETY_OFFICER};
  const std::set<R> rules_read = {
      R::ROLE_SERVICE,        R::ROLE_CALL_HANDLER,    R::ROLE_CLINICIAN,
      R::ROLE_RULE_AUTHOR,    R::ROLE_SAFETY_OFFICER,  R::ROLE_SERVICE_MANAGER,
      R::ROLE_AUDITOR,        R::ROLE_ADMIN};
  std::set<R> everyone;
  for (int r = v1::Role_MIN + 1; r <= v1::Role_MAX; ++r)
    everyone.insert(static_cast<R>(r));
  static const auto* expected = new std::map<std::string, std::set<R>>{
      {"/frontdoor.v1.AuthService/WhoAmI", everyone},
      {"/frontdoor.v1.ReferralService/SubmitReferral",
       {R::ROLE_REFERRER, R::ROLE_CALL_HANDLER, R::ROLE_CLINICIAN}},
      {"/frontdoor.v1.ReferralService/GetReferral", reader},
      {"/frontdoor.v1.ReferralService/ListReferrals", reader},
      {"/frontdoor.v1.ReferralService/ListReferralEvents", reader},
      {"/frontdoor.v1.ReferralService/TransitionReferral", worker},
      {"/frontdoor.v1.ReferralService/OverrideTriage", {R::ROLE_CLINICIAN}},
      {"/frontdoor.v1.ReferralService/GetWorklist", worker},
      {"/frontdoor.v1.ReferralService/WatchWorklist", worker},
      {"/frontdoor.v1.TriageService/Triage", triage},
      {"/frontdoor.v1.TriageService/TriageBatch", triage},
      {"/frontdoor.v1.TriageService/Explain", triage},
      {"/frontdoor.v1.TriageService/GetRuleSetInfo", rules_read},
      {"/frontdoor.v1.DirectoryService/ListServices", directory},
      {"/frontdoor.v1.DirectoryService/GetService", directory},
      {"/frontdoor.v1.DirectoryService/MatchService", directory},
      {"/frontdoor.v1.DirectoryService/SetCapacity",
       {R::ROLE_SERVICE_MANAGER}},
      {"/frontdoor.v1.AdminService/Backup", {R::ROLE_ADMIN}},
      {"/frontdoor.v1.RuleSetService/ListVersions", rules_read},
      {"/frontdoor.v1.RuleSetService/GetVersion", rules_read},
      {"/frontdoor.v1.RuleSetService/GetActive", rules_read},
      {"/frontdoor.v1.RuleSetService/Validate", rules_read},
      {"/frontdoor.v1.RuleSetService/Diff", rules_read},
      {"/frontdoor.v1.RuleSetService/GetShadowReport", rules_read},
      {"/frontdoor.v1.RuleSetService/Propose",
       {R::ROLE_RULE_AUTHOR, R::ROLE_SAFETY_OFFICER}},
      {"/frontdoor.v1.RuleSetService/SetShadow",
       {R::ROLE_RULE_AUTHOR, R::ROLE_SAFETY_OFFICER}},
      {"/frontdoor.v1.RuleSetService/Approve", {R::ROLE_SAFETY_OFFICER}},
      {"/frontdoor.v1.RuleSetService/Activate", {R::ROLE_SAFETY_OFFICER}},
      {"/frontdoor.v1.RuleSetService/Rollback", {R::ROLE_SAFETY_OFFICER}},
      {"/frontdoor.v1.RuleSetService/Replay",
       {R::ROLE_RULE_AUTHOR, R::ROLE_SAFETY_OFFICER}},
      {"/frontdoor.v1.AuditService/Query", {R::ROLE_AUDITOR}},
      {"/frontdoor.v1.AuditService/Verify", {R::ROLE_AUDITOR}},
  };
  return *expected;
}

TEST(PermissionsTest, RoleMatrixIsThePolicy) {
  for (const std::string& method : DeclaredMethods()) {
    std::optional<Permission> p = PermissionFor(method);
    ASSERT_TRUE(p.has_value()) << method;
    if (*p == Permission::kPublic) continue;
    auto it = Expected().find(method);
    ASSERT_NE(it, Expected().end()) << "no expectation for " << method;
    for (int r = v1::Role_MIN; r <= v1::Role_MAX; ++r) {
      const auto role = static_cast<R>(r);
      EXPECT_EQ(RoleHas(role, *p), it->second.count(role) > 0)
          << method << " for " << v1::Role_Name(role);
    }
  }
  EXPECT_EQ(Expected().size() + 3, DeclaredMethods().size());
}

TEST(PermissionsTest, AdminsAndAuditorsNeverReadPatientData) {
  for (const std::string& method : DeclaredMethods()) {
    if (!TouchesPatientData(method)) continue;
    std::optional<Permission> p = PermissionFor(method);
    EXPECT_FALSE(RoleHas(R::ROLE_ADMIN, *p)) << method;
    EXPECT_FALSE(RoleHas(R::ROLE_AUDITOR, *p)) << method;
    EXPECT_FALSE(RoleHas(R::ROLE_SERVICE, *p)) << method;
  }
}

TEST(PermissionsTest, OnlyReferrersAreLimitedToTheirOwnReferrals) {
  EXPECT_TRUE(SeesOnlyOwnReferrals(R::ROLE_REFERRER));
  EXPECT_FALSE(SeesOnlyOwnReferrals(R::ROLE_CLINICIAN));
  EXPECT_FALSE(SeesOnlyOwnReferrals(R::ROLE_CALL_HANDLER));
}

}  // namespace
}  // namespace frontdoor::auth
