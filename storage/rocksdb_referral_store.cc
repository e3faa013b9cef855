// ReferralStore on RocksDB: one database, a column family per kind of data,
// and a single writer thread doing group commit.
//
// Writes. Commit() queues a mutation. The writer thread takes up to
// max_group queued mutations, runs each against a TxnImpl and gathers the
// writes of those that succeed into one WriteBatch, written with
// WriteOptions::sync = options.sync: one fsync acknowledges the whole group.
// Each mutation's writes go to its own layer (a map from (column family, key)
// to value or deletion); its reads look in that layer, then in the group's
// overlay (the layers of earlier successful mutations of the group), then in
// the database. On success the layer is merged into the overlay; on failure
// it is dropped. (rocksdb::WriteBatchWithIndex with save points would do the
// same, but rebuilds its whole index on each rollback.) The batch gets the
// overlay, in key order, once the group's mutations have run.
//
// Completions. Once a group is durable its `done` callbacks are handed, in
// commit order, to a second thread, so that the writer goes straight on to
// the next group: finishing the calls (serialising and sending replies,
// freeing what they held) overlaps with the next group's mutations and sync
// instead of delaying them.
//
// Failure. If the group's Write() fails, the error is latched: the group's
// mutations and every later Commit get UNAVAILABLE, healthy() turns false, and
// nothing is written again by this process. A failed group may still be
// found in the WAL after a restart (written but not synced): it was never
// acknowledged, and clients retry with the same request_id.
//
// Reads go straight to the database from the caller's thread (with a snapshot
// where they read more than one key); db_mu_ only guards the database's
// lifetime against Close().
//
// Audit trail (audit_trail.h). A mutation's audit entries wait in its Txn;
// when it succeeds the writer thread seals them onto the chain (seq, time,
// hashes) in commit order and adds them to the group's batch with the
// mutation's other writes, so they are exactly as durable. The chain head
// lives in memory, loaded at Open; if the group's write fails the store is
// failed and the head is never used again.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/backup_engine.h"
#include "rocksdb/write_batch.h"
#include "services/common/records.h"
#include "services/common/status_macros.h"
#include "services/common/thread_name.h"
#include "storage/audit_trail.h"
#include "storage/referral_store.h"
#include "storage/rocks_status.h"
#include "storage/store_keys.h"

namespace frontdoor::storage {
namespace {

// Column families, in the order of their handles.
enum Cf : int {
  kReferrals = 0,
  kEvents,
  kIdempotency,
  kWorklist,
  kByNhs,
  kByTime,
  kSla,
  kAwaiting,
  kCapacity,
  kMeta,
  kAudit,  // the audit trail's column families, in audit::AuditCf order
  kAuditEnd = kAudit + audit::kNumAuditCfs,
  kNumCfs = kAuditEnd,
};

constexpr const char* kCfNames[kNumCfs] = {
    "referrals",
    "events",
    "idempotency",
    "worklist",
    "by_nhs",
    "by_time",
    "sla",
    "awaiting",
    "capacity",
    "meta",
    audit::kAuditCfNames[audit::kEntries],
    audit::kAuditCfNames[audit::kByNhs],
    audit::kAuditCfNames[audit::kByPrincipal],
    audit::kAuditCfNames[audit::kByReferral],
};

// The audit trail's handles among the store's (`cfs` in Cf order).
audit::AuditCfs AuditHandles(
    const std::vector<rocksdb::ColumnFamilyHandle*>& cfs) {
  audit::AuditCfs out;
  std::copy(cfs.begin() + kAudit, cfs.begin() + kAuditEnd, out.begin());
  return out;
}

constexpr char kSchemaVersionKey[] = "schema_version";
constexpr char kReferralCountKey[] = "referral_count";
constexpr uint64_t kSchemaVersion = 1;

// Memory: memtables of all column families together are capped at
// kTotalWriteBuffers; the block cache (options.block_cache_bytes) holds data,
// index and filter blocks of every column family.
constexpr size_t kWriteBufferBytes = 32 << 20;
// Memtables a column family may hold before RocksDB stops all writes until
// a flush finishes. When the WAL reaches kMaxTotalWalBytes every column
// family is flushed at once, behind one flush thread at the lowest CPU
// priority; with 2, sustained submissions stopped the writer 60-70 times a
// minute, and every caller waited (docs/benchmarks.md). Memtables waiting
// for their flush are extra to kTotalWriteBuffers.
constexpr int kMaxWriteBuffers = 4;
constexpr size_t kTotalWriteBuffers = 64 << 20;
// Bounds the WAL kept for column families that rarely fill a memtable (meta,
// capacity), and so the replay after a crash.
constexpr uint64_t kMaxTotalWalBytes = 64 << 20;
// Capped so Open does not open every table file (RocksDB opens them all at
// startup with -1).
constexpr int kMaxOpenFiles = 512;
// Readahead of a full scan of the referral records (ScanReferrals), and
// the arena block each record is parsed into (a record is a few KiB).
constexpr size_t kScanReadaheadBytes = 2 << 20;
constexpr size_t kScanArenaBytes = 64 << 10;

// `message` (serialized) without its top-level field number `field`, in
// `out`; false (and `out` unspecified) if the bytes are not well-formed.
bool WithoutField(absl::string_view message, int field, std::string* out) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(message.data()),
      static_cast<int>(message.size()));
  out->clear();
  for (;;) {
    const int start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      return in.CurrentPosition() == static_cast<int>(message.size());
    }
    if (!WireFormatLite::SkipField(&in, tag)) return false;
    if (WireFormatLite::GetTagFieldNumber(tag) != field) {
      out->append(message.data() + start, in.CurrentPosition() - start);
    }
  }
}

