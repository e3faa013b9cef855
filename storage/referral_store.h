#ifndef FRONTDOOR_STORAGE_REFERRAL_STORE_H_
#define FRONTDOOR_STORAGE_REFERRAL_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "frontdoor/v1/audit.pb.h"
#include "frontdoor/v1/directory_service.pb.h"
#include "frontdoor/v1/referral_service.pb.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace frontdoor {
class Clock;
}  // namespace frontdoor

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
//
// Writes return nothing: a write that breaks the store's rules (a record
// without id or received_at, an id or NHS number containing '\0', an event
// that is not the record's next) poisons the Txn. The mutation then fails
// with that error (INVALID_ARGUMENT or FAILED_PRECONDITION) even if it
// returns OK, and none of its writes are committed. A read that fails (I/O)
// returns its error; the mutation should return it.
class Txn {
 public:
  virtual ~Txn() = default;
  virtual absl::StatusOr<std::optional<v1::ReferralRecord>> GetReferral(
      const std::string& id) = 0;
  virtual absl::StatusOr<std::optional<IdempotencyEntry>> GetIdempotency(
      const std::string& request_id) = 0;
  // Referrals for `nhs_number` received at or after `since`, newest first.
  virtual absl::StatusOr<std::vector<v1::ReferralRecord>> FindByNhsNumber(
      const std::string& nhs_number, absl::Time since) = 0;
  // Stores `record` (id, received_at and a status required) and keeps every
  // index (worklists, NHS number, time, SLA checks, awaiting triage) in step
  // with it: the previous version's index entries are removed.
  virtual void PutReferral(const v1::ReferralRecord& record) = 0;
  // Appends `event`. Its sequence must be the referral's next: 1 for the
  // first event, otherwise one more than an event already stored (or
  // appended earlier in the group); an existing event is never overwritten
  // (FAILED_PRECONDITION).
  virtual void AppendEvent(const v1::ReferralEvent& event) = 0;
  virtual void PutIdempotency(const std::string& request_id,
                              const IdempotencyEntry& entry) = 0;
  // Stores live capacity for `state.service().id()` (not empty), replacing
  // any earlier state. Lets DirectoryService write asynchronously.
  virtual void PutCapacity(const v1::ServiceState& state) = 0;
  // Appends `entry` to the audit trail with this mutation's other writes:
  // the entry is durable exactly when they are, and is dropped with them if
  // the mutation fails (an entry for a refused or failed call therefore
  // needs an audit-only Commit of its own: see ReferralStore::AppendAudit).
  // The caller fills principal, role, action, referral_id, nhs_number,
  // outcome, request_id, reason and channel; when the mutation succeeds the
  // writer thread assigns seq (the next, gapless, in commit order), time
  // (the store's clock, never earlier than the previous entry's), prev_hash
  // and hash, replacing anything given there. A principal, referral_id or
  // nhs_number containing '\0' poisons the Txn (INVALID_ARGUMENT).
  virtual void AppendAudit(v1::AuditEntry entry) = 0;
};

// Filter for ListReferrals; unset fields match everything.
struct ReferralFilter {
  v1::Pathway pathway = v1::PATHWAY_UNSPECIFIED;
  std::string service_id;
  v1::ReferralStatus status = v1::REFERRAL_STATUS_UNSPECIFIED;
  std::string nhs_number;
  std::optional<absl::Time> received_after;   // inclusive
  std::optional<absl::Time> received_before;  // exclusive
  bool breached_only = false;  // record.sla() == SLA_STATE_BREACHED
  std::string submitted_by;    // record.submitted_by() equals it
};

// Filter for QueryAudit. At most one of nhs_number, principal and
// referral_id may be set; unset fields match everything.
struct AuditFilter {
  std::string nhs_number;
  std::string principal;
  std::string referral_id;
  std::optional<absl::Time> from;  // inclusive
  std::optional<absl::Time> to;    // exclusive
};

