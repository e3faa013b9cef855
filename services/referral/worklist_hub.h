#ifndef FRONTDOOR_SERVICES_REFERRAL_WORKLIST_HUB_H_
#define FRONTDOOR_SERVICES_REFERRAL_WORKLIST_HUB_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral_service.pb.h"

namespace frontdoor::referral {

// The entry a worklist shows for `record` at `now` (time to breach, SLA).
v1::WorklistEntry ToWorklistEntry(const v1::ReferralRecord& record, absl::Time now);

// Updates the time to breach and, until a service has responded, the SLA
// state of `entry` for `now` (the store keeps entries as of their last write).
void RefreshWorklistEntry(absl::Time now, v1::WorklistEntry* entry);

// Whether `record` belongs on the worklist of `pathway` (when service_id is
// empty) or of `service_id`.
bool OnWorklist(const v1::ReferralRecord& record, v1::Pathway pathway,
                const std::string& service_id);

// Fans committed changes out to WatchWorklist subscribers. Publish never
// blocks (it is called from the store's writer thread): each subscriber has
// its own bounded queue; a subscriber that falls too far behind is closed
// with RESOURCE_EXHAUSTED so it can resubscribe and get a fresh snapshot.
// Thread-safe.
class WorklistHub {
 public:
  // A subscriber's side. Implemented by the stream reactor.
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    // Called with the hub's lock held: must only queue.
    virtual void Deliver(const v1::WorklistUpdate& update) = 0;
    // Ends the subscription from the server's side (shutdown).
    virtual void Close() = 0;
    virtual v1::Pathway pathway() const = 0;
    virtual const std::string& service_id() const = 0;
  };

  void Subscribe(Subscriber* s);
  void Unsubscribe(Subscriber* s);
  // `before` may be null (a new referral).
  void Publish(const v1::ReferralRecord* before, const v1::ReferralRecord& after, absl::Time now);
  int subscribers();
  // Closes every subscriber (at shutdown).
  void CloseAll();

 private:
  absl::Mutex mu_;
  std::vector<Subscriber*> subscribers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace frontdoor::referral

#endif  // FRONTDOOR_SERVICES_REFERRAL_WORKLIST_HUB_H_
