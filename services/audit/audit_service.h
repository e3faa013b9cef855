#ifndef FRONTDOOR_SERVICES_AUDIT_AUDIT_SERVICE_H_
#define FRONTDOOR_SERVICES_AUDIT_AUDIT_SERVICE_H_

#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "frontdoor/v1/audit.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "storage/referral_store.h"

namespace frontdoor::audit {

// The store's filter for `request`, validated: at most one of nhs_number,
// principal and referral_id (a referral id that is a well-formed reference
// in any case or grouping is made canonical); from before to when both are
// given; valid timestamps. INVALID_ARGUMENT naming the field otherwise.
absl::StatusOr<storage::AuditFilter> AuditFilterFor(
    const v1::QueryAuditRequest& request);

// AuditService on the gRPC callback API, over the referral store's audit
// trail (storage/referral_store.h).
//
// Query reads one page on the callback thread: a binary search on time and
// at most page_size entries (default 100, at most 1000). Page tokens are
// bound to the query that made them (services/referral/page_token.h).
//
// Verify walks the whole trail, which takes long for a large one, so it runs
// on the service's own thread. Calls that arrive while a walk is running wait
// for the next one and share it: every caller gets a walk that started after
// its call, and at most one walk runs at a time.
//
// Only auditors may call (services/auth/permissions.cc). Each query is
// logged: who searched, and by what.
//
// Thread-safe. `store` and `authorizer` must outlive the service. The destructor waits for a
// running walk and fails calls still waiting for one (UNAVAILABLE).
class AuditServiceImpl final : public v1::AuditService::CallbackService {
 public:
  AuditServiceImpl(storage::ReferralStore* store,
                   const auth::Authorizer* authorizer);
  ~AuditServiceImpl() override;

  AuditServiceImpl(const AuditServiceImpl&) = delete;
  AuditServiceImpl& operator=(const AuditServiceImpl&) = delete;

  grpc::ServerUnaryReactor* Query(grpc::CallbackServerContext* ctx,
                                  const v1::QueryAuditRequest* request,
                                  v1::QueryAuditResponse* response) override;
  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* ctx,
                                   const v1::VerifyAuditRequest* request,
                                   v1::VerifyAuditResponse* response) override;

 private:
  struct Waiter {
    grpc::ServerUnaryReactor* reactor;
    const v1::VerifyAuditRequest* request;
    v1::VerifyAuditResponse* response;
  };

  const auth::Authorizer* const authorizer_;
  absl::Status RunQuery(const v1::QueryAuditRequest& request,
                        v1::QueryAuditResponse* response);
  // The verifier thread: one walk for all the calls waiting when it starts.
  void VerifyLoop();

  storage::ReferralStore* const store_;
  absl::Mutex mu_;
  std::vector<Waiter> waiting_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread verifier_;
};

}  // namespace frontdoor::audit

#endif  // FRONTDOOR_SERVICES_AUDIT_AUDIT_SERVICE_H_