template <typename T>
struct Page {
  std::vector<T> items;
  // Opaque position to continue from ("" when there is no more). Positions
  // are raw keys: the service wraps them in tokens bound to the query.
  std::string next_position;
};

// The durable store of referrals, their events, idempotency keys, indexes,
// service capacity and the audit trail: one RocksDB database with a column
// family per kind.
//
// Durability: Commit() acknowledges a mutation only after its write batch is
// in the WAL and synced (options.sync). Concurrent commits share one fsync
// (group commit on a single writer thread). If a write or sync fails, the
// store latches into a failed state: every later Commit() fails UNAVAILABLE
// and healthy() is false, rather than pretending. Reads keep working.
//
// Thread-safety: all methods may be called from any thread. Reads never
// block on the writer. After Close(), reads fail with UNAVAILABLE.
//
// Audit trail (frontdoor/v1/audit.proto): append-only and hash-chained.
// Entries are appended in commit order by the writer thread (Txn::AppendAudit)
// and commit atomically with the writes they describe. Recording a write:
//
//   store->Commit(
//       [=](Txn& txn) {
//         ... txn.PutReferral(record); txn.AppendEvent(event); ...
//         txn.AppendAudit(entry);  // outcome "OK"
//         return absl::OkStatus();
//       },
//       done);
//
// Recording a read (or a refused or failed call): read the data, then
// append the entry and return the data only from `done`, once the entry is
// durable; if the entry cannot be written the call fails:
//
//   store->AppendAudit(entry, [=](absl::Status s) {
//     if (!s.ok()) return reactor->Finish(ToGrpcStatus(s));
//     *response = record;
//     reactor->Finish(grpc::Status::OK);
//   });
//
// Audit-only commits share the group's fsync with the writes queued beside
// them, so auditing reads costs a queue slot, not an fsync each.
class ReferralStore {
 public:
  struct Options {
    // Directory of the database; created if missing. Required.
    std::string path;
    // Default true: fsync the WAL before acknowledging. false still survives
    // a process crash (the WAL is written before the acknowledgement) but not
    // a power loss; for tools and benchmarks only.
    bool sync = true;
    // Default 20000: queued mutations before Commit answers RESOURCE_EXHAUSTED.
    int max_pending = 20000;
    // Default 512: mutations per commit group (one WriteBatch, one fsync).
    int max_group = 512;
    // Default 32 MiB: block cache shared by every column family (data,
    // index and filter blocks). Memtables are capped at 64 MiB in total.
    size_t block_cache_bytes = 32 << 20;
    // Default null (rocksdb::Env::Default()): the Env for the database files.
    // Tests pass a fault-injecting Env. Not owned; must outlive the store.
    rocksdb::Env* env = nullptr;
    // Default null (the real clock): the time of audit entries. Not owned;
    // must outlive the store.
    Clock* clock = nullptr;
  };

  using Mutation = std::function<absl::Status(Txn&)>;
  using Done = std::function<void(absl::Status)>;

  // Opens (creating if missing) the database at `options.path`. Does no full
  // scan: the cost of opening is WAL replay plus reading the manifest.
  // INVALID_ARGUMENT for bad options; the RocksDB error (mapped to a
  // canonical code) if the database cannot be opened; FAILED_PRECONDITION if
  // it was written by a newer schema.
  static absl::StatusOr<std::unique_ptr<ReferralStore>> Open(
      const Options& options);

  ReferralStore() = default;
  ReferralStore(const ReferralStore&) = delete;
  ReferralStore& operator=(const ReferralStore&) = delete;
  virtual ~ReferralStore() = default;

