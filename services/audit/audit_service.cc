#include "services/audit/audit_service.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/grpc_status.h"
#include "services/common/log.h"
#include "services/common/proto_time.h"
#include "services/common/reference.h"
#include "services/common/status_macros.h"
#include "services/referral/page_token.h"
#include "storage/audit_trail.h"

namespace frontdoor::audit {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int64_t kMaxNanos = 999999999;

absl::Status CheckTime(const google::protobuf::Timestamp& t,
                       absl::string_view field) {
  if (t.nanos() < 0 || t.nanos() > kMaxNanos) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": nanos must be between 0 and ", kMaxNanos));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<storage::AuditFilter> AuditFilterFor(
    const v1::QueryAuditRequest& request) {
  const int given = !request.nhs_number().empty() +
                    !request.principal().empty() +
                    !request.referral_id().empty();
  if (given > 1) {
    return absl::InvalidArgumentError(
        "nhs_number, principal, referral_id: give at most one of them");
  }
  storage::AuditFilter filter;
  filter.nhs_number = request.nhs_number();
  filter.principal = request.principal();
  filter.referral_id = request.referral_id();
  // Entries name referrals by their canonical reference; one typed in
  // another form ("k3m79q2dx8a") still finds them. Anything else is looked
  // up as given: a call may have named an id that is not a reference.
  if (absl::StatusOr<std::string> canonical =
          CanonicalReference(request.referral_id());
      !request.referral_id().empty() && canonical.ok()) {
    filter.referral_id = *std::move(canonical);
  }
  if (request.has_from()) {
    FRONTDOOR_RETURN_IF_ERROR(CheckTime(request.from(), "from"));
    filter.from = FromProtoTime(request.from());
  }
  if (request.has_to()) {
    FRONTDOOR_RETURN_IF_ERROR(CheckTime(request.to(), "to"));
    filter.to = FromProtoTime(request.to());
  }
  if (filter.from && filter.to && *filter.to <= *filter.from) {
    return absl::InvalidArgumentError("to: must be after from");
  }
  return filter;
}

AuditServiceImpl::AuditServiceImpl(storage::ReferralStore* store,
                                   const auth::Authorizer* authorizer)
    : store_(store),
      authorizer_(authorizer),
      verifier_([this] { VerifyLoop(); }) {}

AuditServiceImpl::~AuditServiceImpl() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  verifier_.join();
}

grpc::ServerUnaryReactor* AuditServiceImpl::Query(
    grpc::CallbackServerContext* ctx, const v1::QueryAuditRequest* request,
    v1::QueryAuditResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  std::optional<auth::Principal> who = auth::AdmitUnary(
      *authorizer_, ctx, reactor, "/frontdoor.v1.AuditService/Query");
  if (!who) return reactor;
  absl::Status st = RunQuery(*request, response);
  if (!st.ok()) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  // Searches of the trail go to the operational log (who searched, and by
  // what, never the NHS number itself), not into the trail, where they
  // would read as access to the patients' records.
  log::Info("audit trail queried",
            {{"principal", who->name},
             {"request_id", who->request_id},
             {"by_patient", !request->nhs_number().empty()},
             {"by_principal", request->principal()},
             {"by_referral", request->referral_id()},
             {"entries", response->entries_size()}});
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

absl::Status AuditServiceImpl::RunQuery(const v1::QueryAuditRequest& request,
                                        v1::QueryAuditResponse* response) {
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", kMaxPageSize,
                     " (0 means ", kDefaultPageSize, ")"));
  }
  const int limit =
      request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  FRONTDOOR_ASSIGN_OR_RETURN(storage::AuditFilter filter,
                             AuditFilterFor(request));
  v1::QueryAuditRequest query = request;
  query.clear_page_token();
  query.clear_page_size();
  FRONTDOOR_ASSIGN_OR_RETURN(
      std::string position,
      referral::DecodePageToken(query, request.page_token()));
  FRONTDOOR_ASSIGN_OR_RETURN(storage::Page<v1::AuditEntry> page,
                             store_->QueryAudit(filter, position, limit));
  for (v1::AuditEntry& e : page.items) *response->add_entries() = std::move(e);
  response->set_next_page_token(
      referral::EncodePageToken(query, page.next_position));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AuditServiceImpl::Verify(
    grpc::CallbackServerContext* ctx, const v1::VerifyAuditRequest* request,
    v1::VerifyAuditResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!auth::AdmitUnary(*authorizer_, ctx, reactor,
                        "/frontdoor.v1.AuditService/Verify")) {
    return reactor;
  }
  if (absl::Status s = storage::audit::CheckVerifyRequest(*request);
      !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  absl::MutexLock lock(&mu_);
  waiting_.push_back({reactor, request, response});
  return reactor;
}

namespace {

void LogVerdict(const absl::StatusOr<v1::VerifyAuditResponse>& result) {
  if (!result.ok()) {
    log::Error("audit verification failed", {{"error", result.status()}});
  } else if (!result->ok()) {
    // The problem names seqs and index kinds, never a patient.
    log::Error(
        "audit trail tampered with",
        {{"entries", static_cast<int64_t>(result->entries())},
         {"first_bad_seq", static_cast<int64_t>(result->first_bad_seq())},
         {"problem", result->problem()}});
  } else {
    log::Info("audit trail verified",
              {{"entries", static_cast<int64_t>(result->entries())}});
  }
}

}  // namespace

void AuditServiceImpl::VerifyLoop() {
  for (;;) {
    std::vector<Waiter> walk;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AuditServiceImpl* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->waiting_.empty();
          },
          this));
      walk.swap(waiting_);
      if (stopping_) {
        for (Waiter& w : walk) {
          w.reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                         "the server is shutting down"));
        }
        return;
      }
    }
    // One walk for every caller that asked about the same kept head (most
    // ask about none).
    std::map<std::pair<uint64_t, std::string>, std::vector<Waiter>> by_head;
    for (Waiter& w : walk) {
      by_head[{w.request->known_entries(), w.request->known_head_hash()}]
          .push_back(w);
    }
    for (const auto& [head, same] : by_head) {
      absl::StatusOr<v1::VerifyAuditResponse> result =
          store_->VerifyAudit(*same.front().request);
      LogVerdict(result);
      for (const Waiter& w : same) {
        if (result.ok()) *w.response = *result;
        w.reactor->Finish(ToGrpcStatus(result.status()));
      }
    }
  }
}

}  // namespace frontdoor::audit
