#include "services/referral/worklist_hub.h"

#include <algorithm>

#include "services/common/records.h"
#include "services/referral/lifecycle.h"

namespace frontdoor::referral {

void RefreshWorklistEntry(absl::Time now, v1::WorklistEntry* e) {
  if (!e->has_due_at()) return;
  e->set_seconds_to_breach(e->due_at().seconds() - absl::ToUnixSeconds(now));
  if (e->status() == v1::REFERRAL_STATUS_ACCEPTED) return;  // responded: recorded state stands
  v1::ReferralRecord sla;
  *sla.mutable_received_at() = e->received_at();
  *sla.mutable_due_at() = e->due_at();
  sla.set_status(e->status());
  UpdateSla(now, &sla);
  e->set_sla(sla.sla());
}

v1::WorklistEntry ToWorklistEntry(const v1::ReferralRecord& r, absl::Time now) {
  v1::WorklistEntry e = MakeWorklistEntry(r);
  RefreshWorklistEntry(now, &e);
  return e;
}

bool OnWorklist(const v1::ReferralRecord& r, v1::Pathway pathway, const std::string& service_id) {
  if (!IsActiveReferral(r.status())) return false;
  if (!service_id.empty()) return r.service().service_id() == service_id;
  return r.pathway() == pathway;
}

void WorklistHub::Subscribe(Subscriber* s) {
  absl::MutexLock lock(&mu_);
  subscribers_.push_back(s);
}

void WorklistHub::Unsubscribe(Subscriber* s) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), s), subscribers_.end());
}

void WorklistHub::CloseAll() {
  absl::MutexLock lock(&mu_);
  for (Subscriber* s : subscribers_) s->Close();
}

int WorklistHub::subscribers() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(subscribers_.size());
}

void WorklistHub::Publish(const v1::ReferralRecord* before, const v1::ReferralRecord& after,
                          absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (Subscriber* s : subscribers_) {
    bool was = before != nullptr && OnWorklist(*before, s->pathway(), s->service_id());
    bool is = OnWorklist(after, s->pathway(), s->service_id());
    if (!was && !is) continue;
    v1::WorklistUpdate u;
    u.set_kind(is ? v1::WorklistUpdate::KIND_UPSERT : v1::WorklistUpdate::KIND_REMOVED);
    *u.add_entries() = ToWorklistEntry(after, now);
    s->Deliver(u);
  }
}

}  // namespace frontdoor::referral
