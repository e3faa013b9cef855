// ReferralService's peers when the triage or directory role runs in the
// same process: direct calls on the calling thread, no gRPC. Triage goes
// through TriageServiceImpl::DecideValidated, so the decisions metric and
// the decision tap (shadow evaluation) see these referrals as they see
// TriageService calls; the directory is called as DirectoryService calls it.

#ifndef FRONTDOOR_SERVICES_SERVER_LOCAL_PEERS_H_
#define FRONTDOOR_SERVICES_SERVER_LOCAL_PEERS_H_

#include <memory>
#include <string>

#include "services/directory/directory.h"
#include "services/referral/peers.h"
#include "services/triage/triage_service.h"

namespace frontdoor::server {

// Every `done` is called before the call returns. `triage` must outlive the
// client.
class LocalTriageClient final : public referral::TriageClient {
 public:
  explicit LocalTriageClient(triage::TriageServiceImpl* triage) : triage_(triage) {}

  void Triage(const v1::Referral& referral, v1::TriageDecision* decision,
              referral::PeerDone done) override;
  void GetRuleSetInfo(v1::RuleSetInfo* info, referral::PeerDone done) override;

 private:
  triage::TriageServiceImpl* const triage_;
};

// Every `done` is called before the call returns.
class LocalDirectoryClient final : public referral::DirectoryClient {
 public:
  explicit LocalDirectoryClient(std::shared_ptr<const directory::Directory> directory)
      : directory_(std::move(directory)) {}

  void MatchService(const v1::MatchServiceRequest& request, v1::ServiceMatch* match,
                    referral::PeerDone done) override;
  void GetService(const std::string& id, v1::ServiceState* state,
                  referral::PeerDone done) override;

 private:
  const std::shared_ptr<const directory::Directory> directory_;
};

}  // namespace frontdoor::server

#endif  // FRONTDOOR_SERVICES_SERVER_LOCAL_PEERS_H_
