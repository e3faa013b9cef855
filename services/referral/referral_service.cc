#include "services/referral/referral_service.h"

#include <deque>
#include <optional>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "services/common/grpc_status.h"
#include "services/common/records.h"
#include "services/common/proto_time.h"
#include "services/common/reference.h"
#include "services/referral/lifecycle.h"
#include "services/referral/page_token.h"
#include "services/referral/validation.h"

namespace frontdoor::referral {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr int kMaxScan = 20000;
constexpr int kSnapshotLimit = 1000;
constexpr size_t kMaxQueuedUpdates = 2000;

absl::Status PageSize(int requested, int* out) {
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", kMaxPageSize, " (0 means ", kDefaultPageSize, ")"));
  }
  *out = requested == 0 ? kDefaultPageSize : requested;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseId(const std::string& id, const std::string& field) {
  auto canonical = CanonicalReference(id);
  if (!canonical.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", canonical.status().message()));
  }
  return *canonical;
}

absl::Status NotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("referral ", id, " not found"));
}

// Age in days at `at`, or -1 when unknown; for service matching only (the
// rules compute their own age).
int AgeDays(const v1::Referral& r, absl::Time at) {
  const v1::Patient& p = r.patient();
  if (p.has_date_of_birth() && p.date_of_birth().year() > 0) {
    absl::CivilDay dob(p.date_of_birth().year(), p.date_of_birth().month(), p.date_of_birth().day());
    absl::CivilDay today = absl::ToCivilDay(at, absl::UTCTimeZone());
    return static_cast<int>(today - dob);
  }
  if (p.has_stated_age_years()) return static_cast<int>(p.stated_age_years() * 365.25);
  return -1;
}

v1::MatchServiceRequest MatchRequest(const v1::Referral& r, v1::Pathway pathway,
                                     v1::Urgency urgency, int target_minutes, absl::Time now) {
  v1::MatchServiceRequest m;
  m.set_pathway(pathway);
  m.set_urgency(urgency);
  m.set_target_minutes(target_minutes);
  m.set_age_days(AgeDays(r, now));
  m.set_sex(r.patient().sex());
  m.set_postcode_district(r.patient().postcode_district());
  *m.mutable_at() = ToProtoTime(now);
  return m;
}

// Makes a record whose decision and service are in place TRIAGED: its
// pathway, urgency and due time from the decision, and the TRIAGED event.
v1::ReferralEvent MarkTriaged(absl::Time now, v1::ReferralRecord* rec) {
  const v1::TriageDecision& d = rec->decision();
  rec->set_pathway(d.pathway());
  rec->set_urgency(d.urgency());
  if (d.target_minutes() >= 0) {
    *rec->mutable_due_at() =
        ToProtoTime(FromProtoTime(rec->received_at()) + absl::Minutes(d.target_minutes()));
  } else {
    rec->clear_due_at();
  }
  v1::ReferralEvent e = NewEvent(rec, v1::EVENT_TYPE_TRIAGED, now, "frontdoor");
  e.set_to_status(v1::REFERRAL_STATUS_TRIAGED);
  e.set_pathway(rec->pathway());
  e.set_urgency(rec->urgency());
  e.set_service_id(rec->service().service_id());
  e.set_rule_set_version(d.rule_set_version());
  rec->set_status(v1::REFERRAL_STATUS_TRIAGED);
  return e;
}

}  // namespace

// --- construction -------------------------------------------------------------

std::string ReferralServiceImpl::NewReference(absl::Time now) const {
  if (options_.reference_random) {
    return TimeOrderedReference(now, options_.reference_random());
  }
  thread_local absl::BitGen gen;
  return TimeOrderedReference(now, absl::Uniform<uint64_t>(gen));
}

ReferralServiceImpl::ReferralServiceImpl(storage::ReferralStore* store,
                                         std::unique_ptr<TriageClient> triage,
                                         std::unique_ptr<DirectoryClient> directory,
                                         Clock* clock, Metrics* metrics,
                                         const auth::Authorizer* authorizer, Options options)
    : store_(store),
      triage_(std::move(triage)),
      directory_(std::move(directory)),
      clock_(clock),
      metrics_(metrics),
      authorizer_(authorizer),
      options_(options) {
  SetMessageAllocatorFor_SubmitReferral(&submit_allocator_);
  if (metrics_ != nullptr) {
    metrics_->Declare("frontdoor_referrals_submitted_total", Metrics::Type::kCounter,
                      "Referrals stored, by pathway and status at submission",
                      {"pathway", "status"});
    metrics_->Declare("frontdoor_referral_transitions_total", Metrics::Type::kCounter,
                      "Lifecycle changes, by new status", {"status"});
    metrics_->Declare("frontdoor_sla_events_total", Metrics::Type::kCounter,
                      "SLA warnings and breaches marked by the sweeper, by pathway and state",
                      {"pathway", "state"});
    metrics_->Declare("frontdoor_worklist_watchers", Metrics::Type::kGauge,
                      "Open WatchWorklist streams", {});
    metrics_->AddCollector([this](Metrics& m) {
      m.Set("frontdoor_worklist_watchers", {}, hub_.subscribers());
    });
  }
}

ReferralServiceImpl::~ReferralServiceImpl() { StopBackground(); }

void ReferralServiceImpl::Commit(storage::ReferralStore::Mutation mutation,
                                 std::function<void(absl::Status)> done) {
  store_->Commit(std::move(mutation), std::move(done));
}

