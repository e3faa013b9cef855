#include "services/server/local_peers.h"

#include <utility>

namespace frontdoor::server {
namespace {

// `done` with the result's status, its value moved into `*out` first.
template <typename T>
void Deliver(absl::StatusOr<T> result, T* out, const referral::PeerDone& done) {
  if (result.ok()) *out = *std::move(result);
  done(result.status());
}

}  // namespace

void LocalTriageClient::Triage(const v1::Referral& referral, v1::TriageDecision* decision,
                               referral::PeerDone done) {
  triage_->DecideValidated(referral, decision);
  done(absl::OkStatus());
}

void LocalTriageClient::GetRuleSetInfo(v1::RuleSetInfo* info, referral::PeerDone done) {
  triage_->FillRuleSetInfo(info);
  done(absl::OkStatus());
}

void LocalDirectoryClient::MatchService(const v1::MatchServiceRequest& request,
                                        v1::ServiceMatch* match, referral::PeerDone done) {
  Deliver(directory_->MatchService(request), match, done);
}

void LocalDirectoryClient::GetService(const std::string& id, v1::ServiceState* state,
                                      referral::PeerDone done) {
  Deliver(directory_->GetService(id), state, done);
}

}  // namespace frontdoor::server
