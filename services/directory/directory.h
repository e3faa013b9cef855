// The directory of services: the services loaded from the directory file,
// their live capacity, and the matching of a triage outcome (pathway,
// urgency, patient age, sex and postcode district, time) to one service,
// after the NHS Directory of Services. Never "no service": when nothing
// fits, the catch-all (the nearest emergency department) is returned.
//
// No gRPC here; DirectoryServiceImpl (directory_service.h) serves it.
//
// Thread-safe: every method may be called from any thread. The services are
// immutable after Create; live capacity is guarded by a mutex.

#ifndef FRONTDOOR_SERVICES_DIRECTORY_DIRECTORY_H_
#define FRONTDOOR_SERVICES_DIRECTORY_DIRECTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "frontdoor/v1/directory_service.pb.h"
#include "services/common/clock.h"
#include "services/directory/directory_file.h"

namespace frontdoor::directory {

// Matching constants (after the NHS Directory of Services).
// A service closing within this time is not offered for short targets.
inline constexpr absl::Duration kClosingSoon = absl::Minutes(30);
// Targets up to this need a service open now.
inline constexpr int kOpenNowTargetMinutes = 120;
// For longer targets a service must open at least this long before the
// target time, so that it can still respond in time.
inline constexpr absl::Duration kRespondLead = absl::Minutes(60);
// Live capacity reverts to the default after this (SetCapacity default and
// maximum).
inline constexpr int kDefaultCapacityMinutes = 240;
inline constexpr int kMaxCapacityMinutes = 1440;

// The default target of each urgency in minutes (-1: no target), used when
// a MatchServiceRequest gives no target_minutes.
int DefaultTargetMinutes(v1::Urgency urgency);

// Durable storage of live capacity, so that a RED survives a restart. An
// adapter over storage::ReferralStore (PutCapacity/ListCapacity) implements
// it in the server; tests use an in-memory fake. Implementations must be
// thread-safe.
class CapacityStore {
 public:
  virtual ~CapacityStore() = default;
  // Durably records `state` (service.id, capacity, capacity_expires_at,
  // capacity_set_by), replacing the earlier state of that service. Returns
  // the store's error (e.g. UNAVAILABLE) if it could not.
  virtual absl::Status Put(const v1::ServiceState& state) = 0;
  // Every recorded state, expired ones included.
  virtual absl::StatusOr<std::vector<v1::ServiceState>> List() = 0;
};

class Directory {
 public:
  struct Options {
    // The source of "now" (capacity expiry, open_now, matching without
    // `at`). Null: RealClock. Not owned; must outlive the Directory.
    const Clock* clock = nullptr;
    // Optional persistence of live capacity. Not owned; must outlive the
    // Directory.
    CapacityStore* capacity_store = nullptr;
  };

  // Builds a directory from a loaded file; restores live capacity that has
  // not expired from `options.capacity_store`. INVALID_ARGUMENT if the
  // services are inconsistent (no id, duplicate ids, no catch-all, a bad
  // time zone or session); the store's error if it cannot be listed.
  static absl::StatusOr<std::unique_ptr<Directory>> Create(
      DirectoryFile file, const Options& options);

  // LoadDirectoryFile(path) then Create. INVALID_ARGUMENT lists every
  // problem of the file as file:line:col.
  static absl::StatusOr<std::unique_ptr<Directory>> Open(
      const std::string& path, const Options& options);

  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  const std::string& name() const { return name_; }
  const absl::TimeZone& time_zone() const { return tz_; }

  // Every service (those offering `pathway`, unless PATHWAY_UNSPECIFIED), in
  // file order, with its capacity and open_now at the clock's now.
  // INVALID_ARGUMENT "list_services.pathway" for a value that is not a
  // Pathway.
  absl::StatusOr<std::vector<v1::ServiceState>> ListServices(
      v1::Pathway pathway) const;

  // INVALID_ARGUMENT "get_service.id" if `id` is empty; NOT_FOUND if there
  // is no such service.
  absl::StatusOr<v1::ServiceState> GetService(absl::string_view id) const;