template <typename Message>
absl::StatusOr<Message> Parse(absl::string_view value, absl::string_view what) {
  Message m;
  if (!m.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(absl::StrCat("unparsable ", what));
  }
  return m;
}


struct IndexEntry {
  Cf cf;
  std::string key;
  std::string value;
};

// Every index entry of `r` except its row in referrals. Worklist values are
// filled only when `with_values`.
std::vector<IndexEntry> IndexEntries(const v1::ReferralRecord& r,
                                     bool with_values) {
  std::vector<IndexEntry> out;
  const std::string& id = r.id();
  const uint64_t received = keys::Micros(r.received_at());
  const std::string& nhs = r.referral().patient().nhs_number();
  out.push_back({kByTime, keys::TimeKey(received, id), ""});
  if (!nhs.empty())
    out.push_back({kByNhs, keys::NhsKey(nhs, received, id), ""});
  if (r.status() == v1::REFERRAL_STATUS_AWAITING_TRIAGE) {
    out.push_back({kAwaiting, keys::AwaitingKey(received, id), ""});
  }
  if (IsActiveReferral(r.status())) {
    const uint64_t due = keys::DueSeconds(r);
    std::string entry =
        with_values ? MakeWorklistEntry(r).SerializeAsString() : "";
    out.push_back({kWorklist,
                   keys::WorklistKey(keys::PathwayScope(r.pathway()), due, id),
                   entry});
    if (!r.service().service_id().empty()) {
      out.push_back({kWorklist,
                     keys::WorklistKey(
                         keys::ServiceScope(r.service().service_id()), due, id),
                     std::move(entry)});
    }
    if (r.has_next_sla_check()) {
      out.push_back(
          {kSla, keys::SlaKey(keys::Micros(r.next_sla_check()), id), ""});
    }
  }
  return out;
}

absl::Status CheckKeyPart(absl::string_view value, absl::string_view what) {
  if (value.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " contains a NUL byte"));
  }
  return absl::OkStatus();
}

// Pending writes: (column family, key) -> value, or nullopt for a deletion.
using Overlay =
    std::map<std::pair<int, std::string>, std::optional<std::string>>;

class TxnImpl final : public Txn {
 public:
  TxnImpl(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cfs,
          const Overlay* group)
      : db_(db), cfs_(cfs), group_(group) {}