  // Runs `mutation` on the writer thread, commits its writes with its group
  // and calls `done` once they are durable, or with the mutation's error
  // (nothing written), or UNAVAILABLE if the group's write failed (the store
  // is then failed). `done` runs on the store's completion thread, one at a
  // time and in commit order, while the writer goes on with later groups.
  //
  // When the mutation cannot be queued, `done` is called before Commit
  // returns, on the calling thread: RESOURCE_EXHAUSTED when max_pending
  // mutations are queued, UNAVAILABLE when the store has failed or is closed.
  //
  // `done` must not block (no fsync, no waiting on another commit) and must
  // not call Close() or CommitAndWait(); it may call Commit(). The mutation
  // runs with the writer to itself: it must be quick and must not block
  // either. Mutations run in the order Commit was called.
  virtual void Commit(Mutation mutation, Done done) = 0;
  // Blocking Commit, for tools and tests. Blocks the calling thread until
  // the mutation is durable: never call it from a gRPC callback or a `done`.
  absl::Status CommitAndWait(Mutation mutation);
  // Commits a mutation that only appends `entry` (Txn::AppendAudit): `done`
  // as for Commit, called once the entry is durable or with the error.
  void AppendAudit(v1::AuditEntry entry, Done done);

  // The current record, or nullopt. DATA_LOSS if the stored value does not
  // parse.
  virtual absl::StatusOr<std::optional<v1::ReferralRecord>> GetReferral(
      const std::string& id) = 0;
  // The current record as stored (a serialized v1::ReferralRecord, not
  // checked here), or nullopt: for a reader that passes it on unparsed.
  virtual absl::StatusOr<std::optional<std::string>> GetReferralBytes(
      const std::string& id) = 0;
  // The referral's events in sequence order (empty if none).
  virtual absl::StatusOr<std::vector<v1::ReferralEvent>> ListEvents(
      const std::string& id) = 0;

  // The active referrals of a pathway (or, if `service_id` is not empty, of a
  // service), ordered by due time (no target last), after `position` ("" for
  // the start). Entries carry due_at; the caller computes seconds_to_breach.
  // INVALID_ARGUMENT if limit < 1 or `position` is not from this worklist.
  virtual absl::StatusOr<Page<v1::WorklistEntry>> ScanWorklist(
      v1::Pathway pathway, const std::string& service_id,
      const std::string& position, int limit) = 0;
  // Referrals matching `filter`, newest first. Uses the NHS number index when
  // filter.nhs_number is set, else the time index; other filters apply to
  // the loaded records. Examines at most `max_scan` index entries per call,
  // so a page may be short (even empty) with a next position.
  // INVALID_ARGUMENT if limit or max_scan < 1 or `position` does not belong
  // to the index the filter uses.
  virtual absl::StatusOr<Page<v1::ReferralRecord>> ListReferrals(
      const ReferralFilter& filter, const std::string& position, int limit,
      int max_scan) = 0;
  // Every referral matching `filter`, in no particular order (by id), read
  // from one snapshot: each is passed to `visit` (on the calling thread)
  // until `visit` returns false. A sequential scan of the referral records
  // with readahead, bypassing the block cache, for full passes such as rule
  // replay (ListReferrals is for pages). `visit` must not call Close(). The
  // record passed is only valid during the call. Close() waits for a scan in
  // progress to finish.
  absl::Status ScanReferrals(
      const ReferralFilter& filter,
      std::function<bool(const v1::ReferralRecord&)> visit) {
    return ScanReferrals(filter, ScanOptions(), std::move(visit));
  }
  struct ScanOptions {
    // Leave record.decision unset, unparsed: the stored decision with its
    // explanation is most of a record's bytes and of its parse time, and a
    // replay evaluates the referral again anyway.
    bool omit_decision = false;
  };
  virtual absl::Status ScanReferrals(
      const ReferralFilter& filter, const ScanOptions& options,
      std::function<bool(const v1::ReferralRecord&)> visit) = 0;
  // Ids of active referrals whose next SLA check (record.next_sla_check) is
  // at or before `now`, soonest first.
  virtual absl::StatusOr<std::vector<std::string>> DueForSlaCheck(
      absl::Time now, int limit) = 0;
  // Ids of referrals in AWAITING_TRIAGE, oldest first.
  virtual absl::StatusOr<std::vector<std::string>> AwaitingTriage(
      int limit) = 0;