  // Sets a service's live capacity until now + expires_after_minutes (0 means
  // 240; at most 1440), after which it reverts to the service's default. If
  // there is a capacity store, the state is stored first and nothing changes
  // when that fails (the store's error is returned). Errors:
  // INVALID_ARGUMENT naming the field ("set_capacity.service_id",
  // "set_capacity.capacity", "set_capacity.expires_after_minutes",
  // "set_capacity.set_by"), NOT_FOUND for an unknown service.
  absl::StatusOr<v1::ServiceState> SetCapacity(
      const v1::SetCapacityRequest& request);

  // The service for a triage outcome, with why it was chosen and why every
  // other service offering the pathway was not. Never without a service:
  // when none fits, the catch-all for the patient's district (else the first
  // catch-all) with catch_all = true.
  //
  // A candidate offers the pathway; covers the postcode district (or every
  // district); takes the age (age unknown: only services without age
  // limits) and sex (sex unknown: only services without sex limits); is
  // open in time: for targets up to 2 hours (IMMEDIATE, 1h, 2h) open now and
  // not closing within 30 minutes, for longer targets open (for at least 30
  // minutes) at some point before target - 60 minutes, with no target at
  // some point in the next week; and is not at RED capacity at the time of
  // the match. Ranking: a specific catchment before "everywhere", then rank,
  // then GREEN before AMBER, then id.
  //
  // Times are the request's `at` (default: the clock's now), in the
  // directory's time zone; live capacity is evaluated at that time too.
  // target_minutes 0 means the urgency's default (DefaultTargetMinutes)
  // except for IMMEDIATE; -1 means no target. The postcode district may be a
  // full postcode ("LS6 4AP"); one that is not recognised is treated as
  // unknown (and said so) rather than refused. Errors: INVALID_ARGUMENT
  // naming the field ("match_service.pathway", ".urgency",
  // ".target_minutes", ".age_days", ".sex", ".postcode_district" over 64
  // characters, ".at").
  absl::StatusOr<v1::ServiceMatch> MatchService(
      const v1::MatchServiceRequest& request) const;

 private:
  struct Entry {
    v1::Service service;
    absl::flat_hash_set<std::string> catchment;
    int index = 0;  // file order
  };
  struct LiveCapacity {
    v1::Capacity capacity = v1::CAPACITY_UNSPECIFIED;
    absl::Time expires_at;
    std::string set_by;
  };
  // The capacity in force at `at`: live until it expires, else the default.
  struct EffectiveCapacity {
    v1::Capacity capacity = v1::CAPACITY_UNSPECIFIED;
    bool live = false;
    absl::Time expires_at;
    std::string set_by;
  };

  Directory(DirectoryFile file, absl::TimeZone tz, const Options& options);

  const Entry* Find(absl::string_view id) const;
  EffectiveCapacity CapacityAt(const Entry& e, absl::Time at) const
      ABSL_LOCKS_EXCLUDED(mu_);
  v1::ServiceState StateOf(const Entry& e, absl::Time now) const
      ABSL_LOCKS_EXCLUDED(mu_);
  bool OpenAt(const Entry& e, absl::Time at) const;
  absl::Status Restore(CapacityStore* store);
  // "08:00", "tomorrow 08:00", "Mon 08:00" or "Mon 12 Jan 08:00" relative to
  // `now`, local time.
  std::string When(absl::Time t, absl::Time now) const;

  // Constant after construction.
  std::string name_;
  absl::TimeZone tz_;
  const Clock* clock_;
  CapacityStore* store_;
  std::vector<Entry> entries_;
  absl::flat_hash_map<std::string, size_t> by_id_;

  // Serialises SetCapacity, so that the store and memory see capacity
  // changes in the same order. Acquired before mu_.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, LiveCapacity> live_ ABSL_GUARDED_BY(mu_);
};

}  // namespace frontdoor::directory

#endif  // FRONTDOOR_SERVICES_DIRECTORY_DIRECTORY_H_