  absl::StatusOr<std::optional<v1::ReferralRecord>> GetReferral(
      const std::string& id) override {
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<std::string> value,
                               Get(kReferrals, id));
    if (!value) return std::optional<v1::ReferralRecord>();
    FRONTDOOR_ASSIGN_OR_RETURN(
        v1::ReferralRecord record,
        Parse<v1::ReferralRecord>(*value, "referral " + id));
    return std::optional<v1::ReferralRecord>(std::move(record));
  }

  absl::StatusOr<std::optional<IdempotencyEntry>> GetIdempotency(
      const std::string& request_id) override {
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<std::string> value,
                               Get(kIdempotency, request_id));
    if (!value) return std::optional<IdempotencyEntry>();
    IdempotencyEntry entry;
    if (!keys::DecodeIdempotency(*value, &entry.payload_hash,
                                 &entry.referral_id)) {
      return absl::DataLossError("unparsable idempotency entry");
    }
    return std::optional<IdempotencyEntry>(std::move(entry));
  }

  absl::StatusOr<std::vector<v1::ReferralRecord>> FindByNhsNumber(
      const std::string& nhs_number, absl::Time since) override {
    std::vector<v1::ReferralRecord> out;
    if (nhs_number.empty() || nhs_number.find('\0') != std::string::npos)
      return out;
    const std::string prefix = keys::NhsPrefix(nhs_number);
    const uint64_t inv_since = keys::kMaxU64 - keys::Micros(since);
    std::string upper = inv_since == keys::kMaxU64
                            ? keys::PrefixEnd(prefix)
                            : prefix + keys::U64(inv_since + 1);
    FRONTDOOR_ASSIGN_OR_RETURN(std::vector<std::string> found,
                               ScanKeys(kByNhs, prefix, upper));
    for (const std::string& key : found) {
      if (key.size() < prefix.size() + 8) continue;
      FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::ReferralRecord> record,
                                 GetReferral(key.substr(prefix.size() + 8)));
      if (record) out.push_back(*std::move(record));
    }
    return out;
  }

  void PutReferral(const v1::ReferralRecord& record) override {
    if (!error_.ok()) return;
    absl::Status valid = Validate(record);
    if (!valid.ok()) return Fail(std::move(valid));
    absl::StatusOr<std::optional<v1::ReferralRecord>> previous =
        GetReferral(record.id());
    if (!previous.ok()) return Fail(previous.status());

    std::vector<IndexEntry> wanted = IndexEntries(record, /*with_values=*/true);
    if (*previous) {
      std::set<std::pair<int, std::string>> keep;
      for (const IndexEntry& e : wanted) keep.emplace(e.cf, e.key);
      for (IndexEntry& old : IndexEntries(**previous, /*with_values=*/false)) {
        if (keep.count({old.cf, old.key}) == 0)
          Delete(old.cf, std::move(old.key));
      }
    } else {
      absl::StatusOr<std::optional<std::string>> count =
          Get(kMeta, kReferralCountKey);
      if (!count.ok()) return Fail(count.status());
      uint64_t n = *count ? keys::ReadU64(**count, 0) : 0;
      Put(kMeta, kReferralCountKey, keys::U64(n + 1));
    }
    for (IndexEntry& e : wanted)
      Put(e.cf, std::move(e.key), std::move(e.value));
    Put(kReferrals, record.id(), record.SerializeAsString());
  }

  void AppendEvent(const v1::ReferralEvent& event) override {
    if (!error_.ok()) return;
    const std::string& id = event.referral_id();
    if (id.empty())
      return Fail(absl::InvalidArgumentError("event without referral_id"));
    if (absl::Status s = CheckKeyPart(id, "referral_id"); !s.ok())
      return Fail(std::move(s));
    if (event.sequence() < 1) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("event sequence ", event.sequence(), " of ", id,
                       " is not positive")));
    }
    std::string key = keys::EventKey(id, event.sequence());
    // A referral this transaction found absent from the store has no
    // stored events either (they are only ever written with it), so only
    // this transaction's own writes need checking.
    const bool new_referral = absent_.count({kReferrals, id}) > 0;
    auto lookup = [&](const std::string& k) {
      return new_referral ? Pending(kEvents, k) : Get(kEvents, k);
    };
    absl::StatusOr<std::optional<std::string>> existing = lookup(key);
    if (!existing.ok()) return Fail(existing.status());
    if (*existing) {
      return Fail(absl::FailedPreconditionError(absl::StrCat(
          "event ", event.sequence(), " of ", id, " already exists")));
    }
    if (event.sequence() > 1) {
      absl::StatusOr<std::optional<std::string>> before =
          lookup(keys::EventKey(id, event.sequence() - 1));
      if (!before.ok()) return Fail(before.status());
      if (!*before) {
        return Fail(absl::FailedPreconditionError(
            absl::StrCat("event ", event.sequence(), " of ", id,
                         " is not the next: no event ", event.sequence() - 1)));
      }
    }
    Put(kEvents, std::move(key), event.SerializeAsString());
  }

  void PutIdempotency(const std::string& request_id,
                      const IdempotencyEntry& entry) override {
    if (!error_.ok()) return;
    if (request_id.empty())
      return Fail(absl::InvalidArgumentError("empty request_id"));
    Put(kIdempotency, request_id,
        keys::EncodeIdempotency(entry.payload_hash, entry.referral_id));
  }

  void PutCapacity(const v1::ServiceState& state) override {
    if (!error_.ok()) return;
    if (state.service().id().empty()) {
      return Fail(absl::InvalidArgumentError("capacity without service id"));
    }
    Put(kCapacity, state.service().id(), state.SerializeAsString());
  }

  void AppendAudit(v1::AuditEntry entry) override {
    if (!error_.ok()) return;
    if (absl::Status s = audit::CheckIndexedValues(entry); !s.ok())
      return Fail(std::move(s));
    audit_.push_back(std::move(entry));
  }

  // The first write error (OK if none).
  const absl::Status& error() const { return error_; }

  // Moves this mutation's writes into the group's overlay (the writer puts
  // the overlay into the group's batch at the end), and seals its audit
  // entries onto `chain`, adding them to `batch`.
  void ApplyTo(Overlay* overlay, rocksdb::WriteBatch* batch,
               audit::AuditChain* chain) {
    for (auto& [k, v] : layer_) (*overlay)[k] = std::move(v);
    layer_.clear();
    for (v1::AuditEntry& entry : audit_) chain->Append(&entry, batch);
    audit_.clear();
  }

 private:
  static absl::Status Validate(const v1::ReferralRecord& r) {
    if (r.id().empty())
      return absl::InvalidArgumentError("referral record without id");
    FRONTDOOR_RETURN_IF_ERROR(CheckKeyPart(r.id(), "referral id"));
    if (!r.has_received_at()) {
      return absl::InvalidArgumentError(
          absl::StrCat("referral ", r.id(), " without received_at"));
    }
    if (r.status() == v1::REFERRAL_STATUS_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("referral ", r.id(), " without status"));
    }
    FRONTDOOR_RETURN_IF_ERROR(
        CheckKeyPart(r.service().service_id(), "service id"));
    FRONTDOOR_RETURN_IF_ERROR(
        CheckKeyPart(r.referral().patient().nhs_number(), "NHS number"));
    return absl::OkStatus();
  }

  void Fail(absl::Status s) {
    if (error_.ok()) error_ = std::move(s);
  }

  void Put(int cf, std::string key, std::string value) {
    layer_[{cf, std::move(key)}] = std::move(value);
  }
  void Delete(int cf, std::string key) {
    layer_[{cf, std::move(key)}] = std::nullopt;
  }

  absl::StatusOr<std::optional<std::string>> Get(int cf,
                                                 const std::string& key) {
    std::pair<int, std::string> k(cf, key);
    if (const std::optional<std::string>* w = Written(k)) return *w;
    // A key read once and found missing stays missing for this
    // transaction unless it writes it (Written, above).
    if (absent_.count(k) > 0) return std::optional<std::string>();
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cfs_[cf], key, &value);
    if (s.IsNotFound()) {
      absent_.insert(std::move(k));
      return std::optional<std::string>();
    }
    if (!s.ok()) return FromRocks(s, "read");
    return std::optional<std::string>(std::move(value));
  }

  // `key` as this transaction and its group have written it (nullopt if
  // they have not), without reading the store.
  absl::StatusOr<std::optional<std::string>> Pending(int cf,
                                                     const std::string& key) {
    const std::optional<std::string>* w = Written({cf, key});
    return w != nullptr ? *w : std::optional<std::string>();
  }

  // This transaction's, else its group's, write of `k` (a nullopt value is
  // a delete); null if neither wrote it.
  const std::optional<std::string>* Written(
      const std::pair<int, std::string>& k) const {
    if (auto it = layer_.find(k); it != layer_.end()) return &it->second;
    if (auto it = group_->find(k); it != group_->end()) return &it->second;
    return nullptr;
  }

  // Keys of `cf` in [lower, upper) (upper "" = no bound), in order, as the
  // database plus the group's overlay plus this layer have them.
  absl::StatusOr<std::vector<std::string>> ScanKeys(int cf,
                                                    const std::string& lower,
                                                    const std::string& upper) {
    std::set<std::string> found;
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper_slice(upper);
    if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[cf]));
    for (it->Seek(lower); it->Valid(); it->Next())
      found.insert(it->key().ToString());
    if (!it->status().ok()) return FromRocks(it->status(), "scan");
    for (const Overlay* overlay :
         {group_, static_cast<const Overlay*>(&layer_)}) {
      for (auto o = overlay->lower_bound({cf, lower});
           o != overlay->end() && o->first.first == cf &&
           (upper.empty() || o->first.second < upper);
           ++o) {
        if (o->second) {
          found.insert(o->first.second);
        } else {
          found.erase(o->first.second);
        }
      }
    }
    return std::vector<std::string>(found.begin(), found.end());
  }

  rocksdb::DB* const db_;
  const std::vector<rocksdb::ColumnFamilyHandle*>& cfs_;
  const Overlay* const group_;
  Overlay layer_;
  std::set<std::pair<int, std::string>> absent_;  // read from the store, missing
  std::vector<v1::AuditEntry> audit_;
  absl::Status error_;
};