std::optional<auth::Principal> ReferralServiceImpl::Admit(grpc::CallbackServerContext* ctx,
                                                         grpc::ServerUnaryReactor* reactor,
                                                         absl::string_view method,
                                                         const std::string& referral_id) {
  auth::AuthResult r =
      authorizer_->Authorize(*ctx, absl::StrCat("/frontdoor.v1.ReferralService/", method));
  if (r.ok()) return std::move(r.principal);
  if (r.principal.authenticated()) {
    // Who tried to reach patient data they may not see is worth keeping.
    FinishAudited(reactor, {AuditOf(r.principal, method, referral_id, nullptr, r.status.code())},
                  r.status);
  } else {
    reactor->Finish(ToGrpcStatus(r.status));
  }
  return std::nullopt;
}

namespace {

// Referrers see their own referrals but not the links to other referrals of
// the same patient (another referrer's references would tell them that
// those exist).
void ScrubForCaller(const auth::Principal& who, v1::ReferralRecord* record) {
  if (auth::SeesOnlyOwnReferrals(who.role)) record->clear_linked_referrals();
}

}  // namespace

namespace {

// An audit entry for `who` calling `method` about `record` (a ReferralRecord
// or its view), or the id asked for when there is no record.
template <typename Record>
v1::AuditEntry AuditEntryAbout(const auth::Principal& who,
                               absl::string_view method, const std::string& id,
                               const Record* record, absl::StatusCode outcome) {
  v1::AuditEntry e =
      auth::AuditEntryFor(who, absl::StrCat("/frontdoor.v1.ReferralService/", method));
  if (record != nullptr) {
    e.set_referral_id(record->id());
    e.set_nhs_number(record->referral().patient().nhs_number());
  } else {
    // As asked for; kept short and free of control characters.
    std::string asked;
    for (char c : id.substr(0, 64)) asked.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    e.set_referral_id(asked);
  }
  e.set_outcome(absl::StatusCodeToString(outcome));
  return e;
}

}  // namespace

v1::AuditEntry ReferralServiceImpl::AuditOf(const auth::Principal& who,
                                            absl::string_view method,
                                            const std::string& id,
                                            const v1::ReferralRecord* record,
                                            absl::StatusCode outcome) {
  return AuditEntryAbout(who, method, id, record, outcome);
}

void ReferralServiceImpl::FinishAudited(grpc::ServerUnaryReactor* reactor,
                                        std::vector<v1::AuditEntry> entries,
                                        absl::Status status) {
  store_->Commit(
      [entries = std::move(entries)](storage::Txn& txn) mutable {
        for (v1::AuditEntry& e : entries) txn.AppendAudit(std::move(e));
        return absl::OkStatus();
      },
      [reactor, status = std::move(status)](absl::Status audited) {
        if (!audited.ok()) {
          reactor->Finish(ToGrpcStatus(absl::UnavailableError(absl::StrCat(
              "the audit trail could not be written, so nothing is returned: ",
              audited.message()))));
        } else {
          reactor->Finish(ToGrpcStatus(status));
        }
      });
}

absl::Status ReferralServiceImpl::CheckOwner(const auth::Principal& who, const std::string& id,
                                             const std::optional<v1::ReferralRecord>& record) {
  return CheckOwner(who, id,
                    record.has_value() ? &record->submitted_by() : nullptr);
}

absl::Status ReferralServiceImpl::CheckOwner(const auth::Principal& who,
                                             const std::string& id,
                                             const std::string* submitted_by) {
  if (!auth::SeesOnlyOwnReferrals(who.role)) return absl::OkStatus();
  if (submitted_by != nullptr && *submitted_by == who.name)
    return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("referral ", id,
                   ": not one of your referrals (or no such referral)"));
}

// --- SubmitReferral -------------------------------------------------------------

struct ReferralServiceImpl::SubmitCall {
  ReferralServiceImpl* svc;
  const v1::SubmitReferralRequest* req;
  v1::SubmitReferralResponse* resp;
  grpc::ServerUnaryReactor* reactor;
  absl::Time now;
  auth::Principal who;
  std::vector<std::string> warnings;
  std::string payload_hash;  // of the client's request (without received_at)

  // The record to store, built in the response before the commit, so that
  // the writer thread only looks up, links and writes it: the referral as
  // stored (received_at set by the server), then the decision and service
  // written in place by the peers, then its status, SLA and events.
  v1::ReferralRecord& rec = *resp->mutable_record();
  std::vector<v1::ReferralEvent> events;
  v1::MatchServiceRequest match_req;
  std::string awaiting_reason;  // empty once triaged and matched

  // Earlier referrals linked as duplicates (before, after), to publish
  // once durable.
  std::vector<std::pair<v1::ReferralRecord, v1::ReferralRecord>> linked;

  // Every peer call below may finish on the calling thread before it
  // returns (in-process peers): nothing touches `this` after starting one.
  void Start() {
    svc->triage_->Triage(rec.referral(), rec.mutable_decision(),
                         [this](absl::Status s) { OnTriaged(s); });
  }

  void OnTriaged(const absl::Status& s) {
    if (!s.ok()) {
      awaiting_reason = absl::StrCat("triage failed: ", s.message());
      Store();
      return;
    }
    const v1::TriageDecision& d = rec.decision();
    match_req = MatchRequest(rec.referral(), d.pathway(), d.urgency(), d.target_minutes(), now);
    svc->directory_->MatchService(match_req, rec.mutable_service(),
                                  [this](absl::Status s) { OnMatched(s); });
  }

  void OnMatched(const absl::Status& s) {
    if (!s.ok()) awaiting_reason = absl::StrCat("service matching failed: ", s.message());
    Store();
  }

