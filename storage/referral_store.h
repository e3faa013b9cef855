#ifndef FRONTDOOR_STORAGE_REFERRAL_STORE_H_
#define FRONTDOOR_STORAGE_REFERRAL_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "frontdoor/v1/directory_service.pb.h"
#include "frontdoor/v1/referral_service.pb.h"

namespace frontdoor::storage {

// What an idempotency key maps to.
struct IdempotencyEntry {
  std::string payload_hash;  // SHA-256 of the deterministic request payload
  std::string referral_id;
};

// A read-and-write view used by one mutation on the writer thread. Reads see
// the store plus every earlier mutation of the same commit group; writes are
// buffered and committed atomically with the group (or dropped if the
// mutation fails). Not thread-safe; valid only during the mutation.
class Txn {
 public:
  virtual ~Txn() = default;
  virtual absl::StatusOr<std::optional<v1::ReferralRecord>> GetReferral(const std::string& id) = 0;
  virtual absl::StatusOr<std::optional<IdempotencyEntry>> GetIdempotency(
      const std::string& request_id) = 0;
  // Referrals for `nhs_number` received at or after `since`, newest first.
  virtual absl::StatusOr<std::vector<v1::ReferralRecord>> FindByNhsNumber(
      const std::string& nhs_number, absl::Time since) = 0;
  // Stores `record` (id, received_at required) and keeps every index
  // (worklists, NHS number, time, SLA checks) in step with it.
  virtual void PutReferral(const v1::ReferralRecord& record) = 0;
  // Appends `event` (its sequence must be the record's next).
  virtual void AppendEvent(const v1::ReferralEvent& event) = 0;
  virtual void PutIdempotency(const std::string& request_id, const IdempotencyEntry& entry) = 0;
};

// Filter for ListReferrals; unset fields match everything.
struct ReferralFilter {
  v1::Pathway pathway = v1::PATHWAY_UNSPECIFIED;
  std::string service_id;
  v1::ReferralStatus status = v1::REFERRAL_STATUS_UNSPECIFIED;
  std::string nhs_number;
  std::optional<absl::Time> received_after;   // inclusive
  std::optional<absl::Time> received_before;  // exclusive
  bool breached_only = false;
};

template <typename T>
struct Page {
  std::vector<T> items;
  // Opaque position to continue from ("" when there is no more). Positions
  // are raw keys: the service wraps them in tokens bound to the query.
  std::string next_position;
};

// The durable store of referrals, their events, idempotency keys, indexes
// and service capacity: one RocksDB database with a column family per kind.
//
// Durability: Commit() acknowledges a mutation only after its write batch is
// in the WAL and synced (options.sync). Concurrent commits share one fsync
// (group commit on a single writer thread). If a write or sync fails, the
// store latches into a failed state: every later Commit() fails UNAVAILABLE
// and healthy() is false, rather than pretending.
//
// Thread-safety: all methods may be called from any thread. Reads never
// block on the writer.
class ReferralStore {
 public:
  struct Options {
    std::string path;                 // directory of the database
    bool sync = true;                 // fsync the WAL before acknowledging
    int max_pending = 20000;          // queued mutations before RESOURCE_EXHAUSTED
    int max_group = 512;              // mutations per commit group
    size_t block_cache_bytes = 32 << 20;
  };

  using Mutation = std::function<absl::Status(Txn&)>;
  using Done = std::function<void(absl::Status)>;

  static absl::StatusOr<std::unique_ptr<ReferralStore>> Open(const Options& options);

  virtual ~ReferralStore() = default;

  // Runs `mutation` on the writer thread, commits its writes with its group
  // and calls `done` (on the writer thread) once they are durable, or with
  // the mutation's error (nothing written), RESOURCE_EXHAUSTED when the queue
  // is full, or UNAVAILABLE when the store has failed or is closing.
  // `done` must not block.
  virtual void Commit(Mutation mutation, Done done) = 0;
  // Blocking Commit, for tools and tests.
  absl::Status CommitAndWait(Mutation mutation);

  virtual absl::StatusOr<std::optional<v1::ReferralRecord>> GetReferral(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<v1::ReferralEvent>> ListEvents(const std::string& id) = 0;

  // The active referrals of a pathway (or, if `service_id` is not empty, of a
  // service), ordered by due time (no target last), after `position`.
  virtual absl::StatusOr<Page<v1::WorklistEntry>> ScanWorklist(v1::Pathway pathway,
                                                               const std::string& service_id,
                                                               const std::string& position,
                                                               int limit) = 0;
  // Referrals matching `filter`, newest first. Examines at most `max_scan`
  // index entries per call, so a page may be short with a next position.
  virtual absl::StatusOr<Page<v1::ReferralRecord>> ListReferrals(const ReferralFilter& filter,
                                                                 const std::string& position,
                                                                 int limit, int max_scan) = 0;
  // Ids of active referrals whose next SLA check (record.next_sla_check) is
  // at or before `now`, soonest first.
  virtual absl::StatusOr<std::vector<std::string>> DueForSlaCheck(absl::Time now, int limit) = 0;
  // Ids of referrals in AWAITING_TRIAGE, oldest first.
  virtual absl::StatusOr<std::vector<std::string>> AwaitingTriage(int limit) = 0;

  // Live service capacity (DirectoryService).
  virtual absl::Status PutCapacity(const v1::ServiceState& state) = 0;
  virtual absl::StatusOr<std::vector<v1::ServiceState>> ListCapacity() = 0;

  // Counts for metrics: active referrals by pathway and status.
  virtual absl::StatusOr<int64_t> ApproximateReferralCount() = 0;

  // Online backup into `dir` (RocksDB BackupEngine; incremental).
  virtual absl::Status Backup(const std::string& dir) = 0;

  virtual bool healthy() const = 0;
  virtual absl::Status failure() const = 0;  // OK while healthy

  // Stops accepting commits, drains the queue, flushes. Idempotent.
  virtual void Close() = 0;
};

// Restores the latest backup in `backup_dir` into `db_path` (which must not
// hold an open database).
absl::Status RestoreReferralStore(const std::string& backup_dir, const std::string& db_path);

}  // namespace frontdoor::storage

#endif  // FRONTDOOR_STORAGE_REFERRAL_STORE_H_