  // Live service capacity (DirectoryService). PutCapacity is a blocking
  // CommitAndWait of Txn::PutCapacity: from a gRPC callback use Commit.
  virtual absl::Status PutCapacity(const v1::ServiceState& state) = 0;
  virtual absl::StatusOr<std::vector<v1::ServiceState>> ListCapacity() = 0;

  // Audit entries matching `filter` in seq order, after `position` ("" for
  // the start; positions are opaque). Times are found by binary search
  // (entry times never decrease with seq), so a page costs O(log n + limit)
  // reads whatever the filter. INVALID_ARGUMENT if limit < 1, more than one
  // of nhs_number, principal and referral_id is set, or `position` is not a
  // position; DATA_LOSS if an entry the query reaches is missing or does not
  // parse (VerifyAudit says more).
  virtual absl::StatusOr<Page<v1::AuditEntry>> QueryAudit(
      const AuditFilter& filter, const std::string& position, int limit) = 0;
  // Walks the whole audit trail from seq 1 in one snapshot: seqs contiguous,
  // each prev_hash the previous entry's hash (32 zero bytes for entry 1),
  // each hash recomputed from its entry, times never decreasing, and the
  // indexes exactly the entries' values (no entry without its index entries,
  // no index entry without its entry). ok, or the first bad seq and the
  // problem. Reads every entry: minutes for tens of millions; never call it
  // on a gRPC callback thread. Close() waits for it.
  //
  // The chain alone cannot show that entries were removed from its end, or
  // that it was written again from some entry on with every hash
  // recomputed. `request` may carry the entries and head_hash of an earlier
  // verify, kept outside this database: the verdict is then also not ok
  // unless the trail still holds that many entries, the last with that
  // hash. INVALID_ARGUMENT (naming the field) for a malformed known head.
  virtual absl::StatusOr<v1::VerifyAuditResponse> VerifyAudit(
      const v1::VerifyAuditRequest& request) = 0;

  // The number of stored referrals (any status), for metrics. Kept exactly
  // in the same write batches as the records, so it is exact, not an
  // estimate; the name leaves room for a cheaper implementation.
  virtual absl::StatusOr<int64_t> ApproximateReferralCount() = 0;

  // Online backup into `dir` (RocksDB BackupEngine; incremental; memtables
  // are flushed first so the backup holds every acknowledged write). Safe
  // while commits continue; backups are serialised.
  virtual absl::Status Backup(const std::string& dir) = 0;

  virtual bool healthy() const = 0;
  virtual absl::Status failure() const = 0;  // OK while healthy

  // Stops accepting commits, drains the queue (queued mutations still run
  // and are acknowledged), flushes and closes the database. Idempotent; the
  // destructor calls it. Must not be called from a `done` or a mutation.
  virtual void Close() = 0;
};

// Restores the latest backup in `backup_dir` into `db_path` (which must not
// hold an open database; files there are replaced).
absl::Status RestoreReferralStore(const std::string& backup_dir,
                                  const std::string& db_path);

// VerifyAudit of the store at `db_path`, opened read-only: a stopped
// server's store, or a backup restored elsewhere. NOT_FOUND if there is no
// store there; FAILED_PRECONDITION if another process (a running server) has
// it open, since RocksDB does not support reading a database that a writer
// has open. A store without an audit trail (written before it existed)
// verifies as ok with no entries. Holds the store's lock meanwhile, so a
// server cannot start on it until the walk is done.
absl::StatusOr<v1::VerifyAuditResponse> VerifyAuditOffline(
    const std::string& db_path, const v1::VerifyAuditRequest& request);

}  // namespace frontdoor::storage

#endif  // FRONTDOOR_STORAGE_REFERRAL_STORE_H_