  // Everything about the new record that needs no read of the store.
  void Build() {
    rec.set_id(svc->NewReference(now));
    *rec.mutable_received_at() = rec.referral().received_at();
    *rec.mutable_updated_at() = ToProtoTime(now);
    rec.set_request_id(req->request_id());
    rec.set_submitted_by(who.name);
    rec.set_version(1);
    rec.set_status(v1::REFERRAL_STATUS_RECEIVED);
    events.push_back(NewEvent(&rec, v1::EVENT_TYPE_SUBMITTED, now, who.name));
    if (awaiting_reason.empty()) {
      events.push_back(MarkTriaged(now, &rec));
    } else {
      rec.clear_decision();
      rec.clear_service();
      const Options& o = svc->options_;
      rec.set_pathway(o.awaiting_pathway);
      rec.set_urgency(o.awaiting_urgency);
      *rec.mutable_due_at() = ToProtoTime(now + absl::Minutes(o.awaiting_target_minutes));
      v1::ReferralEvent e = NewEvent(&rec, v1::EVENT_TYPE_AWAITING_TRIAGE, now, "frontdoor");
      e.set_to_status(v1::REFERRAL_STATUS_AWAITING_TRIAGE);
      e.set_reason(awaiting_reason);
      e.set_pathway(rec.pathway());
      e.set_urgency(rec.urgency());
      rec.set_status(v1::REFERRAL_STATUS_AWAITING_TRIAGE);
      rec.set_status_reason(awaiting_reason);
      events.push_back(std::move(e));
    }
    UpdateSla(now, &rec);
  }

  void Store() {
    Build();
    svc->Commit([this](storage::Txn& txn) { return Mutate(txn); },
                [this](absl::Status st) { Done(st); });
  }

  absl::Status Mutate(storage::Txn& txn) {
    auto idem = txn.GetIdempotency(req->request_id());
    if (!idem.ok()) return idem.status();
    if (idem->has_value()) {
      if ((*idem)->payload_hash != payload_hash) {
        return absl::AlreadyExistsError(
            "request_id: already used for a different referral; use a new request_id");
      }
      auto stored = txn.GetReferral((*idem)->referral_id);
      if (!stored.ok()) return stored.status();
      if (!stored->has_value()) return absl::InternalError("idempotency key without its referral");
      // The fingerprint covers the submitter, so a replay is always the
      // submitter's own; this is a second line of defence.
      if (absl::Status st = CheckOwner(who, (*idem)->referral_id, *stored); !st.ok()) return st;
      *resp->mutable_record() = **std::move(stored);
      resp->set_replayed(true);
      txn.AppendAudit(AuditOf(who, "SubmitReferral", "", &resp->record(), absl::StatusCode::kOk));
      return absl::OkStatus();
    }
    // A reference not in use: 25 random bits a minute (TimeOrderedReference)
    // can clash when thousands arrive in one minute.
    for (int attempt = 0;; ++attempt) {
      auto existing = txn.GetReferral(rec.id());
      if (!existing.ok()) return existing.status();
      if (!existing->has_value()) break;
      if (attempt > 8) return absl::InternalError("could not allocate a reference");
      rec.set_id(svc->NewReference(now));
      for (v1::ReferralEvent& e : events) e.set_referral_id(rec.id());
    }

    // Duplicates: the same patient and problem within the window.
    const v1::Referral& referral = rec.referral();
    const std::string& nhs = referral.patient().nhs_number();
    if (!nhs.empty()) {
      auto others = txn.FindByNhsNumber(nhs, now - svc->options_.duplicate_window);
      if (!others.ok()) return others.status();
      for (v1::ReferralRecord& other : *others) {
        if (other.id() == rec.id() || !IsActiveReferral(other.status()) ||
            other.referral().problem() != referral.problem()) {
          continue;
        }
        v1::ReferralRecord before = other;
        rec.add_linked_referrals(other.id());
        other.add_linked_referrals(rec.id());
        // The more urgent of the two is kept for both.
        if (other.urgency() > rec.urgency() && rec.urgency() != v1::URGENCY_UNSPECIFIED) {
          other.set_urgency(rec.urgency());
          if (rec.has_due_at() &&
              (!other.has_due_at() || rec.due_at().seconds() < other.due_at().seconds())) {
            *other.mutable_due_at() = rec.due_at();
          }
        } else if (rec.urgency() > other.urgency()) {
          rec.set_urgency(other.urgency());
          if (other.has_due_at() &&
              (!rec.has_due_at() || other.due_at().seconds() < rec.due_at().seconds())) {
            *rec.mutable_due_at() = other.due_at();
          }
        }
        v1::ReferralEvent oe = NewEvent(&other, v1::EVENT_TYPE_DUPLICATE_LINKED, now, "frontdoor");
        oe.set_linked_referral(rec.id());
        oe.set_urgency(other.urgency());
        other.set_version(other.version() + 1);
        *other.mutable_updated_at() = ToProtoTime(now);
        UpdateSla(now, &other);
        v1::ReferralEvent ne = NewEvent(&rec, v1::EVENT_TYPE_DUPLICATE_LINKED, now, "frontdoor");
        ne.set_linked_referral(other.id());
        ne.set_urgency(rec.urgency());
        events.push_back(ne);
        txn.PutReferral(other);
        txn.AppendEvent(oe);
        linked.emplace_back(std::move(before), std::move(other));
      }
      UpdateSla(now, &rec);
    }
    txn.PutReferral(rec);
    for (const auto& e : events) txn.AppendEvent(e);
    txn.PutIdempotency(req->request_id(), {payload_hash, rec.id()});
    txn.AppendAudit(AuditOf(who, "SubmitReferral", "", &rec, absl::StatusCode::kOk));
    return absl::OkStatus();
  }

