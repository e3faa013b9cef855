// How ReferralService reaches the triage and directory roles: directly when
// they run in the same process (services/server/local_peers.h), over gRPC
// when they run elsewhere (NewGrpcTriageClient, NewGrpcDirectoryClient).

#ifndef FRONTDOOR_SERVICES_REFERRAL_PEERS_H_
#define FRONTDOOR_SERVICES_REFERRAL_PEERS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "frontdoor/v1/directory_service.pb.h"
#include "frontdoor/v1/triage_service.pb.h"
#include "grpcpp/channel.h"

namespace frontdoor::referral {

// Called exactly once with the outcome of a peer call: on the calling
// thread before the call returns (in-process peers) or later on a gRPC
// thread (remote peers). It must not block.
using PeerDone = std::function<void(absl::Status)>;

// Triage as ReferralService uses it. Thread-safe. Every argument must stay
// valid until `done` has been called.
class TriageClient {
 public:
  virtual ~TriageClient() = default;
  // Triages `referral`, which the caller has validated
  // (ValidateSubmission) and given its received_at, into `*decision` with
  // the active rule set. Errors: the peer's, or UNAVAILABLE /
  // DEADLINE_EXCEEDED when triage cannot be reached.
  virtual void Triage(const v1::Referral& referral, v1::TriageDecision* decision,
                      PeerDone done) = 0;
  // The active rule set's name, version and targets.
  virtual void GetRuleSetInfo(v1::RuleSetInfo* info, PeerDone done) = 0;
};

// The service directory as ReferralService uses it. Thread-safe. Every
// argument must stay valid until `done` has been called.
class DirectoryClient {
 public:
  virtual ~DirectoryClient() = default;
  virtual void MatchService(const v1::MatchServiceRequest& request, v1::ServiceMatch* match,
                            PeerDone done) = 0;
  // NOT_FOUND when there is no service `id`.
  virtual void GetService(const std::string& id, v1::ServiceState* state, PeerDone done) = 0;
};

// The channel to a peer, made on first use (null while it cannot be made).
using ChannelProvider = std::function<std::shared_ptr<grpc::Channel>()>;

// TriageService / DirectoryService in another process, through their gRPC
// stubs (the channel carries the caller's service token). Every call has
// `deadline`; UNAVAILABLE "triage is not reachable" / "the service directory
// is not reachable" while the provider gives no channel.
std::unique_ptr<TriageClient> NewGrpcTriageClient(ChannelProvider channel,
                                                  absl::Duration deadline);
std::unique_ptr<DirectoryClient> NewGrpcDirectoryClient(ChannelProvider channel,
                                                        absl::Duration deadline);

// Runs `start` (which starts one peer call with the PeerDone it is given)
// and blocks until that call is done; its status. For threads that may
// block (the background sweeper), never for gRPC callbacks.
absl::Status WaitFor(const std::function<void(PeerDone)>& start);

}  // namespace frontdoor::referral

#endif  // FRONTDOOR_SERVICES_REFERRAL_PEERS_H_
