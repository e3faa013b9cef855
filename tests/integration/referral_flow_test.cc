// The referral service end to end in one process: a real frontdoor server
// (all roles, real RocksDB in a temporary directory, real gRPC on a loopback
// port) driven through its public API.

#include <deque>
#include <filesystem>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "frontdoor/v1/audit.grpc.pb.h"
#include "frontdoor/v1/directory_service.grpc.pb.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "services/auth/test_identities.h"
#include "services/common/clock.h"
#include "services/common/proto_time.h"
#include "services/common/reference.h"
#include "services/referral/referral_service.h"
#include "services/server/server.h"

namespace frontdoor {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// 2026-01-15 10:00 UTC (GMT): a Thursday morning, UCR open.
const absl::Time kStart = absl::FromUnixSeconds(1768471200);

class TempDir {
 public:
  TempDir() {
    static int n = 0;
    path_ = fs::temp_directory_path() / absl::StrCat("frontdoor_flow_", getpid(), "_", n++);
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

const frontdoor::testing::TestIdentities& Ids() {
  return frontdoor::testing::TestIdentities::Shared();
}

class ReferralFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_ = std::make_unique<FakeClock>(kStart);
    server::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.http_listen = "";
    options.data_dir = (fs::path(dir_.path()) / "data").string();
    options.clock = clock_.get();
    options.tokens_file = Ids().file();
    auto s = server::FrontdoorServer::Start(options);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    // A clinician works the referrals; a service manager sets capacity.
    channel_ = Ids().Channel(server_->grpc_address(), v1::ROLE_CLINICIAN);
    referrals_ = v1::ReferralService::NewStub(channel_);
    directory_ = v1::DirectoryService::NewStub(
        Ids().Channel(server_->grpc_address(), v1::ROLE_SERVICE_MANAGER));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  static v1::Referral Adult(v1::PresentingProblem problem) {
    v1::Referral r;
    r.mutable_patient()->set_nhs_number("9434765919");
    auto* dob = r.mutable_patient()->mutable_date_of_birth();
    dob->set_year(1948);
    dob->set_month(5);
    dob->set_day(1);
    r.mutable_patient()->set_postcode_district("LS6");
    r.mutable_patient()->set_contact_phone("07700900123");
    r.mutable_patient()->set_sex(v1::SEX_FEMALE);
    r.mutable_referrer()->set_type(v1::REFERRER_TYPE_GP);
    r.mutable_referrer()->set_contact_phone("01130000000");
    r.set_problem(problem);
    return r;
  }

  // NEWS2 of 7: RR 26 (3) + SpO2 95 on air (1) + SBP 105 (1) + pulse 115 (2).
  static v1::Referral News2Of7() {
    v1::Referral r = Adult(v1::PRESENTING_PROBLEM_ACUTE_DETERIORATION);
    auto* o = r.mutable_observations();
    o->set_respiratory_rate(26);
    o->set_spo2_percent(95);
    o->set_spo2_scale(v1::SP_O2_SCALE_SCALE_1);
    o->set_on_supplemental_oxygen(false);
    o->set_systolic_bp(105);
    o->set_pulse(115);
    o->set_consciousness(v1::CONSCIOUSNESS_ALERT);
    o->set_temperature_celsius(37.0);
    return r;
  }

  static v1::Referral NormalObs(v1::Referral r) {
    auto* o = r.mutable_observations();
    o->set_respiratory_rate(16);
    o->set_spo2_percent(97);
    o->set_spo2_scale(v1::SP_O2_SCALE_SCALE_1);
    o->set_on_supplemental_oxygen(false);
    o->set_systolic_bp(128);
    o->set_pulse(76);
    o->set_consciousness(v1::CONSCIOUSNESS_ALERT);
    o->set_temperature_celsius(36.8);
    return r;
  }

  grpc::Status Submit(const std::string& request_id, const v1::Referral& r,
                      v1::SubmitReferralResponse* resp) {
    grpc::ClientContext ctx;
    v1::SubmitReferralRequest req;
    req.set_request_id(request_id);
    req.set_submitted_by("gp-surgery-a");
    *req.mutable_referral() = r;
    return referrals_->SubmitReferral(&ctx, req, resp);
  }

  v1::ReferralRecord MustSubmit(const std::string& request_id, const v1::Referral& r) {
    v1::SubmitReferralResponse resp;
    grpc::Status s = Submit(request_id, r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.record();
  }

  grpc::Status Get(const std::string& id, v1::ReferralRecord* out) {
    grpc::ClientContext ctx;
    v1::GetReferralRequest req;
    req.set_id(id);
    return referrals_->GetReferral(&ctx, req, out);
  }

  grpc::Status Transition(v1::TransitionReferralRequest req, v1::ReferralRecord* out) {
    grpc::ClientContext ctx;
    return referrals_->TransitionReferral(&ctx, req, out);
  }

  v1::GetWorklistResponse Worklist(v1::Pathway p, const std::string& service = "",
                                   int page_size = 0, const std::string& token = "") {
    grpc::ClientContext ctx;
    v1::GetWorklistRequest req;
    req.set_pathway(p);
    req.set_service_id(service);
    req.set_page_size(page_size);
    req.set_page_token(token);
    v1::GetWorklistResponse resp;
    grpc::Status s = referrals_->GetWorklist(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  int CountAll() {
    grpc::ClientContext ctx;
    v1::ListReferralsRequest req;
    req.set_page_size(500);
    v1::ListReferralsResponse resp;
    EXPECT_TRUE(referrals_->ListReferrals(&ctx, req, &resp).ok());
    return resp.referrals_size();
  }

  TempDir dir_;
  std::unique_ptr<FakeClock> clock_;
  std::unique_ptr<server::FrontdoorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ReferralService::Stub> referrals_;
  std::unique_ptr<v1::DirectoryService::Stub> directory_;
};

TEST_F(ReferralFlowTest, News2Of7IsTriagedAcuteNowAndStored) {
  v1::ReferralRecord rec = MustSubmit("req-news2-7", News2Of7());
  EXPECT_TRUE(CanonicalReference(rec.id()).ok()) << rec.id();
  EXPECT_EQ(rec.status(), v1::REFERRAL_STATUS_TRIAGED);
  EXPECT_EQ(rec.pathway(), v1::PATHWAY_ACUTE);
  EXPECT_EQ(rec.urgency(), v1::URGENCY_IMMEDIATE);
  EXPECT_EQ(rec.decision().rule_set_name(), "community-spa");
  EXPECT_EQ(rec.decision().rule_set_version().size(), 64u);
  EXPECT_FALSE(rec.service().service_id().empty()) << "never without a service";
  EXPECT_EQ(FromProtoTime(rec.received_at()), kStart);
  EXPECT_EQ(rec.version(), 1);
  // Readable back by its reference in any case, with or without hyphens.
  v1::ReferralRecord got;
  std::string lower = absl::AsciiStrToLower(rec.id());
  lower.erase(std::remove(lower.begin(), lower.end(), '-'), lower.end());
  ASSERT_TRUE(Get(lower, &got).ok());
  EXPECT_EQ(got.id(), rec.id());
  EXPECT_EQ(got.decision().decisive_row(), rec.decision().decisive_row());
  grpc::ClientContext ctx;
  v1::ListReferralEventsRequest ereq;
  ereq.set_id(rec.id());
  v1::ListReferralEventsResponse events;
  ASSERT_TRUE(referrals_->ListReferralEvents(&ctx, ereq, &events).ok());
  ASSERT_EQ(events.events_size(), 2);
  EXPECT_EQ(events.events(0).type(), v1::EVENT_TYPE_SUBMITTED);
  EXPECT_EQ(events.events(1).type(), v1::EVENT_TYPE_TRIAGED);
  EXPECT_EQ(events.events(1).rule_set_version(), rec.decision().rule_set_version());
}

TEST_F(ReferralFlowTest, SubmissionIsIdempotent) {
  v1::ReferralRecord first = MustSubmit("req-1", News2Of7());
  v1::SubmitReferralResponse again;
  ASSERT_TRUE(Submit("req-1", News2Of7(), &again).ok());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.record().id(), first.id());
  v1::Referral different = News2Of7();
  different.mutable_observations()->set_pulse(80);
  v1::SubmitReferralResponse conflict;
  grpc::Status s = Submit("req-1", different, &conflict);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(s.error_message(), StartsWith("request_id"));
  EXPECT_EQ(CountAll(), 1);
}

TEST_F(ReferralFlowTest, BadInputNamesTheFieldAndStoresNothing) {
  struct Case {
    std::function<void(v1::Referral*)> mutate;
    const char* field;
  };
  std::vector<Case> cases = {
      {[](v1::Referral* r) { r->clear_problem(); }, "referral.problem"},
      {[](v1::Referral* r) { r->mutable_referrer()->clear_type(); }, "referral.referrer.type"},
      {[](v1::Referral* r) { r->mutable_observations()->set_spo2_percent(140); },
       "referral.observations.spo2_percent"},
      {[](v1::Referral* r) { r->mutable_observations()->set_pulse(-3); }, "referral.observations.pulse"},
      {[](v1::Referral* r) { r->mutable_observations()->set_temperature_celsius(99.5); },
       "referral.observations.temperature_celsius"},
      {[](v1::Referral* r) { r->set_free_text(std::string(50000, 'x')); }, "referral.free_text"},
  };
  int n = 0;
  for (const auto& c : cases) {
    v1::Referral r = News2Of7();
    c.mutate(&r);
    v1::SubmitReferralResponse resp;
    grpc::Status s = Submit(absl::StrCat("bad-", n++), r, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(s.error_message(), StartsWith(c.field));
  }
  v1::SubmitReferralResponse resp;
  EXPECT_EQ(Submit("", News2Of7(), &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CountAll(), 0);
}

TEST_F(ReferralFlowTest, OversizedMessageIsRefused) {
  v1::Referral r = News2Of7();
  r.set_free_text(std::string(10 << 20, 'x'));
  v1::SubmitReferralResponse resp;
  grpc::Status s = Submit("huge", r, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(CountAll(), 0);
}

TEST_F(ReferralFlowTest, TinyDeadlineFailsCleanly) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::microseconds(1));
  v1::SubmitReferralRequest req;
  req.set_request_id("deadline");
  req.set_submitted_by("gp-surgery-a");
  *req.mutable_referral() = News2Of7();
  v1::SubmitReferralResponse resp;
  grpc::Status s = referrals_->SubmitReferral(&ctx, req, &resp);
  // Almost always DEADLINE_EXCEEDED; either way the client cannot know
  // whether the referral was stored, which is what request ids are for.
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED || s.ok()) << s.error_message();
  // A retry with the same request id is safe: one referral at most.
  v1::SubmitReferralResponse retry;
  grpc::Status again = Submit("deadline", News2Of7(), &retry);
  ASSERT_TRUE(again.ok()) << again.error_code() << " " << again.error_message();
  EXPECT_EQ(CountAll(), 1);
}

TEST_F(ReferralFlowTest, LifecycleWithVersionsAndIllegalTransitions) {
  v1::ReferralRecord rec = MustSubmit("req-life", NormalObs(Adult(v1::PRESENTING_PROBLEM_FALL)));
  ASSERT_EQ(rec.status(), v1::REFERRAL_STATUS_TRIAGED);
  v1::TransitionReferralRequest accept;
  accept.set_id(rec.id());
  accept.set_actor("handler-1");
  accept.mutable_accept();
  accept.set_expected_version(rec.version() + 7);
  v1::ReferralRecord out;
  EXPECT_EQ(Transition(accept, &out).error_code(), grpc::StatusCode::ABORTED);
  accept.set_expected_version(rec.version());
  ASSERT_TRUE(Transition(accept, &out).ok());
  EXPECT_EQ(out.status(), v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_EQ(out.version(), rec.version() + 1);
  v1::TransitionReferralRequest reject;
  reject.set_id(rec.id());
  reject.set_expected_version(out.version());
  reject.mutable_reject()->set_reason("not ours");
  EXPECT_EQ(Transition(reject, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::TransitionReferralRequest close;
  close.set_id(rec.id());
  close.set_expected_version(rec.version() + 1);
  close.mutable_close()->set_note("seen at home, no further action");
  ASSERT_TRUE(Transition(close, &out).ok());
  EXPECT_EQ(out.status(), v1::REFERRAL_STATUS_CLOSED);
  // Off every worklist once closed.
  // Held in a variable: a range-for over a temporary's field reads it after
  // the temporary is destroyed.
  const v1::GetWorklistResponse after_close = Worklist(rec.pathway());
  for (const auto& e : after_close.entries()) EXPECT_NE(e.id(), rec.id());
  // Unknown and malformed ids.
  v1::ReferralRecord none;
  EXPECT_EQ(Get(FormatReference(12345), &none).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status bad = Get("hello", &none);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), StartsWith("id"));
}

TEST_F(ReferralFlowTest, RedirectNeedsARealService) {
  v1::ReferralRecord rec = MustSubmit("req-redir", NormalObs(Adult(v1::PRESENTING_PROBLEM_FALL)));
  v1::TransitionReferralRequest t;
  t.set_id(rec.id());
  t.set_expected_version(rec.version());
  t.mutable_redirect()->set_service_id("no-such-service");
  t.mutable_redirect()->set_reason("wrong team");
  v1::ReferralRecord out;
  grpc::Status s = Transition(t, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), StartsWith("redirect.service_id"));
  // A real one from the directory.
  grpc::ClientContext ctx;
  v1::ListServicesRequest lreq;
  v1::ListServicesResponse services;
  ASSERT_TRUE(directory_->ListServices(&ctx, lreq, &services).ok());
  std::string target;
  for (const auto& st : services.services()) {
    if (st.service().id() != rec.service().service_id() && !st.service().catch_all()) {
      target = st.service().id();
      break;
    }
  }
  ASSERT_FALSE(target.empty());
  t.mutable_redirect()->set_service_id(target);
  ASSERT_TRUE(Transition(t, &out).ok());
  EXPECT_EQ(out.status(), v1::REFERRAL_STATUS_REDIRECTED);
  EXPECT_EQ(out.service().service_id(), target);
  auto wl = Worklist(v1::PATHWAY_UNSPECIFIED, target);
  ASSERT_EQ(wl.entries_size(), 1);
  EXPECT_EQ(wl.entries(0).id(), rec.id());
}

TEST_F(ReferralFlowTest, WorklistIsOrderedByDueTimeWithBoundPageTokens) {
  // Different urgencies on the clinical review pathway: missing observations.
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    v1::Referral r = Adult(v1::PRESENTING_PROBLEM_ACUTE_DETERIORATION);
    r.mutable_patient()->set_nhs_number(i % 2 ? "9434765919" : "4010232137");
    clock_->Advance(absl::Minutes(7));
    ids.push_back(MustSubmit(absl::StrCat("wl-", i), r).id());
  }
  v1::Pathway p;
  {
    v1::ReferralRecord rec;
    ASSERT_TRUE(Get(ids[0], &rec).ok());
    p = rec.pathway();
  }
  auto all = Worklist(p);
  ASSERT_GE(all.entries_size(), 5);
  for (int i = 1; i < all.entries_size(); ++i) {
    EXPECT_LE(all.entries(i - 1).due_at().seconds(), all.entries(i).due_at().seconds());
  }
  // Two pages of 3 give the same order.
  auto page1 = Worklist(p, "", 3);
  ASSERT_EQ(page1.entries_size(), 3);
  ASSERT_FALSE(page1.next_page_token().empty());
  auto page2 = Worklist(p, "", 3, page1.next_page_token());
  EXPECT_EQ(page2.entries(0).id(), all.entries(3).id());
  // A token from another query, and a forged one, are refused.
  grpc::ClientContext ctx;
  v1::GetWorklistRequest other;
  other.set_pathway(v1::PATHWAY_UCR);
  other.set_page_token(page1.next_page_token());
  v1::GetWorklistResponse resp;
  grpc::Status s = referrals_->GetWorklist(&ctx, other, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), StartsWith("page_token"));
  grpc::ClientContext ctx2;
  v1::GetWorklistRequest forged;
  forged.set_pathway(p);
  forged.set_page_token("Zm9yZ2VkLXRva2VuLXRoYXQtaXMtbG9uZw");
  EXPECT_EQ(referrals_->GetWorklist(&ctx2, forged, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Exactly one of pathway and service.
  grpc::ClientContext ctx3;
  v1::GetWorklistRequest neither;
  EXPECT_EQ(referrals_->GetWorklist(&ctx3, neither, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ReferralFlowTest, DuplicatesAreLinkedAndKeepTheHigherUrgency) {
  v1::ReferralRecord routine = MustSubmit("dup-1", NormalObs(Adult(v1::PRESENTING_PROBLEM_ACUTE_DETERIORATION)));
  clock_->Advance(absl::Hours(3));
  v1::Referral sicker = Adult(v1::PRESENTING_PROBLEM_ACUTE_DETERIORATION);
  *sicker.mutable_observations() = News2Of7().observations();
  v1::ReferralRecord urgent = MustSubmit("dup-2", sicker);
  EXPECT_THAT(urgent.linked_referrals(), ::testing::ElementsAre(routine.id()));
  v1::ReferralRecord first;
  ASSERT_TRUE(Get(routine.id(), &first).ok());
  EXPECT_THAT(first.linked_referrals(), ::testing::ElementsAre(urgent.id()));
  EXPECT_EQ(first.urgency(), urgent.urgency());
  // A different problem is not a duplicate.
  v1::ReferralRecord other = MustSubmit("dup-3", NormalObs(Adult(v1::PRESENTING_PROBLEM_WOUND_CARE)));
  EXPECT_EQ(other.linked_referrals_size(), 0);
}

TEST_F(ReferralFlowTest, SlaWarningsAndBreachFollowTheClock) {
  v1::ReferralRecord rec = MustSubmit("sla", NormalObs(Adult(v1::PRESENTING_PROBLEM_FALL)));
  ASSERT_TRUE(rec.has_due_at());
  const absl::Duration target = FromProtoTime(rec.due_at()) - FromProtoTime(rec.received_at());
  ASSERT_GT(target, absl::ZeroDuration());
  referral::ReferralServiceImpl* svc = server_->referral_service();
  ASSERT_NE(svc, nullptr);
  clock_->Advance(target * 0.75);
  ASSERT_TRUE(svc->SweepOnce().ok());
  v1::ReferralRecord got;
  ASSERT_TRUE(Get(rec.id(), &got).ok());
  EXPECT_EQ(got.sla(), v1::SLA_STATE_WARNING_70);
  EXPECT_EQ(got.version(), rec.version()) << "the sweeper does not bump versions";
  clock_->Advance(target * 0.3);
  ASSERT_TRUE(svc->SweepOnce().ok());
  ASSERT_TRUE(Get(rec.id(), &got).ok());
  EXPECT_EQ(got.sla(), v1::SLA_STATE_BREACHED);
  grpc::ClientContext ctx;
  v1::ListReferralsRequest breached;
  breached.set_breached_only(true);
  v1::ListReferralsResponse list;
  ASSERT_TRUE(referrals_->ListReferrals(&ctx, breached, &list).ok());
  ASSERT_EQ(list.referrals_size(), 1);
  EXPECT_EQ(list.referrals(0).id(), rec.id());
}

// A read shows the SLA state at the time of reading, whether or not the
// sweeper has stored it yet; otherwise it shows the record as stored.
TEST_F(ReferralFlowTest, ReadsShowTheSlaStateAtTheTimeOfReading) {
  v1::ReferralRecord rec =
      MustSubmit("sla-read", NormalObs(Adult(v1::PRESENTING_PROBLEM_FALL)));
  ASSERT_TRUE(rec.has_due_at());
  ASSERT_EQ(rec.sla(), v1::SLA_STATE_ON_TRACK);
  const absl::Time received = FromProtoTime(rec.received_at());
  const absl::Duration target = FromProtoTime(rec.due_at()) - received;
  v1::ReferralRecord got;
  ASSERT_TRUE(Get(rec.id(), &got).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got, rec))
      << got.ShortDebugString();

  // Past 70% of the target, no sweep: the stored state is stale.
  clock_->Advance(target * 0.75);
  ASSERT_TRUE(Get(rec.id(), &got).ok());
  EXPECT_EQ(got.sla(), v1::SLA_STATE_WARNING_70);
  EXPECT_EQ(FromProtoTime(got.next_sla_check()), received + target * 0.9);
  v1::ReferralRecord rest = got;
  rest.clear_sla();
  rest.clear_next_sla_check();
  v1::ReferralRecord expected = rec;
  expected.clear_sla();
  expected.clear_next_sla_check();
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(rest, expected));

  clock_->Advance(target * 0.3);
  ASSERT_TRUE(Get(rec.id(), &got).ok());
  EXPECT_EQ(got.sla(), v1::SLA_STATE_BREACHED);
  EXPECT_FALSE(got.has_next_sla_check());
}

// GetReferral reads its request itself: bytes that are not a
// GetReferralRequest are refused, and the server goes on serving.
TEST_F(ReferralFlowTest, AnUnparsableGetReferralRequestIsRefused) {
  v1::ReferralRecord rec = MustSubmit("raw-get", News2Of7());
  grpc::GenericStub stub(
      Ids().Channel(server_->grpc_address(), v1::ROLE_CLINICIAN));
  const std::string junk =
      "\x0a\xff\xff\xff";  // field 1, a length past the end
  grpc::Slice slice(junk.data(), junk.size());
  grpc::ByteBuffer request(&slice, 1), reply;
  grpc::ClientContext ctx;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/frontdoor.v1.ReferralService/GetReferral",
                 grpc::StubOptions(), &request, &reply, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("request"));
  v1::ReferralRecord got;
  ASSERT_TRUE(Get(rec.id(), &got).ok());
}

TEST_F(ReferralFlowTest, OverrideNeedsAReasonAndRecordsLowering) {
  v1::ReferralRecord rec = MustSubmit("ovr", News2Of7());
  grpc::ClientContext ctx;
  v1::OverrideTriageRequest o;
  o.set_id(rec.id());
  o.set_expected_version(rec.version());
  o.set_clinician("dr-khan");
  o.set_pathway(v1::PATHWAY_UCR);
  o.set_urgency(v1::URGENCY_WITHIN_2H);
  v1::ReferralRecord out;
  grpc::Status s = referrals_->OverrideTriage(&ctx, o, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), StartsWith("reason"));
  grpc::ClientContext ctx2;
  o.set_reason("paramedic on scene: obs repeated, NEWS2 now 2");
  ASSERT_TRUE(referrals_->OverrideTriage(&ctx2, o, &out).ok());
  EXPECT_TRUE(out.overridden());
  EXPECT_EQ(out.urgency(), v1::URGENCY_WITHIN_2H);
  grpc::ClientContext ctx3;
  v1::ListReferralEventsRequest ereq;
  ereq.set_id(rec.id());
  v1::ListReferralEventsResponse events;
  ASSERT_TRUE(referrals_->ListReferralEvents(&ctx3, ereq, &events).ok());
  EXPECT_TRUE(events.events(events.events_size() - 1).safety_critical_lowered());
}

TEST_F(ReferralFlowTest, WatchWorklistStreamsSnapshotThenChanges) {
  v1::ReferralRecord first = MustSubmit("watch-1", NormalObs(Adult(v1::PRESENTING_PROBLEM_FALL)));
  grpc::ClientContext ctx;
  v1::WatchWorklistRequest req;
  req.set_pathway(first.pathway());
  auto reader = referrals_->WatchWorklist(&ctx, req);
  v1::WorklistUpdate update;
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.kind(), v1::WorklistUpdate::KIND_SNAPSHOT);
  ASSERT_EQ(update.entries_size(), 1);
  EXPECT_EQ(update.entries(0).id(), first.id());
  v1::Referral second = NormalObs(Adult(v1::PRESENTING_PROBLEM_FALL));
  second.mutable_patient()->set_nhs_number("4010232137");
  v1::ReferralRecord rec2 = MustSubmit("watch-2", second);
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.kind(), v1::WorklistUpdate::KIND_UPSERT);
  EXPECT_EQ(update.entries(0).id(), rec2.id());
  v1::TransitionReferralRequest cancel;
  cancel.set_id(first.id());
  cancel.set_expected_version(first.version());
  cancel.mutable_cancel()->set_reason("patient admitted elsewhere");
  v1::ReferralRecord out;
  ASSERT_TRUE(Transition(cancel, &out).ok());
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.kind(), v1::WorklistUpdate::KIND_REMOVED);
  EXPECT_EQ(update.entries(0).id(), first.id());
  ctx.TryCancel();
}