  void Done(const absl::Status& st) {
    if (st.ok()) {
      for (const auto& w : warnings) resp->add_warnings(w);
      if (!resp->replayed()) {
        for (const auto& [before, after] : linked) svc->hub_.Publish(&before, after, now);
        svc->hub_.Publish(nullptr, resp->record(), now);
        if (svc->metrics_ != nullptr) {
          const auto& r = resp->record();
          svc->metrics_->Increment(
              "frontdoor_referrals_submitted_total",
              {v1::Pathway_Name(r.pathway()), v1::ReferralStatus_Name(r.status())});
        }
      }
      ScrubForCaller(who, resp->mutable_record());
    }
    reactor->Finish(ToGrpcStatus(st));
    delete this;
  }
};

grpc::ServerUnaryReactor* ReferralServiceImpl::SubmitReferral(
    grpc::CallbackServerContext* ctx, const v1::SubmitReferralRequest* request,
    v1::SubmitReferralResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "SubmitReferral");
  if (!who) return reactor;
  auto* call = new SubmitCall{this, request, response, reactor, clock_->Now(), *std::move(who)};
  absl::Status st = ValidateSubmission(*request, call->now, &call->warnings);
  if (!st.ok()) {
    delete call;
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  // The submitter is the authenticated caller; the fingerprint covers it,
  // so one caller's request_id can never replay another's referral.
  call->payload_hash = SubmissionFingerprint(*request, call->who.name);
  v1::Referral* referral = call->rec.mutable_referral();
  *referral = request->referral();
  *referral->mutable_received_at() = ToProtoTime(call->now);
  call->Start();
  return reactor;
}

// --- reads ----------------------------------------------------------------------

namespace {

// Whether the stored record, read as `*view`, is already exactly what `who`
// is to be shown at `now`: nothing to remove for them (ScrubForCaller) and
// its SLA state still the one UpdateSla gives. Brings `*view`'s SLA fields
// up to date in place to find out (the rest of it is not touched).
bool StoredRecordIsCurrent(const auth::Principal& who,
                           internal::ReferralRecordView* view, absl::Time now) {
  if (auth::SeesOnlyOwnReferrals(who.role) && view->linked_referrals_size() > 0)
    return false;
  const v1::SlaState stored_sla = view->sla();
  const bool stored_has_check = view->has_next_sla_check();
  const absl::Time stored_check = FromProtoTime(view->next_sla_check());
  UpdateSla(now, view);
  return view->sla() == stored_sla &&
         view->has_next_sla_check() == stored_has_check &&
         FromProtoTime(view->next_sla_check()) == stored_check;
}

}  // namespace