bool Matches(const v1::ReferralRecord& r, const ReferralFilter& f) {
  if (f.pathway != v1::PATHWAY_UNSPECIFIED && r.pathway() != f.pathway)
    return false;
  if (!f.service_id.empty() && r.service().service_id() != f.service_id)
    return false;
  if (f.status != v1::REFERRAL_STATUS_UNSPECIFIED && r.status() != f.status)
    return false;
  if (!f.nhs_number.empty() &&
      r.referral().patient().nhs_number() != f.nhs_number)
    return false;
  const uint64_t received = keys::Micros(r.received_at());
  if (f.received_after && received < keys::Micros(*f.received_after))
    return false;
  if (f.received_before && received >= keys::Micros(*f.received_before))
    return false;
  if (f.breached_only && r.sla() != v1::SLA_STATE_BREACHED) return false;
  if (!f.submitted_by.empty() && r.submitted_by() != f.submitted_by) return false;
  return true;
}

class RocksDbReferralStore final : public ReferralStore {
 public:
  RocksDbReferralStore(const Options& options, std::unique_ptr<rocksdb::DB> db,
                       std::vector<rocksdb::ColumnFamilyHandle*> handles,
                       audit::AuditChain chain)
      : options_(options),
        db_(std::move(db)),
        handles_(std::move(handles)),
        chain_(std::move(chain)) {
    // handles_[0] is the default column family; ours follow in Cf order.
    cfs_.assign(handles_.begin() + 1, handles_.end());
    completer_ = std::thread([this] {
      SetCurrentThreadName("fd-store-done");
      CompletionLoop();
    });
    writer_ = std::thread([this] {
      SetCurrentThreadName("fd-store-writer");
      WriterLoop();
    });
  }

  ~RocksDbReferralStore() override { Close(); }

  void Commit(Mutation mutation, Done done) override {
    absl::Status rejected;
    {
      absl::MutexLock lock(&mu_);
      if (!failure_.ok()) {
        rejected = failure_;
      } else if (closing_) {
        rejected = absl::UnavailableError("referral store is closed");
      } else if (queue_.size() >= static_cast<size_t>(options_.max_pending)) {
        rejected = absl::ResourceExhaustedError(absl::StrCat(
            "referral store: ", queue_.size(), " writes already queued"));
      } else {
        queue_.push_back({std::move(mutation), std::move(done)});
        if (queue_.size() == 1) work_.Signal();
        return;
      }
    }
    if (done) done(std::move(rejected));
  }