TEST_F(ReferralFlowTest, EverythingSurvivesARestart) {
  v1::ReferralRecord rec = MustSubmit("restart", News2Of7());
  server_->Shutdown();
  server_.reset();
  SetUp();
  v1::ReferralRecord got;
  ASSERT_TRUE(Get(rec.id(), &got).ok());
  EXPECT_EQ(got.decision().rule_set_version(), rec.decision().rule_set_version());
  v1::SubmitReferralResponse again;
  ASSERT_TRUE(Submit("restart", News2Of7(), &again).ok());
  EXPECT_TRUE(again.replayed());
}

// Every call that reads or writes patient data leaves exactly the audit
// entries it should, found by its request id: who, role, action, referral,
// NHS number and outcome; refused calls too. The chain verifies.
TEST_F(ReferralFlowTest, EveryPatientDataCallIsAudited) {
  auto call = [&](const std::string& request_id, auto&& rpc) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-request-id", request_id);
    return rpc(&ctx);
  };
  v1::SubmitReferralRequest submit;
  submit.set_request_id("audit-submit");
  *submit.mutable_referral() = News2Of7();
  v1::SubmitReferralResponse submitted;
  ASSERT_TRUE(call("rq-submit", [&](grpc::ClientContext* c) {
                return referrals_->SubmitReferral(c, submit, &submitted);
              }).ok());
  const std::string id = submitted.record().id();
  const std::string nhs = News2Of7().patient().nhs_number();
  v1::GetReferralRequest get;
  get.set_id(id);
  v1::ReferralRecord got;
  ASSERT_TRUE(call("rq-get", [&](grpc::ClientContext* c) {
                return referrals_->GetReferral(c, get, &got);
              }).ok());
  v1::ListReferralEventsRequest events;
  events.set_id(id);
  v1::ListReferralEventsResponse evs;
  // A gRPC caller cannot pass itself off as the HTTP gateway.
  ASSERT_TRUE(call("rq-events", [&](grpc::ClientContext* c) {
                c->AddMetadata("x-frontdoor-channel", "http");
                c->AddMetadata("x-frontdoor-gateway", "a-guess");
                return referrals_->ListReferralEvents(c, events, &evs);
              }).ok());
  v1::ListReferralsRequest list;
  list.set_nhs_number(nhs);
  v1::ListReferralsResponse listed;
  ASSERT_TRUE(call("rq-list", [&](grpc::ClientContext* c) {
                return referrals_->ListReferrals(c, list, &listed);
              }).ok());
  v1::TransitionReferralRequest accept;
  accept.set_id(id);
  accept.set_expected_version(got.version());
  accept.mutable_accept();
  v1::ReferralRecord accepted;
  ASSERT_TRUE(call("rq-accept", [&](grpc::ClientContext* c) {
                return referrals_->TransitionReferral(c, accept, &accepted);
              }).ok());
  auto referrer = v1::ReferralService::NewStub(
      Ids().Channel(server_->grpc_address(), v1::ROLE_REFERRER));
  EXPECT_EQ(call("rq-denied", [&](grpc::ClientContext* c) {
              return referrer->GetReferral(c, get, &got);
            }).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  auto audit = v1::AuditService::NewStub(
      Ids().Channel(server_->grpc_address(), v1::ROLE_AUDITOR));
  grpc::ClientContext q;
  v1::QueryAuditRequest by_referral;
  by_referral.set_referral_id(id);
  by_referral.set_page_size(1000);
  v1::QueryAuditResponse trail;
  ASSERT_TRUE(audit->Query(&q, by_referral, &trail).ok());
  std::map<std::string, std::vector<v1::AuditEntry>> by_request;
  for (const v1::AuditEntry& e : trail.entries()) by_request[e.request_id()].push_back(e);
  struct Want {
    std::string request_id, action, principal, outcome;
  } wants[] = {
      {"rq-submit", "SubmitReferral", "test-clinician", "OK"},
      {"rq-get", "GetReferral", "test-clinician", "OK"},
      {"rq-events", "ListReferralEvents", "test-clinician", "OK"},
      {"rq-list", "ListReferrals", "test-clinician", "OK"},
      {"rq-accept", "TransitionReferral", "test-clinician", "OK"},
      {"rq-denied", "GetReferral", "test-referrer", "PERMISSION_DENIED"},
  };
  for (const Want& w : wants) {
    SCOPED_TRACE(w.request_id);
    ASSERT_EQ(by_request[w.request_id].size(), 1u);
    const v1::AuditEntry& e = by_request[w.request_id][0];
    EXPECT_EQ(e.action(), "/frontdoor.v1.ReferralService/" + w.action);
    EXPECT_EQ(e.principal(), w.principal);
    EXPECT_EQ(e.outcome(), w.outcome);
    EXPECT_EQ(e.referral_id(), id);
    EXPECT_EQ(e.nhs_number(), nhs);
    EXPECT_EQ(e.channel(), "grpc");
    EXPECT_EQ(e.hash().size(), 32u);
  }
  EXPECT_EQ(trail.entries_size(), 6);

  grpc::ClientContext v;
  v1::VerifyAuditResponse verdict;
  ASSERT_TRUE(audit->Verify(&v, v1::VerifyAuditRequest(), &verdict).ok());
  EXPECT_TRUE(verdict.ok()) << verdict.problem();
  EXPECT_GE(verdict.entries(), 6u);
}