grpc::ServerUnaryReactor* ReferralServiceImpl::GetReferral(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response) {
  auto* reactor = ctx->DefaultReactor();
  v1::GetReferralRequest request;
  grpc::ByteBuffer request_copy(*request_bytes);  // shares the slices
  if (!grpc::GenericDeserialize<grpc::ProtoBufferReader,
                                v1::GetReferralRequest>(&request_copy, &request)
           .ok()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "request: not a GetReferralRequest"));
    return reactor;
  }
  std::optional<auth::Principal> who =
      Admit(ctx, reactor, "GetReferral", request.id());
  if (!who) return reactor;
  auto id = ParseId(request.id(), "id");
  if (!id.ok()) {
    reactor->Finish(ToGrpcStatus(id.status()));
    return reactor;
  }
  absl::StatusOr<std::optional<std::string>> stored =
      store_->GetReferralBytes(*id);
  if (!stored.ok()) {
    reactor->Finish(ToGrpcStatus(stored.status()));
    return reactor;
  }
  auto unparsable = [&] {
    reactor->Finish(ToGrpcStatus(absl::DataLossError(
        absl::StrCat("referral ", *id, ": the stored record does not parse"))));
    return reactor;
  };
  std::optional<internal::ReferralRecordView> view;
  if (stored->has_value()) {
    view.emplace();
    if (!view->ParseFromString(**stored)) return unparsable();
  }
  if (absl::Status st =
          CheckOwner(*who, *id, view ? &view->submitted_by() : nullptr);
      !st.ok()) {
    FinishAudited(reactor,
                  {AuditEntryAbout(*who, "GetReferral", *id,
                                   view ? &*view : nullptr, st.code())},
                  st);
    return reactor;
  }
  if (!view) {
    reactor->Finish(ToGrpcStatus(NotFound(*id)));
    return reactor;
  }
  const absl::Time now = clock_->Now();
  v1::AuditEntry audit =
      AuditEntryAbout(*who, "GetReferral", *id, &*view, absl::StatusCode::kOk);
  if (StoredRecordIsCurrent(*who, &*view, now)) {
    grpc::Slice slice((*stored)->data(), (*stored)->size());
    *response = grpc::ByteBuffer(&slice, 1);
  } else {
    // Brought up to date for this caller, as every other read does.
    v1::ReferralRecord record;
    if (!record.ParseFromString(**stored)) return unparsable();
    UpdateSla(now, &record);
    ScrubForCaller(*who, &record);
    bool own_buffer;
    grpc::Status serialized =
        grpc::GenericSerialize<grpc::ProtoBufferWriter, v1::ReferralRecord>(
            record, response, &own_buffer);
    if (!serialized.ok()) {
      reactor->Finish(serialized);
      return reactor;
    }
  }
  FinishAudited(reactor, {std::move(audit)}, absl::OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ListReferralEvents(
    grpc::CallbackServerContext* ctx, const v1::ListReferralEventsRequest* request,
    v1::ListReferralEventsResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "ListReferralEvents", request->id());
  if (!who) return reactor;
  auto id = ParseId(request->id(), "id");
  if (!id.ok()) {
    reactor->Finish(ToGrpcStatus(id.status()));
    return reactor;
  }
  auto rec = store_->GetReferral(*id);
  if (!rec.ok()) {
    reactor->Finish(ToGrpcStatus(rec.status()));
    return reactor;
  }
  if (absl::Status st = CheckOwner(*who, *id, *rec); !st.ok()) {
    const v1::ReferralRecord* found = rec->has_value() ? &**rec : nullptr;
    FinishAudited(reactor, {AuditOf(*who, "ListReferralEvents", *id, found, st.code())}, st);
    return reactor;
  }
  if (!rec->has_value()) {
    reactor->Finish(ToGrpcStatus(NotFound(*id)));
    return reactor;
  }
  auto events = store_->ListEvents(*id);
  if (!events.ok()) {
    reactor->Finish(ToGrpcStatus(events.status()));
    return reactor;
  }
  for (auto& e : *events) {
    if (auth::SeesOnlyOwnReferrals(who->role)) e.clear_linked_referral();
    *response->add_events() = std::move(e);
  }
  FinishAudited(reactor,
                {AuditOf(*who, "ListReferralEvents", *id, &**rec, absl::StatusCode::kOk)},
                absl::OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* ReferralServiceImpl::ListReferrals(
    grpc::CallbackServerContext* ctx, const v1::ListReferralsRequest* request,
    v1::ListReferralsResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "ListReferrals");
  if (!who) return reactor;
  auto finish = [&](const absl::Status& st) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  };
  int limit;
  if (auto st = PageSize(request->page_size(), &limit); !st.ok()) return finish(st);
  if (!v1::Pathway_IsValid(request->pathway())) return finish(absl::InvalidArgumentError("pathway: unknown value"));
  if (!v1::ReferralStatus_IsValid(request->status())) return finish(absl::InvalidArgumentError("status: unknown value"));
  v1::ListReferralsRequest query = *request;
  query.clear_page_token();
  query.clear_page_size();
  if (auth::SeesOnlyOwnReferrals(who->role)) {
    if (!request->submitted_by().empty() && request->submitted_by() != who->name) {
      return finish(absl::PermissionDeniedError(
          "submitted_by: you may list only the referrals you submitted"));
    }
    // Bound into the page token too: a token from one referrer's query is
    // no use to another.
    query.set_submitted_by(who->name);
  }
  auto position = DecodePageToken(query, request->page_token());
  if (!position.ok()) return finish(position.status());
  storage::ReferralFilter f;
  f.pathway = request->pathway();
  f.service_id = request->service_id();
  f.status = request->status();
  f.nhs_number = request->nhs_number();
  if (request->has_received_after()) f.received_after = FromProtoTime(request->received_after());
  if (request->has_received_before()) f.received_before = FromProtoTime(request->received_before());
  f.breached_only = request->breached_only();
  f.submitted_by = query.submitted_by();
  auto page = store_->ListReferrals(f, *position, limit, kMaxScan);
  if (!page.ok()) return finish(page.status());
  absl::Time now = clock_->Now();
  // One entry per record returned, so a search shows up against each
  // patient it revealed; an empty page still records that the search ran.
  std::vector<v1::AuditEntry> audit;
  for (auto& r : page->items) {
    UpdateSla(now, &r);
    audit.push_back(AuditOf(*who, "ListReferrals", "", &r, absl::StatusCode::kOk));
    ScrubForCaller(*who, &r);
    *response->add_referrals() = std::move(r);
  }
  if (audit.empty()) audit.push_back(AuditOf(*who, "ListReferrals", "", nullptr, absl::StatusCode::kOk));
  response->set_next_page_token(EncodePageToken(query, page->next_position));
  FinishAudited(reactor, std::move(audit), absl::OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* ReferralServiceImpl::GetWorklist(grpc::CallbackServerContext* ctx,
                                                           const v1::GetWorklistRequest* request,
                                                           v1::GetWorklistResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "GetWorklist");
  if (!who) return reactor;
  auto finish = [&](const absl::Status& st) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  };
  const bool by_pathway = request->pathway() != v1::PATHWAY_UNSPECIFIED;
  if (by_pathway == !request->service_id().empty()) {
    return finish(absl::InvalidArgumentError("pathway, service_id: give exactly one of them"));
  }
  if (!v1::Pathway_IsValid(request->pathway())) return finish(absl::InvalidArgumentError("pathway: unknown value"));
  int limit;
  if (auto st = PageSize(request->page_size(), &limit); !st.ok()) return finish(st);
  v1::GetWorklistRequest query = *request;
  query.clear_page_token();
  query.clear_page_size();
  auto position = DecodePageToken(query, request->page_token());
  if (!position.ok()) return finish(position.status());
  auto page = store_->ScanWorklist(request->pathway(), request->service_id(), *position, limit);
  if (!page.ok()) return finish(page.status());
  absl::Time now = clock_->Now();
  for (auto& e : page->items) {
    RefreshWorklistEntry(now, &e);
    *response->add_entries() = std::move(e);
  }
  response->set_next_page_token(EncodePageToken(query, page->next_position));
  // Worklist entries carry no patient identifiers (reference, problem,
  // urgency and times), so one entry records the view of the list.
  v1::AuditEntry entry = AuditOf(*who, "GetWorklist", "", nullptr, absl::StatusCode::kOk);
  if (entry.reason().empty()) {
    entry.set_reason(absl::StrCat(
        request->service_id().empty() ? v1::Pathway_Name(request->pathway())
                                      : "service " + request->service_id(),
        ": ", response->entries_size(), " entries"));
  }
  FinishAudited(reactor, {std::move(entry)}, absl::OkStatus());
  return reactor;
}