  absl::StatusOr<std::optional<v1::ReferralRecord>> GetReferral(
      const std::string& id) override {
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<std::string> value,
                               GetReferralBytes(id));
    if (!value) return std::optional<v1::ReferralRecord>();
    FRONTDOOR_ASSIGN_OR_RETURN(
        v1::ReferralRecord record,
        Parse<v1::ReferralRecord>(*value, "referral " + id));
    return std::optional<v1::ReferralRecord>(std::move(record));
  }

  absl::StatusOr<std::optional<std::string>> GetReferralBytes(
      const std::string& id) override {
    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cfs_[kReferrals], id, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "read referral"));
    return std::optional<std::string>(std::move(value));
  }

  absl::StatusOr<std::vector<v1::ReferralEvent>> ListEvents(
      const std::string& id) override {
    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    std::vector<v1::ReferralEvent> out;
    const std::string prefix = keys::EventPrefix(id);
    const std::string upper = keys::PrefixEnd(prefix);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[kEvents]));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      FRONTDOOR_ASSIGN_OR_RETURN(
          v1::ReferralEvent event,
          Parse<v1::ReferralEvent>(ToView(it->value()), "event"));
      out.push_back(std::move(event));
    }
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(it->status(), "list events"));
    return out;
  }

  absl::StatusOr<Page<v1::WorklistEntry>> ScanWorklist(
      v1::Pathway pathway, const std::string& service_id,
      const std::string& position, int limit) override {
    if (limit < 1)
      return absl::InvalidArgumentError("worklist limit must be at least 1");
    FRONTDOOR_RETURN_IF_ERROR(CheckKeyPart(service_id, "service id"));
    const std::string scope = service_id.empty()
                                  ? keys::PathwayScope(pathway)
                                  : keys::ServiceScope(service_id);
    if (!position.empty() && (!absl::StartsWith(position, scope) ||
                              position.size() < scope.size() + 8)) {
      return absl::InvalidArgumentError(
          "worklist position is not from this worklist");
    }
    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    const std::string upper = keys::PrefixEnd(scope);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(ro, cfs_[kWorklist]));
    Page<v1::WorklistEntry> page;
    SeekAfter(it.get(), scope, position);
    std::string last;
    for (; it->Valid(); it->Next()) {
      if (page.items.size() == static_cast<size_t>(limit)) {
        page.next_position = last;
        break;
      }
      FRONTDOOR_ASSIGN_OR_RETURN(
          v1::WorklistEntry entry,
          Parse<v1::WorklistEntry>(ToView(it->value()), "worklist entry"));
      page.items.push_back(std::move(entry));
      last = it->key().ToString();
    }
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(it->status(), "scan worklist"));
    return page;
  }

  absl::StatusOr<Page<v1::ReferralRecord>> ListReferrals(
      const ReferralFilter& filter, const std::string& position, int limit,
      int max_scan) override {
    if (limit < 1 || max_scan < 1) {
      return absl::InvalidArgumentError(
          "list limit and max_scan must be at least 1");
    }
    FRONTDOOR_RETURN_IF_ERROR(CheckKeyPart(filter.nhs_number, "NHS number"));
    const bool by_nhs = !filter.nhs_number.empty();
    const std::string prefix =
        by_nhs ? keys::NhsPrefix(filter.nhs_number) : std::string();
    if (!position.empty() && (!absl::StartsWith(position, prefix) ||
                              position.size() < prefix.size() + 8)) {
      return absl::InvalidArgumentError(
          "list position does not belong to this query");
    }
    Page<v1::ReferralRecord> page;
    // Keys hold UINT64_MAX - received micros: the wanted times are the
    // inverted range [inv_lo, inv_hi].
    uint64_t inv_lo = 0;
    uint64_t inv_hi = keys::kMaxU64;
    if (filter.received_before) {
      const uint64_t before = keys::Micros(*filter.received_before);
      if (before == 0) return page;  // nothing is received before the epoch
      inv_lo = keys::kMaxU64 - (before - 1);
    }
    if (filter.received_after)
      inv_hi = keys::kMaxU64 - keys::Micros(*filter.received_after);
    if (inv_lo > inv_hi) return page;
    const std::string lower = prefix + keys::U64(inv_lo);
    const std::string upper = inv_hi == keys::kMaxU64
                                  ? keys::PrefixEnd(prefix)
                                  : prefix + keys::U64(inv_hi + 1);

    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    rocksdb::ManagedSnapshot snapshot(db_.get());
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot.snapshot();
    rocksdb::Slice upper_slice(upper);
    if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(ro, cfs_[by_nhs ? kByNhs : kByTime]));
    rocksdb::ReadOptions get_options;
    get_options.snapshot = snapshot.snapshot();

    if (position.empty() || position < lower) {
      it->Seek(lower);
    } else {
      SeekAfter(it.get(), prefix, position);
    }
    std::string last;
    int examined = 0;
    std::string value;
    for (; it->Valid(); it->Next()) {
      if (page.items.size() == static_cast<size_t>(limit) ||
          examined == max_scan) {
        page.next_position = last;
        break;
      }
      ++examined;
      last = it->key().ToString();
      const std::string id = last.substr(prefix.size() + 8);
      rocksdb::Status s = db_->Get(get_options, cfs_[kReferrals], id, &value);
      if (s.IsNotFound())
        continue;  // cannot happen: indexes change with their record
      FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "read referral"));
      FRONTDOOR_ASSIGN_OR_RETURN(
          v1::ReferralRecord record,
          Parse<v1::ReferralRecord>(value, "referral " + id));
      if (Matches(record, filter)) page.items.push_back(std::move(record));
    }
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(it->status(), "list referrals"));
    return page;
  }

  using ReferralStore::ScanReferrals;
  absl::Status ScanReferrals(
      const ReferralFilter& filter, const ScanOptions& options,
      std::function<bool(const v1::ReferralRecord&)> visit) override {
    FRONTDOOR_RETURN_IF_ERROR(CheckKeyPart(filter.nhs_number, "NHS number"));
    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    rocksdb::ManagedSnapshot snapshot(db_.get());
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot.snapshot();
    ro.readahead_size = kScanReadaheadBytes;
    ro.fill_cache = false;  // a full pass would evict the hot blocks
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(ro, cfs_[kReferrals]));
    // Each record is parsed into an arena, reset for the next: a stored
    // decision holds dozens of strings, and a malloc and free for each
    // would cost more than reading and parsing them.
    std::unique_ptr<char[]> block(new char[kScanArenaBytes]);
    google::protobuf::ArenaOptions arena_options;
    arena_options.initial_block = block.get();
    arena_options.initial_block_size = kScanArenaBytes;
    google::protobuf::Arena arena(arena_options);
    std::string stripped;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      arena.Reset();
      auto* record =
          google::protobuf::Arena::CreateMessage<v1::ReferralRecord>(&arena);
      absl::string_view value = ToView(it->value());
      if (options.omit_decision &&
          WithoutField(value, v1::ReferralRecord::kDecisionFieldNumber,
                       &stripped)) {
        value = stripped;
      }
      if (!record->ParseFromArray(value.data(),
                                  static_cast<int>(value.size()))) {
        return absl::DataLossError(
            absl::StrCat("unparsable referral ", it->key().ToString()));
      }
      if (!Matches(*record, filter)) continue;
      if (!visit(*record)) break;
    }
    return FromRocks(it->status(), "scan referrals");
  }

  absl::StatusOr<std::vector<std::string>> DueForSlaCheck(absl::Time now,
                                                          int limit) override {
    const std::string upper = keys::U64(keys::Micros(now) + 1);
    return ScanIds(kSla, upper, limit);
  }

  absl::StatusOr<std::vector<std::string>> AwaitingTriage(int limit) override {
    return ScanIds(kAwaiting, "", limit);
  }

  absl::Status PutCapacity(const v1::ServiceState& state) override {
    return CommitAndWait([state](Txn& txn) {
      txn.PutCapacity(state);
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<v1::ServiceState>> ListCapacity() override {
    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    std::vector<v1::ServiceState> out;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cfs_[kCapacity]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      FRONTDOOR_ASSIGN_OR_RETURN(
          v1::ServiceState state,
          Parse<v1::ServiceState>(ToView(it->value()), "service state"));
      out.push_back(std::move(state));
    }
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(it->status(), "list capacity"));
    return out;
  }

  absl::StatusOr<int64_t> ApproximateReferralCount() override {
    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cfs_[kMeta],
                                 kReferralCountKey, &value);
    if (s.IsNotFound()) return 0;
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "read referral count"));
    return static_cast<int64_t>(keys::ReadU64(value, 0));
  }

  absl::Status Backup(const std::string& dir) override {
    if (dir.empty())
      return absl::InvalidArgumentError("empty backup directory");
    absl::MutexLock backup_lock(&backup_mu_);
    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    rocksdb::BackupEngine* raw = nullptr;
    rocksdb::IOStatus s = rocksdb::BackupEngine::Open(
        rocksdb::Env::Default(), rocksdb::BackupEngineOptions(dir), &raw);
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "open backup engine"));
    std::unique_ptr<rocksdb::BackupEngine> engine(raw);
    // Flushing first keeps the WAL in the backup short; RocksDB still copies
    // the WAL files the column families need, so the backup is a consistent
    // cut across them.
    s = engine->CreateNewBackup(db_.get(), /*flush_before_backup=*/true);
    return FromRocks(s, "backup");
  }

  absl::StatusOr<Page<v1::AuditEntry>> QueryAudit(const AuditFilter& filter,
                                                  const std::string& position,
                                                  int limit) override {
    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    rocksdb::ManagedSnapshot snapshot(db_.get());
    return audit::Query(db_.get(), AuditHandles(cfs_), snapshot.snapshot(),
                        filter, position, limit);
  }

  absl::StatusOr<v1::VerifyAuditResponse> VerifyAudit(
      const v1::VerifyAuditRequest& request) override {
    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    rocksdb::ManagedSnapshot snapshot(db_.get());
    return audit::Verify(db_.get(), AuditHandles(cfs_), snapshot.snapshot(),
                         request);
  }

  bool healthy() const override {
    return healthy_.load(std::memory_order_acquire);
  }

  absl::Status failure() const override {
    absl::MutexLock lock(&mu_);
    return failure_;
  }

  void Close() override {
    absl::MutexLock close_lock(&close_mu_);
    if (closed_) return;
    {
      absl::MutexLock lock(&mu_);
      closing_ = true;
      work_.Signal();
    }
    writer_.join();
    {
      absl::MutexLock lock(&completions_mu_);
      completions_closing_ = true;
      completions_work_.Signal();
    }
    completer_.join();  // every acknowledgement delivered
    absl::WriterMutexLock lock(&db_mu_);
    if (healthy()) {
      // Leaves nothing to replay at the next Open. Errors are ignored: the
      // WAL already holds every acknowledged write.
      rocksdb::FlushOptions flush;
      flush.wait = true;
      db_->Flush(flush, cfs_).PermitUncheckedError();
    }
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
    handles_.clear();
    cfs_.clear();
    db_->Close().PermitUncheckedError();
    db_.reset();
    db_closed_ = true;
    closed_ = true;
  }

 private:
  struct Pending {
    Mutation mutation;
    Done done;
  };
  // A commit's acknowledgement, waiting for the completion thread.
  struct Completion {
    Done done;
    absl::Status status;
  };

  static absl::string_view ToView(const rocksdb::Slice& s) {
    return absl::string_view(s.data(), s.size());
  }

  absl::Status CheckOpen() const ABSL_SHARED_LOCKS_REQUIRED(db_mu_) {
    if (db_closed_) return absl::UnavailableError("referral store is closed");
    return absl::OkStatus();
  }

  // Positions `it` at the first key after `position` (which starts with
  // `prefix`), or at `prefix` when `position` is empty.
  static void SeekAfter(rocksdb::Iterator* it, const std::string& prefix,
                        const std::string& position) {
    if (position.empty()) {
      it->Seek(prefix);
      return;
    }
    it->Seek(position);
    if (it->Valid() && it->key() == rocksdb::Slice(position)) it->Next();
  }

  // Ids from the first `limit` keys of `cf` below `upper` ("" = no bound);
  // the keys are an 8-byte number then the id.
  absl::StatusOr<std::vector<std::string>> ScanIds(Cf cf,
                                                   const std::string& upper,
                                                   int limit) {
    if (limit < 1)
      return absl::InvalidArgumentError("limit must be at least 1");
    absl::ReaderMutexLock lock(&db_mu_);
    FRONTDOOR_RETURN_IF_ERROR(CheckOpen());
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper_slice(upper);
    if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[cf]));
    std::vector<std::string> out;
    for (it->SeekToFirst();
         it->Valid() && out.size() < static_cast<size_t>(limit); it->Next()) {
      out.emplace_back(keys::IdAfterU64(ToView(it->key())));
    }
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(it->status(), "scan"));
    return out;
  }

  void WriterLoop() {
    std::vector<Pending> group;
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        while (queue_.empty() && !closing_) work_.Wait(&mu_);
        if (queue_.empty()) return;  // closing, and everything queued is done
        const size_t n =
            std::min(queue_.size(), static_cast<size_t>(options_.max_group));
        for (size_t i = 0; i < n; ++i) {
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      RunGroup(&group);
      group.clear();
    }
  }

  void RunGroup(std::vector<Pending>* group) {
    std::vector<absl::Status> results(group->size());
    absl::Status failed = failure();
    if (!failed.ok()) {
      for (absl::Status& r : results) r = failed;
    } else {
      Overlay overlay;
      rocksdb::WriteBatch batch;
      for (size_t i = 0; i < group->size(); ++i) {
        Pending& p = (*group)[i];
        TxnImpl txn(db_.get(), cfs_, &overlay);
        absl::Status s = p.mutation ? p.mutation(txn) : absl::OkStatus();
        if (s.ok()) s = txn.error();
        if (s.ok()) txn.ApplyTo(&overlay, &batch, &chain_);
        results[i] = std::move(s);
        p.mutation = nullptr;  // release captures before the fsync
      }
      // The group's last value of each key, in key order within each
      // column family: the memtable's skip lists then insert each key next
      // to the one before it, instead of searching from the top for every
      // key of every mutation in turn.
      for (const auto& [k, v] : overlay) {
        if (v) {
          batch.Put(cfs_[k.first], k.second, *v);
        } else {
          batch.Delete(cfs_[k.first], k.second);
        }
      }
      if (batch.Count() > 0) {
        rocksdb::WriteOptions write_options;
        write_options.sync = options_.sync;
        rocksdb::Status s = db_->Write(write_options, &batch);
        if (!s.ok()) {
          failed = Latch(FromRocks(s, "write"));
          for (absl::Status& r : results) {
            if (r.ok()) r = failed;
          }
        }
      }
    }
    std::vector<Completion> completions;
    completions.reserve(group->size());
    for (size_t i = 0; i < group->size(); ++i) {
      Pending& p = (*group)[i];
      if (p.done) completions.push_back({std::move(p.done), std::move(results[i])});
    }
    if (completions.empty()) return;
    absl::MutexLock lock(&completions_mu_);
    completions_.push_back(std::move(completions));
    if (completions_.size() == 1) completions_work_.Signal();
  }

  // Runs the `done` callbacks of durable groups, in commit order, until
  // Close() and the writer have finished.
  void CompletionLoop() {
    std::deque<std::vector<Completion>> ready;
    for (;;) {
      {
        absl::MutexLock lock(&completions_mu_);
        while (completions_.empty() && !completions_closing_) {
          completions_work_.Wait(&completions_mu_);
        }
        if (completions_.empty()) return;  // closing, everything delivered
        ready.swap(completions_);
      }
      for (std::vector<Completion>& group : ready) {
        for (Completion& c : group) c.done(std::move(c.status));
      }
      ready.clear();
    }
  }

  // Records the first write failure; returns the status every commit gets
  // from now on.
  absl::Status Latch(const absl::Status& cause) {
    absl::MutexLock lock(&mu_);
    if (failure_.ok()) {
      failure_ = absl::UnavailableError(
          absl::StrCat("referral store failed, writes refused until restart: ",
                       cause.message()));
      healthy_.store(false, std::memory_order_release);
    }
    return failure_;
  }

  // Constant after construction.
  const Options options_;

  // The database and its column families (handles_[0] is the default one,
  // cfs_ are ours in Cf order). The pointers are constant until Close();
  // readers hold db_mu_ shared, Close() exclusive; the writer thread uses
  // them freely because Close() joins it first.
  mutable absl::Mutex db_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  bool db_closed_ ABSL_GUARDED_BY(db_mu_) = false;

  // Protected by mu_: the queue and the failure latch.
  mutable absl::Mutex mu_;
  absl::CondVar
      work_;  // signalled when the queue becomes non-empty or on close
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> healthy_{true};

  // Acknowledgements of durable groups, for the completion thread.
  absl::Mutex completions_mu_;
  absl::CondVar completions_work_;  // signalled when it becomes non-empty or on close
  std::deque<std::vector<Completion>> completions_ ABSL_GUARDED_BY(completions_mu_);
  bool completions_closing_ ABSL_GUARDED_BY(completions_mu_) = false;

  // The audit trail's head. Used only by the writer thread (and by Open
  // before the writer starts).
  audit::AuditChain chain_;

  // Serialises backups.
  absl::Mutex backup_mu_;

  // Serialises Close().
  absl::Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;

  std::thread writer_;
  std::thread completer_;
};

