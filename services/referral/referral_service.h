#ifndef FRONTDOOR_SERVICES_REFERRAL_REFERRAL_SERVICE_H_
#define FRONTDOOR_SERVICES_REFERRAL_REFERRAL_SERVICE_H_

#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "frontdoor/internal/record_view.pb.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "services/common/arena_allocator.h"
#include "services/common/clock.h"
#include "services/common/metrics.h"
#include "services/referral/peers.h"
#include "services/referral/worklist_hub.h"
#include "storage/referral_store.h"

namespace frontdoor::referral {

// ReferralService on the gRPC callback API. It validates, triages and
// matches a service through its peers (peers.h: direct calls when the
// triage and directory roles share the process, gRPC stubs when they run
// elsewhere), then commits the referral, its events and indexes in one
// durable write through the store's group-commit writer. Handlers never
// block a callback thread on I/O: they chain asynchronous peer calls and
// finish from the store's completion.
//
// If triage or the directory cannot be reached, the referral is still
// stored and acknowledged as AWAITING_TRIAGE on the clinical review worklist,
// and the background sweeper triages it as soon as it can.
//
// Every call is authorised first (services/auth/permissions.cc). Referrers
// see only the referrals they submitted: for them a referral that is not
// theirs and one that does not exist get the same PERMISSION_DENIED, so the
// answer never reveals whether a record exists. Changes are recorded as
// made by the authenticated caller, whatever the request names.
//
// GetReferral is served raw (grpc::ByteBuffer in and out): when the stored
// record is already exactly what the caller is to see, its stored bytes are
// the reply, without parsing and serialising the whole record again.
//
// Thread-safe. The store, clock, metrics and authorizer must outlive the
// service; the peers are owned by it.
class ReferralServiceImpl final
    : public v1::ReferralService::WithRawCallbackMethod_GetReferral<
          v1::ReferralService::CallbackService> {
 public:
  struct Options {
    // Outcome of a referral stored without triage (fail-safe).
    v1::Pathway awaiting_pathway = v1::PATHWAY_CLINICAL_REVIEW;
    v1::Urgency awaiting_urgency = v1::URGENCY_WITHIN_1H;
    int awaiting_target_minutes = 60;
    // Same NHS number and problem within this window: linked as duplicates.
    absl::Duration duplicate_window = absl::Hours(24);
    // How often the background sweeper runs (SLA states, awaiting triage).
    absl::Duration sweep_interval = absl::Seconds(5);
    // The random half of each new reference (TimeOrderedReference keeps
    // its low 25 bits); unset, a random generator. Called from any thread.
    // Tests set it to make references clash.
    std::function<uint64_t()> reference_random;
  };

  ReferralServiceImpl(storage::ReferralStore* store, std::unique_ptr<TriageClient> triage,
                      std::unique_ptr<DirectoryClient> directory, Clock* clock,
                      Metrics* metrics, const auth::Authorizer* authorizer, Options options);
  ~ReferralServiceImpl() override;

  // Starts and stops the background sweeper thread.
  void StartBackground();
  void StopBackground();
  // One sweep: SLA warnings and breaches due by now, and referrals awaiting
  // triage. Blocking; for the background thread and for tests. Returns the
  // number of referrals changed.
  absl::StatusOr<int> SweepOnce();

  WorklistHub& hub() { return hub_; }

  grpc::ServerUnaryReactor* SubmitReferral(grpc::CallbackServerContext* ctx,
                                           const v1::SubmitReferralRequest* request,
                                           v1::SubmitReferralResponse* response) override;
  // A GetReferralRequest in, a ReferralRecord out (the RPC's own types on
  // the wire).
  grpc::ServerUnaryReactor* GetReferral(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListReferrals(grpc::CallbackServerContext* ctx,
                                          const v1::ListReferralsRequest* request,
                                          v1::ListReferralsResponse* response) override;
  grpc::ServerUnaryReactor* TransitionReferral(grpc::CallbackServerContext* ctx,
                                               const v1::TransitionReferralRequest* request,
                                               v1::ReferralRecord* response) override;
  grpc::ServerUnaryReactor* OverrideTriage(grpc::CallbackServerContext* ctx,
                                           const v1::OverrideTriageRequest* request,
                                           v1::ReferralRecord* response) override;
  grpc::ServerUnaryReactor* ListReferralEvents(grpc::CallbackServerContext* ctx,
                                               const v1::ListReferralEventsRequest* request,
                                               v1::ListReferralEventsResponse* response) override;
  grpc::ServerUnaryReactor* GetWorklist(grpc::CallbackServerContext* ctx,
                                        const v1::GetWorklistRequest* request,
                                        v1::GetWorklistResponse* response) override;
  grpc::ServerWriteReactor<v1::WorklistUpdate>* WatchWorklist(
      grpc::CallbackServerContext* ctx, const v1::WatchWorklistRequest* request) override;

 private:
  struct SubmitCall;
  struct ChangeCall;
  friend struct SubmitCall;
  friend struct ChangeCall;

  // A reference for a referral received at `now`, not yet checked for use.
  std::string NewReference(absl::Time now) const;
  // Starts a change to the referral `id` (a reference in any spelling);
  // null when `id` is malformed, in which case the call is finished.
  ChangeCall* StartChange(grpc::ServerUnaryReactor* reactor, const std::string& id,
                          v1::ReferralRecord* response, auth::Principal who);
  // Authorises a unary call to `method` (its name within ReferralService);
  // on refusal finishes `reactor` (a refused caller who is known is audited,
  // with `referral_id`, the id asked for) and returns nullopt.
  std::optional<auth::Principal> Admit(grpc::CallbackServerContext* ctx,
                                       grpc::ServerUnaryReactor* reactor,
                                       absl::string_view method,
                                       const std::string& referral_id = "");
  // An audit entry for `who` calling `method` about `record` (or the id
  // asked for when there is no record).
  static v1::AuditEntry AuditOf(const auth::Principal& who, absl::string_view method,
                                const std::string& id, const v1::ReferralRecord* record,
                                absl::StatusCode outcome);

  // Appends `entries` to the audit trail and, once they are durable,
  // finishes `reactor` with `status`. If the audit write fails the call
  // fails with that error instead: no patient data leaves without its entry.
  void FinishAudited(grpc::ServerUnaryReactor* reactor, std::vector<v1::AuditEntry> entries,
                     absl::Status status);
  // For callers limited to their own referrals: PERMISSION_DENIED unless
  // `record` exists and was submitted by `who` (the same answer for both).
  static absl::Status CheckOwner(const auth::Principal& who, const std::string& id,
                                 const std::optional<v1::ReferralRecord>& record);
  // The same, given the record's submitter (null: no such record).
  static absl::Status CheckOwner(const auth::Principal& who,
                                 const std::string& id,
                                 const std::string* submitted_by);
  void Commit(storage::ReferralStore::Mutation mutation,
              std::function<void(absl::Status)> done);
  void SweepLoop();

  storage::ReferralStore* const store_;
  const std::unique_ptr<TriageClient> triage_;
  const std::unique_ptr<DirectoryClient> directory_;
  Clock* const clock_;
  Metrics* const metrics_;
  const auth::Authorizer* const authorizer_;
  const Options options_;
  WorklistHub hub_;
  // SubmitReferral's request and response live on one arena per call.
  ArenaMessageAllocator<v1::SubmitReferralRequest, v1::SubmitReferralResponse>
      submit_allocator_;

  absl::Mutex sweep_mu_;
  bool stopping_ ABSL_GUARDED_BY(sweep_mu_) = false;
  std::thread sweeper_;
};

}  // namespace frontdoor::referral

#endif  // FRONTDOOR_SERVICES_REFERRAL_REFERRAL_SERVICE_H_