// --- changes ----------------------------------------------------------------------

// A read-modify-write of one referral: a transition or an override.
struct ReferralServiceImpl::ChangeCall {
  ReferralServiceImpl* svc;
  grpc::ServerUnaryReactor* reactor;
  v1::ReferralRecord* response;
  std::string id;
  absl::Time now;
  auth::Principal who;
  const char* method;  // TransitionReferral or OverrideTriage, for the audit
  std::function<absl::Status(v1::ReferralRecord*, v1::ReferralEvent*)> apply;
  std::string metric_status;
  std::optional<v1::ReferralRecord> before;

  // Optional preparatory call (directory lookup, rule set targets).
  v1::ServiceState service;
  v1::RuleSetInfo info;

  void Store() {
    svc->Commit(
        [this](storage::Txn& txn) -> absl::Status {
          auto rec = txn.GetReferral(id);
          if (!rec.ok()) return rec.status();
          if (!rec->has_value()) return NotFound(id);
          before = **rec;
          v1::ReferralRecord r = **rec;
          v1::ReferralEvent e;
          absl::Status st = apply(&r, &e);
          if (!st.ok()) return st;
          txn.PutReferral(r);
          txn.AppendEvent(e);
          txn.AppendAudit(AuditOf(who, method, id, &r, absl::StatusCode::kOk));
          *response = r;
          return absl::OkStatus();
        },
        [this](absl::Status st) { Done(st); });
  }

  void Done(const absl::Status& st) {
    if (st.ok()) {
      svc->hub_.Publish(before ? &*before : nullptr, *response, now);
      if (svc->metrics_ != nullptr) {
        svc->metrics_->Increment("frontdoor_referral_transitions_total",
                                 {v1::ReferralStatus_Name(response->status())});
      }
    }
    Finish(st);
  }

  void Finish(const absl::Status& st) {
    reactor->Finish(ToGrpcStatus(st));
    delete this;
  }
};

ReferralServiceImpl::ChangeCall* ReferralServiceImpl::StartChange(grpc::ServerUnaryReactor* reactor,
                                                                const std::string& id,
                                                                v1::ReferralRecord* response,
                                                                auth::Principal who) {
  auto canonical = ParseId(id, "id");
  if (!canonical.ok()) {
    reactor->Finish(ToGrpcStatus(canonical.status()));
    return nullptr;
  }
  return new ChangeCall{this, reactor, response, *canonical, clock_->Now(), std::move(who), ""};
}

grpc::ServerUnaryReactor* ReferralServiceImpl::TransitionReferral(
    grpc::CallbackServerContext* ctx, const v1::TransitionReferralRequest* request,
    v1::ReferralRecord* response) {
  auto* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "TransitionReferral", request->id());
  if (!who) return reactor;
  if (!request->actor().empty()) {
    if (auto st = ValidateText(request->actor(), "actor", 200); !st.ok()) {
      reactor->Finish(ToGrpcStatus(st));
      return reactor;
    }
  }
  ChangeCall* call = StartChange(reactor, request->id(), response, *std::move(who));
  if (call == nullptr) return reactor;
  call->method = "TransitionReferral";
  call->apply = [call, request](v1::ReferralRecord* r, v1::ReferralEvent* e) {
    v1::TransitionReferralRequest mine = *request;
    mine.set_actor(call->who.name);
    return ApplyTransition(mine, call->now, call->service.service().name(), r, e);
  };
  if (request->action_case() != v1::TransitionReferralRequest::kRedirect) {
    call->Store();
    return reactor;
  }
  // A redirect must name a real service.
  const std::string& service_id = request->redirect().service_id();
  if (service_id.empty()) {
    call->Finish(absl::InvalidArgumentError("redirect.service_id: is required"));
    return reactor;
  }
  directory_->GetService(service_id, &call->service, [call, service_id](absl::Status s) {
    if (s.code() == absl::StatusCode::kNotFound) {
      call->Finish(absl::InvalidArgumentError(
          absl::StrCat("redirect.service_id: no service '", service_id, "' in the directory")));
    } else if (!s.ok()) {
      call->Finish(s);
    } else {
      call->Store();
    }
  });
  return reactor;
}

grpc::ServerUnaryReactor* ReferralServiceImpl::OverrideTriage(
    grpc::CallbackServerContext* ctx, const v1::OverrideTriageRequest* request,
    v1::ReferralRecord* response) {
  auto* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = Admit(ctx, reactor, "OverrideTriage", request->id());
  if (!who) return reactor;
  ChangeCall* call = StartChange(reactor, request->id(), response, *std::move(who));
  if (call == nullptr) return reactor;
  call->method = "OverrideTriage";
  call->apply = [call, request](v1::ReferralRecord* r, v1::ReferralEvent* e) {
    int minutes = -1;
    for (const auto& t : call->info.targets()) {
      if (t.urgency() == request->urgency()) minutes = t.minutes();
    }
    v1::OverrideTriageRequest mine = *request;
    mine.set_clinician(call->who.name);
    return ApplyOverride(mine, call->now, minutes, r, e);
  };
  // The rule set's target times.
  triage_->GetRuleSetInfo(&call->info, [call](absl::Status s) {
    if (!s.ok()) {
      call->Finish(s);
    } else {
      call->Store();
    }
  });
  return reactor;
}