// The part of an index key up to and including its '\0' separator: the
// indexed value (store_keys.h). Keys without one are out of its domain.
class UpToSeparator final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "frontdoor.UpToSeparator"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const void* nul = std::memchr(key.data(), '\0', key.size());
    return rocksdb::Slice(key.data(),
                          static_cast<const char*>(nul) - key.data() + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), '\0', key.size()) != nullptr;
  }
};

rocksdb::ColumnFamilyOptions ColumnFamilyOptionsFor(
    Cf cf, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  o.compression = rocksdb::kLZ4Compression;
  o.write_buffer_size = kWriteBufferBytes;
  o.max_write_buffer_number = kMaxWriteBuffers;
  o.level_compaction_dynamic_level_bytes = true;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  t.format_version = 5;
  // Bloom filters where lookups are by whole key. Referrals and events are
  // probed for keys that often do not exist yet (a new record, the next
  // event), so the filters stay on every level (no optimize_filters_for_hits).
  if (cf == kReferrals || cf == kEvents || cf == kIdempotency) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // Partitioned: at a million referrals a whole-file filter (megabytes)
    // is larger than a cache shard and would be read again on every probe;
    // partitions are small blocks, and the top level stays pinned.
    t.partition_filters = true;
    t.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    t.metadata_block_size = 4096;
    t.pin_top_level_index_and_filter = true;
    // And a whole-key Bloom filter in the memtable: every submission looks
    // up keys that do not exist yet (its reference, its events, its
    // idempotency key), each otherwise a full skip-list search.
    o.memtable_prefix_bloom_size_ratio = 0.02;
    o.memtable_whole_key_filtering = true;
  }
  // The audit indexes are appended per indexed value in seq order (value
  // '\0' seq), and one patient's, referral's or principal's entries tend
  // to come close together in time. RocksDB keeps the last insert position
  // of each value in the memtable, so the next entry of that value is
  // placed next to it instead of searched for from the top of the skip list.
  if (cf == kAudit + audit::kByNhs || cf == kAudit + audit::kByPrincipal ||
      cf == kAudit + audit::kByReferral) {
    o.memtable_insert_with_hint_prefix_extractor =
        std::make_shared<UpToSeparator>();
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

}  // namespace