// Referrers see their own referral, but neither another referrer's nor the
// links to other referrals of the same patient; and the answer for someone
// else's referral is the same as for one that does not exist.
TEST_F(ReferralFlowTest, ReferrersSeeOnlyTheirOwnReferralsAndNoLinks) {
  v1::ReferralRecord staff = MustSubmit("req-staff", News2Of7());
  auto as = [&](int n) {
    return v1::ReferralService::NewStub(
        Ids().Channel(server_->grpc_address(), v1::ROLE_REFERRER, n));
  };
  auto a = as(1);
  grpc::ClientContext c1;
  v1::SubmitReferralRequest req;
  req.set_request_id("req-referrer-a");
  *req.mutable_referral() = News2Of7();  // same patient and problem: linked
  v1::SubmitReferralResponse mine;
  ASSERT_TRUE(a->SubmitReferral(&c1, req, &mine).ok());
  EXPECT_EQ(mine.record().submitted_by(), "test-referrer");
  EXPECT_THAT(mine.record().linked_referrals(), ::testing::IsEmpty());
  v1::ReferralRecord staff_view;
  ASSERT_TRUE(Get(mine.record().id(), &staff_view).ok());
  EXPECT_THAT(staff_view.linked_referrals(), ::testing::Contains(staff.id()));

  auto get = [](v1::ReferralService::Stub* stub, const std::string& id,
                v1::ReferralRecord* out) {
    grpc::ClientContext ctx;
    v1::GetReferralRequest r;
    r.set_id(id);
    return stub->GetReferral(&ctx, r, out);
  };
  v1::ReferralRecord got;
  ASSERT_TRUE(get(a.get(), mine.record().id(), &got).ok());
  EXPECT_THAT(got.linked_referrals(), ::testing::IsEmpty());
  grpc::Status foreign = get(a.get(), staff.id(), &got);
  grpc::Status missing = get(a.get(), "0000-0000-000", &got);
  EXPECT_EQ(foreign.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  auto b = as(2);
  grpc::Status other = get(b.get(), mine.record().id(), &got);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  grpc::ClientContext c2;
  v1::ListReferralsRequest list;
  v1::ListReferralsResponse listed;
  ASSERT_TRUE(b->ListReferrals(&c2, list, &listed).ok());
  EXPECT_THAT(listed.referrals(), ::testing::IsEmpty());
  grpc::ClientContext c3;
  list.set_submitted_by("test-referrer");
  EXPECT_EQ(b->ListReferrals(&c3, list, &listed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// Triage in another process that is down: the referral is still taken,
// acknowledged as AWAITING_TRIAGE on the clinical review worklist, and
// triaged once triage is back.
TEST(ReferralNeverLost, AwaitingTriageUntilTriageReturns) {
  TempDir dir;
  FakeClock clock(kStart);
  // Find a free port by starting (and stopping) a triage-only server.
  std::string triage_address;
  {
    server::ServerOptions t;
    t.listen = "127.0.0.1:0";
    t.http_listen = "";
    t.roles = server::Roles{false, true, false};
    t.data_dir = (fs::path(dir.path()) / "unused").string();
    t.tokens_file = Ids().file();
    auto ts = server::FrontdoorServer::Start(t);
    ASSERT_TRUE(ts.ok()) << ts.status();
    triage_address = (*ts)->grpc_address();
    (*ts)->Shutdown();
  }
  server::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.http_listen = "";
  options.roles = server::Roles{true, false, true};
  options.triage_target = triage_address;
  options.data_dir = (fs::path(dir.path()) / "data").string();
  options.clock = &clock;
  // The roles run apart: the referral role calls triage with a service
  // identity both know.
  options.tokens_file = Ids().file();
  options.service_token = Ids().token(v1::ROLE_SERVICE);
  auto s = server::FrontdoorServer::Start(options);
  ASSERT_TRUE(s.ok()) << s.status();
  auto channel = Ids().Channel((*s)->grpc_address(), v1::ROLE_CLINICIAN);
  auto stub = v1::ReferralService::NewStub(channel);
  grpc::ClientContext ctx;
  v1::SubmitReferralRequest req;
  req.set_request_id("lost?");
  v1::Referral r;
  r.mutable_patient()->set_nhs_number("9434765919");
  r.mutable_referrer()->set_type(v1::REFERRER_TYPE_NHS_111);
  r.set_problem(v1::PRESENTING_PROBLEM_CHEST_PAIN);
  r.mutable_findings()->set_suspected_acs(true);
  r.mutable_findings()->set_chest_pain_timing(v1::CHEST_PAIN_TIMING_ONGOING);
  *req.mutable_referral() = r;
  v1::SubmitReferralResponse resp;
  ASSERT_TRUE(stub->SubmitReferral(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.record().status(), v1::REFERRAL_STATUS_AWAITING_TRIAGE);
  EXPECT_EQ(resp.record().pathway(), v1::PATHWAY_CLINICAL_REVIEW);
  // Triage comes back on its address.
  server::ServerOptions t;
  t.listen = triage_address;
  t.http_listen = "";
  t.roles = server::Roles{false, true, false};
  t.data_dir = (fs::path(dir.path()) / "unused2").string();
  t.tokens_file = Ids().file();
  auto triage = server::FrontdoorServer::Start(t);
  ASSERT_TRUE(triage.ok()) << triage.status();
  ASSERT_NE((*s)->referral_service(), nullptr);
  v1::ReferralRecord got;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE((*s)->referral_service()->SweepOnce().ok());
    grpc::ClientContext gctx;
    v1::GetReferralRequest g;
    g.set_id(resp.record().id());
    ASSERT_TRUE(stub->GetReferral(&gctx, g, &got).ok());
    if (got.status() == v1::REFERRAL_STATUS_TRIAGED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(got.status(), v1::REFERRAL_STATUS_TRIAGED);
  EXPECT_EQ(got.pathway(), v1::PATHWAY_ACUTE) << got.decision().decisive_row();
  EXPECT_EQ(got.urgency(), v1::URGENCY_IMMEDIATE);
  (*triage)->Shutdown();
  (*s)->Shutdown();
}

// References are 25 random bits a minute (TimeOrderedReference), so two
// referrals in one busy minute can draw the same one. The second is given
// a new one inside its write; the first, its events and its audit are
// untouched. If no free reference can be found the submission fails and
// nothing of it is stored, so it can be sent again.
TEST(ReferralReferences,
     AClashingReferenceIsDrawnAgainAndNothingIsOverwritten) {
  TempDir dir;
  FakeClock clock(kStart);
  absl::Mutex mu;
  std::deque<uint64_t> draws;  // then 1000, 1001, ... once these run out
  uint64_t next = 1000;
  server::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.http_listen = "";
  options.data_dir = (fs::path(dir.path()) / "data").string();
  options.clock = &clock;
  options.tokens_file = Ids().file();
  options.reference_random = [&]() -> uint64_t {
    absl::MutexLock lock(&mu);
    if (draws.empty()) return next++;
    uint64_t v = draws.front();
    draws.pop_front();
    return v;
  };
  auto s = server::FrontdoorServer::Start(options);
  ASSERT_TRUE(s.ok()) << s.status();
  auto stub = v1::ReferralService::NewStub(
      Ids().Channel((*s)->grpc_address(), v1::ROLE_CLINICIAN));
  auto submit = [&](const std::string& request_id,
                    v1::PresentingProblem problem,
                    v1::SubmitReferralResponse* resp) {
    grpc::ClientContext ctx;
    v1::SubmitReferralRequest req;
    req.set_request_id(request_id);
    v1::Referral r;
    r.mutable_patient()->set_nhs_number("9434765919");
    r.mutable_referrer()->set_type(v1::REFERRER_TYPE_GP);
    r.set_problem(problem);
    *req.mutable_referral() = r;
    return stub->SubmitReferral(&ctx, req, resp);
  };
  const std::string first_ref = TimeOrderedReference(kStart, 7);
  {
    absl::MutexLock lock(&mu);
    draws = {7};
  }
  v1::SubmitReferralResponse first;
  ASSERT_TRUE(submit("first", v1::PRESENTING_PROBLEM_FALL, &first).ok());
  ASSERT_EQ(first.record().id(), first_ref);

  // The second draws 7 (taken) three times, then 9.
  {
    absl::MutexLock lock(&mu);
    draws = {7, 7, 7, 9};
  }
  v1::SubmitReferralResponse second;
  ASSERT_TRUE(
      submit("second", v1::PRESENTING_PROBLEM_CHEST_PAIN, &second).ok());
  EXPECT_EQ(second.record().id(), TimeOrderedReference(kStart, 9));

  auto get = [&](const std::string& id, v1::ReferralRecord* out) {
    grpc::ClientContext ctx;
    v1::GetReferralRequest req;
    req.set_id(id);
    return stub->GetReferral(&ctx, req, out);
  };
  auto events_of = [&](const std::string& id) {
    grpc::ClientContext ctx;
    v1::ListReferralEventsRequest req;
    req.set_id(id);
    v1::ListReferralEventsResponse resp;
    EXPECT_TRUE(stub->ListReferralEvents(&ctx, req, &resp).ok());
    return resp;
  };
  v1::ReferralRecord got;
  ASSERT_TRUE(get(first_ref, &got).ok());
  EXPECT_EQ(got.request_id(), "first");
  EXPECT_EQ(got.referral().problem(), v1::PRESENTING_PROBLEM_FALL);
  for (const v1::ReferralRecord& rec : {first.record(), second.record()}) {
    v1::ListReferralEventsResponse ev = events_of(rec.id());
    ASSERT_GE(ev.events_size(), 2) << rec.id();
    for (const auto& e : ev.events()) EXPECT_EQ(e.referral_id(), rec.id());
  }

  // Every draw clashes: the submission fails, stores nothing, and the
  // same request goes through once references are free again.
  {
    absl::MutexLock lock(&mu);
    draws.assign(20, 7);
  }
  v1::SubmitReferralResponse third;
  grpc::Status failed =
      submit("third", v1::PRESENTING_PROBLEM_DIABETES, &third);
  EXPECT_EQ(failed.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(failed.error_message(), HasSubstr("reference"));
  {
    absl::MutexLock lock(&mu);
    draws.clear();
  }
  ASSERT_TRUE(get(first_ref, &got).ok());
  EXPECT_EQ(got.request_id(), "first");
  ASSERT_TRUE(submit("third", v1::PRESENTING_PROBLEM_DIABETES, &third).ok());
  EXPECT_FALSE(third.replayed());
  EXPECT_NE(third.record().id(), first_ref);

  // The first reference's audit trail holds one submission, the first's.
  auto audit = v1::AuditService::NewStub(
      Ids().Channel((*s)->grpc_address(), v1::ROLE_AUDITOR));
  grpc::ClientContext q;
  v1::QueryAuditRequest by_referral;
  by_referral.set_referral_id(first_ref);
  by_referral.set_page_size(1000);
  v1::QueryAuditResponse trail;
  ASSERT_TRUE(audit->Query(&q, by_referral, &trail).ok());
  int submissions = 0;
  for (const v1::AuditEntry& e : trail.entries()) {
    if (e.action() == "/frontdoor.v1.ReferralService/SubmitReferral") {
      ++submissions;
      EXPECT_EQ(e.outcome(), "OK");
    }
  }
  EXPECT_EQ(submissions, 1);
  (*s)->Shutdown();
}

}  // namespace
}  // namespace frontdoor