// --- WatchWorklist ------------------------------------------------------------------

namespace {

class WatchReactor;

// Lets the callback of a watch's audit write reach its reactor only while
// the reactor exists: the call may end (cancelled, server stopping) before
// the entry is written.
class AuditGate {
 public:
  explicit AuditGate(WatchReactor* reactor) : reactor_(reactor) {}
  void Audited(const absl::Status& audited);
  void Detach() {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  WatchReactor* reactor_ ABSL_GUARDED_BY(mu_);
};

// Streams a snapshot of the worklist, then its changes. Nothing is written
// to the stream until the watch's audit entry is durable (OnAudited), like a
// unary reply; if that entry cannot be written, the call fails instead.
class WatchReactor final : public grpc::ServerWriteReactor<v1::WorklistUpdate>,
                           public WorklistHub::Subscriber {
 public:
  // `status`: the refusal or invalid request the call ends with, or OK.
  // `audit_pending`: an audit entry for this call is being written; the
  // call neither streams nor ends until OnAudited.
  WatchReactor(WorklistHub* hub, storage::ReferralStore* store, Clock* clock,
               const v1::WatchWorklistRequest& request,
               const absl::Status& status, bool audit_pending)
      : hub_(hub),
        pathway_(request.pathway()),
        service_id_(request.service_id()),
        gate_(std::make_shared<AuditGate>(this)) {
    {
      absl::MutexLock lock(&mu_);
      audited_ = !audit_pending;
      if (!status.ok()) {
        refusal_ = status;
        if (audited_) FinishLocked(ToGrpcStatus(status));
        return;
      }
    }
    // Subscribe before the snapshot so no change falls between them; an
    // update that repeats the snapshot is harmless (upserts are idempotent).
    // Neither holds mu_, so deliveries meanwhile queue without waiting.
    hub_->Subscribe(this);
    subscribed_ = true;
    auto page = store->ScanWorklist(pathway_, service_id_, "", kSnapshotLimit);
    absl::MutexLock lock(&mu_);
    if (finished_) return;  // its audit entry failed meanwhile
    if (!page.ok()) {
      refusal_ = page.status();
      if (audited_) FinishLocked(ToGrpcStatus(page.status()));
      return;
    }
    v1::WorklistUpdate snapshot;
    snapshot.set_kind(v1::WorklistUpdate::KIND_SNAPSHOT);
    absl::Time now = clock->Now();
    for (auto& e : page->items) {
      RefreshWorklistEntry(now, &e);
      *snapshot.add_entries() = std::move(e);
    }
    queue_.push_front(std::move(snapshot));
    ready_ = true;
    WriteNextLocked();
  }

  const std::shared_ptr<AuditGate>& gate() const { return gate_; }

  // The audit entry of this call was written (or could not be).
  void OnAudited(const absl::Status& audited) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    audited_ = true;
    if (!audited.ok()) {
      FinishLocked(ToGrpcStatus(absl::UnavailableError(absl::StrCat(
          "the audit trail could not be written, so nothing is returned: ",
          audited.message()))));
    } else if (!refusal_.ok()) {
      FinishLocked(ToGrpcStatus(refusal_));
    } else {
      WriteNextLocked();
    }
  }

  void Deliver(const v1::WorklistUpdate& update) override {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (queue_.size() >= kMaxQueuedUpdates) {
      FinishLocked(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          "the worklist changed faster than this client read it; watch again"));
      return;
    }
    queue_.push_back(update);
    WriteNextLocked();
  }

  void Close() override {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "the server is shutting down"));
  }

  v1::Pathway pathway() const override { return pathway_; }
  const std::string& service_id() const override { return service_id_; }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!queue_.empty()) queue_.pop_front();
    if (!ok) {
      if (!finished_)
        FinishLocked(
            grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
      return;
    }
    WriteNextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    if (!finished_) FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    gate_->Detach();
    if (subscribed_) hub_->Unsubscribe(this);
    delete this;
  }

 private:
  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finished_ = true;
    Finish(status);
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!ready_ || !audited_ || writing_ || finished_ || queue_.empty()) return;
    writing_ = true;
    StartWrite(&queue_.front());
  }

  WorklistHub* const hub_;
  const v1::Pathway pathway_;
  const std::string service_id_;
  const std::shared_ptr<AuditGate> gate_;
  bool subscribed_ = false;
  absl::Mutex mu_;
  std::deque<v1::WorklistUpdate> queue_ ABSL_GUARDED_BY(mu_);
  bool ready_ ABSL_GUARDED_BY(mu_) = false;    // the snapshot is queued first
  bool audited_ ABSL_GUARDED_BY(mu_) = false;  // the audit entry is durable
  absl::Status refusal_ ABSL_GUARDED_BY(mu_);  // ends the call once audited
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

void AuditGate::Audited(const absl::Status& audited) {
  absl::MutexLock lock(&mu_);
  if (reactor_ != nullptr) reactor_->OnAudited(audited);
}