absl::Status ReferralStore::CommitAndWait(Mutation mutation) {
  absl::Notification done;
  absl::Status result;
  Commit(std::move(mutation), [&](absl::Status s) {
    result = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

void ReferralStore::AppendAudit(v1::AuditEntry entry, Done done) {
  Commit(
      [entry = std::move(entry)](Txn& txn) mutable {
        txn.AppendAudit(std::move(entry));
        return absl::OkStatus();
      },
      std::move(done));
}

absl::StatusOr<std::unique_ptr<ReferralStore>> ReferralStore::Open(
    const Options& options) {
  if (options.path.empty())
    return absl::InvalidArgumentError("referral store: empty path");
  if (options.max_pending < 1 || options.max_group < 1) {
    return absl::InvalidArgumentError(
        "referral store: max_pending and max_group must be >= 1");
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  if (options.env != nullptr) db_options.env = options.env;
  db_options.max_open_files = kMaxOpenFiles;
  db_options.max_background_jobs = 2;
  // Flushes and compactions run at the lowest CPU priority (nice 19): on a
  // busy machine they take the cores' spare time instead of delaying the
  // writer thread and the calls waiting on it (+2-8% durable submissions at
  // 64 callers on two cores, docs/benchmarks.md). They still run whenever a
  // core is free; if they fall behind, RocksDB slows writes down, and the
  // queue then answers RESOURCE_EXHAUSTED, before memory grows. The pools
  // belong to the Env, so this holds for every store in the process.
  for (rocksdb::Env::Priority pool :
       {rocksdb::Env::Priority::LOW, rocksdb::Env::Priority::HIGH}) {
    db_options.env->LowerThreadPoolCPUPriority(pool, rocksdb::CpuPriority::kLow)
        .PermitUncheckedError();  // NotSupported where the Env cannot
  }
  db_options.db_write_buffer_size = kTotalWriteBuffers;
  db_options.max_total_wal_size = kMaxTotalWalBytes;
  db_options.keep_log_file_num = 5;
  db_options.skip_stats_update_on_db_open =
      true;  // no reading every table at Open
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.manual_wal_flush =
      false;  // the WAL reaches the OS before Write() returns
  db_options.paranoid_checks = true;

  std::shared_ptr<rocksdb::Cache> cache =
      rocksdb::NewLRUCache(options.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                           rocksdb::ColumnFamilyOptions());
  for (int cf = 0; cf < kNumCfs; ++cf) {
    descriptors.emplace_back(
        kCfNames[cf], ColumnFamilyOptionsFor(static_cast<Cf>(cf), cache));
  }
  // The default column family is unused; keep its memtable small.
  descriptors[0].options.write_buffer_size = 1 << 20;

  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "open " + options.path));
  std::unique_ptr<rocksdb::DB> db(raw);

  auto close_handles = [&] {
    for (rocksdb::ColumnFamilyHandle* h : handles)
      db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  };
  std::string version;
  s = db->Get(rocksdb::ReadOptions(), handles[1 + kMeta], kSchemaVersionKey,
              &version);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions w;
    w.sync = true;
    s = db->Put(w, handles[1 + kMeta], kSchemaVersionKey,
                keys::U64(kSchemaVersion));
  } else if (s.ok() && keys::ReadU64(version, 0) > kSchemaVersion) {
    close_handles();
    return absl::FailedPreconditionError(
        absl::StrCat("referral store at ", options.path, " has schema version ",
                     keys::ReadU64(version, 0), ", newer than this binary's ",
                     kSchemaVersion));
  }
  if (!s.ok()) {
    close_handles();
    return FromRocks(s, "schema version");
  }
  std::vector<rocksdb::ColumnFamilyHandle*> ours(handles.begin() + 1,
                                                 handles.end());
  absl::StatusOr<audit::AuditChain> chain =
      audit::AuditChain::Load(db.get(), AuditHandles(ours), options.clock);
  if (!chain.ok()) {
    close_handles();
    return chain.status();
  }
  return std::unique_ptr<ReferralStore>(new RocksDbReferralStore(
      options, std::move(db), std::move(handles), *std::move(chain)));
}

absl::Status RestoreReferralStore(const std::string& backup_dir,
                                  const std::string& db_path) {
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw);
  FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "open backup " + backup_dir));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  s = engine->RestoreDBFromLatestBackup(db_path, db_path);
  return FromRocks(s, "restore into " + db_path);
}

}  // namespace frontdoor::storage