// The request names exactly one worklist.
absl::Status CheckWatchRequest(const v1::WatchWorklistRequest& request) {
  const bool by_pathway = request.pathway() != v1::PATHWAY_UNSPECIFIED;
  if (by_pathway == !request.service_id().empty() ||
      !v1::Pathway_IsValid(request.pathway())) {
    return absl::InvalidArgumentError(
        "pathway, service_id: give exactly one of them");
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerWriteReactor<v1::WorklistUpdate>* ReferralServiceImpl::WatchWorklist(
    grpc::CallbackServerContext* ctx, const v1::WatchWorklistRequest* request) {
  auth::AuthResult who =
      authorizer_->Authorize(*ctx, "/frontdoor.v1.ReferralService/WatchWorklist");
  absl::Status status = who.status;
  if (status.ok()) status = CheckWatchRequest(*request);
  // Like GetWorklist, the stream carries no patient identifiers: the
  // subscription is recorded once, with its outcome, and the stream waits
  // for that entry as a unary reply does. Only an unauthenticated caller
  // (no principal to record) is answered without an entry.
  const bool audited = who.principal.authenticated();
  auto* reactor =
      new WatchReactor(&hub_, store_, clock_, *request, status, audited);
  if (audited) {
    v1::AuditEntry entry =
        AuditOf(who.principal, "WatchWorklist", "", nullptr, status.code());
    entry.set_reason(request->service_id().empty() ? v1::Pathway_Name(request->pathway())
                                                   : "service " + request->service_id());
    store_->AppendAudit(
        std::move(entry),
        [gate = reactor->gate()](absl::Status s) { gate->Audited(s); });
  }
  return reactor;
}

// --- background -----------------------------------------------------------------------

void ReferralServiceImpl::StartBackground() {
  absl::MutexLock lock(&sweep_mu_);
  if (sweeper_.joinable()) return;
  stopping_ = false;
  sweeper_ = std::thread([this] { SweepLoop(); });
}

void ReferralServiceImpl::StopBackground() {
  {
    absl::MutexLock lock(&sweep_mu_);
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
  hub_.CloseAll();
}

void ReferralServiceImpl::SweepLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&sweep_mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sweep_mu_) { return stopping_; };
      sweep_mu_.AwaitWithTimeout(absl::Condition(&stop), options_.sweep_interval);
      if (stopping_) return;
    }
    (void)SweepOnce();
  }
}

absl::StatusOr<int> ReferralServiceImpl::SweepOnce() {
  const absl::Time now = clock_->Now();
  int changed = 0;
  // SLA states. The sweeper does not change a record's version: call
  // handlers holding it can still act.
  auto due = store_->DueForSlaCheck(now, 1000);
  if (!due.ok()) return due.status();
  for (const std::string& id : *due) {
    std::optional<v1::ReferralRecord> before, after;
    absl::Status st = store_->CommitAndWait([&](storage::Txn& txn) -> absl::Status {
      auto rec = txn.GetReferral(id);
      if (!rec.ok()) return rec.status();
      if (!rec->has_value()) return absl::OkStatus();
      v1::ReferralRecord r = **rec;
      before = r;
      v1::SlaState old = r.sla();
      UpdateSla(now, &r);
      if (r.sla() != old && (r.sla() == v1::SLA_STATE_WARNING_70 ||
                             r.sla() == v1::SLA_STATE_WARNING_90 ||
                             r.sla() == v1::SLA_STATE_BREACHED)) {
        v1::ReferralEvent e = NewEvent(&r, r.sla() == v1::SLA_STATE_BREACHED
                                               ? v1::EVENT_TYPE_SLA_BREACHED
                                               : v1::EVENT_TYPE_SLA_WARNING,
                                       now, "frontdoor");
        e.set_reason(v1::SlaState_Name(r.sla()));
        txn.AppendEvent(e);
        if (metrics_ != nullptr) {
          metrics_->Increment("frontdoor_sla_events_total",
                              {v1::Pathway_Name(r.pathway()), v1::SlaState_Name(r.sla())});
        }
      }
      txn.PutReferral(r);
      after = r;
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    if (after) {
      hub_.Publish(before ? &*before : nullptr, *after, now);
      ++changed;
    }
  }
  // Referrals stored while triage or the directory was unreachable.
  auto waiting = store_->AwaitingTriage(100);
  if (!waiting.ok()) return waiting.status();
  for (const std::string& id : *waiting) {
    auto rec = store_->GetReferral(id);
    if (!rec.ok() || !rec->has_value()) continue;
    const v1::Referral& referral = (*rec)->referral();
    v1::TriageDecision decision;
    if (!WaitFor([&](PeerDone done) { triage_->Triage(referral, &decision, std::move(done)); })
             .ok()) {
      break;  // still unreachable
    }
    v1::ServiceMatch match;
    v1::MatchServiceRequest mreq = MatchRequest(referral, decision.pathway(), decision.urgency(),
                                                decision.target_minutes(), now);
    if (!WaitFor([&](PeerDone done) { directory_->MatchService(mreq, &match, std::move(done)); })
             .ok()) {
      break;
    }
    std::optional<v1::ReferralRecord> before, after;
    absl::Status st = store_->CommitAndWait([&](storage::Txn& txn) -> absl::Status {
      auto cur = txn.GetReferral(id);
      if (!cur.ok()) return cur.status();
      if (!cur->has_value() || (*cur)->status() != v1::REFERRAL_STATUS_AWAITING_TRIAGE) {
        return absl::OkStatus();  // someone acted on it meanwhile
      }
      v1::ReferralRecord r = **cur;
      before = r;
      *r.mutable_decision() = decision;
      *r.mutable_service() = match;
      v1::ReferralEvent e = MarkTriaged(now, &r);
      r.clear_status_reason();
      r.set_version(r.version() + 1);
      *r.mutable_updated_at() = ToProtoTime(now);
      UpdateSla(now, &r);
      txn.PutReferral(r);
      txn.AppendEvent(e);
      after = r;
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    if (after) {
      hub_.Publish(before ? &*before : nullptr, *after, now);
      ++changed;
    }
  }
  return changed;
}

}  // namespace frontdoor::referral
