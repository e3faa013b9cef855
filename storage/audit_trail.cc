#include "storage/audit_trail.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "services/common/log.h"
#include "services/common/proto_hash.h"
#include "services/common/proto_time.h"
#include "services/common/status_macros.h"
#include "storage/rocks_status.h"
#include "storage/store_keys.h"

namespace frontdoor::storage {
namespace audit {
namespace {

constexpr size_t kHashBytes = 32;
constexpr int kMaxOpenFiles = 512;

constexpr AuditCf kIndexCfs[] = {kByNhs, kByPrincipal, kByReferral};

absl::string_view ToView(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

// The value `entry` has in index `cf` ("" when it is not indexed there).
const std::string& IndexedValue(const v1::AuditEntry& entry, AuditCf cf) {
  switch (cf) {
    case kByNhs:
      return entry.nhs_number();
    case kByPrincipal:
      return entry.principal();
    default:
      return entry.referral_id();
  }
}

const char* IndexName(AuditCf cf) {
  switch (cf) {
    case kByNhs:
      return "NHS number";
    case kByPrincipal:
      return "principal";
    default:
      return "referral";
  }
}

rocksdb::ReadOptions At(const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  return ro;
}

absl::StatusOr<v1::AuditEntry> ParseEntry(absl::string_view value,
                                          uint64_t seq) {
  v1::AuditEntry entry;
  if (!entry.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(absl::StrCat(
        "audit entry ", seq, " does not parse (run 'frontdoor audit verify')"));
  }
  return entry;
}

// The seq of the first entry in [lo, hi) whose time is at or after `t`, or
// `hi` if there is none. Times never decrease with seq, so a binary search;
// seeking rather than getting keeps it correct across missing entries.
absl::StatusOr<uint64_t> FirstAtOrAfter(rocksdb::Iterator* entries,
                                        absl::Time t, uint64_t lo,
                                        uint64_t hi) {
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    entries->Seek(keys::AuditKey(mid));
    if (!entries->Valid()) {
      FRONTDOOR_RETURN_IF_ERROR(FromRocks(entries->status(), "audit query"));
      hi = mid;
      continue;
    }
    const uint64_t seq = keys::ReadU64(ToView(entries->key()), 0);
    if (seq >= hi) {  // nothing stored in [mid, hi)
      hi = mid;
      continue;
    }
    FRONTDOOR_ASSIGN_OR_RETURN(v1::AuditEntry entry,
                               ParseEntry(ToView(entries->value()), seq));
    if (FromProtoTime(entry.time()) >= t) {
      hi = mid;
    } else {
      lo = seq + 1;
    }
  }
  return lo;
}

// An index key: the indexed value, '\0', the seq.
struct IndexKey {
  bool well_formed = false;
  absl::string_view value;
  uint64_t seq = 0;
};

IndexKey ParseIndexKey(absl::string_view key) {
  IndexKey k;
  if (key.size() < 9 || key[key.size() - 9] != '\0') return k;
  k.well_formed = true;
  k.value = key.substr(0, key.size() - 9);
  k.seq = keys::ReadU64(key, key.size() - 8);
  return k;
}

// The first problem the walk of the chain found.
struct Problem {
  uint64_t seq = 0;  // 0: none
  std::string what;

  void Set(uint64_t at, std::string why) {
    if (seq == 0 || at < seq) {
      seq = at;
      what = std::move(why);
    }
  }
};

// Checks that index `cf` holds exactly `expected` entries below `limit`
// (the walk found each of them); if not, reports the lowest index entry
// below `limit` that names no entry or an entry with another value.
absl::Status CheckNoStrayIndexEntries(rocksdb::DB* db, const AuditCfs& cfs,
                                      const rocksdb::ReadOptions& ro,
                                      AuditCf cf, uint64_t expected,
                                      uint64_t limit, Problem* problem) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cfs[cf]));
  uint64_t count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (ParseIndexKey(ToView(it->key())).seq < limit) ++count;
  }
  FRONTDOOR_RETURN_IF_ERROR(FromRocks(it->status(), "read the audit index"));
  // Every expected key was found, and keys are distinct: equal counts mean
  // there is nothing else. Only otherwise is the index searched, entry by
  // entry.
  if (count == expected) return absl::OkStatus();
  std::string value;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const IndexKey k = ParseIndexKey(ToView(it->key()));
    if (k.seq >= limit) continue;
    const uint64_t at = std::max<uint64_t>(k.seq, 1);
    if (!k.well_formed) {
      problem->Set(at, absl::StrCat("the ", IndexName(cf),
                                    " index has a malformed key"));
      continue;
    }
    rocksdb::Status s =
        db->Get(ro, cfs[kEntries], keys::AuditKey(k.seq), &value);
    if (s.IsNotFound()) {
      problem->Set(
          at, absl::StrCat("the ", IndexName(cf), " index names entry ", k.seq,
                           ", which is missing"));
      continue;
    }
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "read the audit trail"));
    v1::AuditEntry entry;
    if (!entry.ParseFromString(value) || IndexedValue(entry, cf) != k.value) {
      problem->Set(at, absl::StrCat("the ", IndexName(cf),
                                    " index has an entry for entry ", k.seq,
                                    " that does not match it"));
    }
  }
  return FromRocks(it->status(), "read the audit index");
}

}  // namespace

absl::Status CheckIndexedValues(const v1::AuditEntry& entry) {
  for (AuditCf cf : kIndexCfs) {
    if (IndexedValue(entry, cf).find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "audit entry: the ", IndexName(cf), " contains a NUL byte"));
    }
  }
  return absl::OkStatus();
}

std::string EntryHash(const v1::AuditEntry& entry) {
  return Sha256(absl::StrCat(entry.prev_hash(), DeterministicBytes(entry)));
}

absl::StatusOr<AuditChain> AuditChain::Load(rocksdb::DB* db,
                                            const AuditCfs& cfs, Clock* clock) {
  AuditChain chain(cfs, clock != nullptr ? clock : RealClock::Get());
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions(), cfs[kEntries]));
  it->SeekToLast();
  if (!it->Valid()) {
    FRONTDOOR_RETURN_IF_ERROR(
        FromRocks(it->status(), "read the audit trail's last entry"));
    return chain;
  }
  // Without a seq, the next entry could overwrite an existing one.
  if (it->key().size() != 8) {
    return absl::DataLossError(
        "the audit trail's last key is malformed (run 'frontdoor audit "
        "verify --data_dir')");
  }
  chain.last_seq_ = keys::ReadU64(ToView(it->key()), 0);
  v1::AuditEntry head;
  if (head.ParseFromArray(it->value().data(),
                          static_cast<int>(it->value().size()))) {
    chain.last_hash_ = head.hash();
    chain.last_time_ = FromProtoTime(head.time());
  } else {
    chain.last_hash_ = Sha256(ToView(it->value()));
    log::Error(
        "the audit trail's last entry does not parse; the trail "
        "continues from it (run 'frontdoor audit verify')",
        {{"seq", chain.last_seq_}});
  }
  return chain;
}

void AuditChain::Append(v1::AuditEntry* entry, rocksdb::WriteBatch* batch) {
  const uint64_t seq = ++last_seq_;
  last_time_ = std::max(last_time_, clock_->Now());
  entry->set_seq(seq);
  *entry->mutable_time() = ToProtoTime(last_time_);
  entry->set_prev_hash(last_hash_);
  entry->clear_hash();
  last_hash_ = EntryHash(*entry);
  entry->set_hash(last_hash_);
  batch->Put(cfs_[kEntries], keys::AuditKey(seq), DeterministicBytes(*entry));
  for (AuditCf cf : kIndexCfs) {
    const std::string& value = IndexedValue(*entry, cf);
    if (!value.empty()) {
      batch->Put(cfs_[cf], keys::AuditIndexKey(value, seq), rocksdb::Slice());
    }
  }
}

absl::StatusOr<Page<v1::AuditEntry>> Query(rocksdb::DB* db, const AuditCfs& cfs,
                                           const rocksdb::Snapshot* snapshot,
                                           const AuditFilter& filter,
                                           const std::string& position,
                                           int limit) {
  if (limit < 1)
    return absl::InvalidArgumentError("audit query limit must be at least 1");
  AuditCf index = kEntries;
  const std::string* value = nullptr;
  for (auto [cf, v] : {std::make_pair(kByNhs, &filter.nhs_number),
                       std::make_pair(kByPrincipal, &filter.principal),
                       std::make_pair(kByReferral, &filter.referral_id)}) {
    if (v->empty()) continue;
    if (value != nullptr) {
      return absl::InvalidArgumentError(
          "audit query: at most one of nhs_number, principal and "
          "referral_id");
    }
    index = cf;
    value = v;
  }
  if (value != nullptr && value->find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audit query: the ", IndexName(index), " contains a NUL byte"));
  }
  if (!position.empty() && position.size() != 8) {
    return absl::InvalidArgumentError("audit query position is malformed");
  }

  Page<v1::AuditEntry> page;
  const rocksdb::ReadOptions ro = At(snapshot);
  std::unique_ptr<rocksdb::Iterator> entries(
      db->NewIterator(ro, cfs[kEntries]));
  entries->SeekToLast();
  if (!entries->Valid()) {
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(entries->status(), "audit query"));
    return page;
  }
  // The wanted seqs are [lo, hi).
  uint64_t lo = 1;
  uint64_t hi = keys::ReadU64(ToView(entries->key()), 0) + 1;
  if (filter.from) {
    FRONTDOOR_ASSIGN_OR_RETURN(
        lo, FirstAtOrAfter(entries.get(), *filter.from, lo, hi));
  }
  if (filter.to) {
    FRONTDOOR_ASSIGN_OR_RETURN(
        hi, FirstAtOrAfter(entries.get(), *filter.to, lo, hi));
  }
  if (!position.empty()) {
    const uint64_t after = keys::ReadU64(position, 0);
    if (after == keys::kMaxU64) return page;
    lo = std::max(lo, after + 1);
  }
  if (lo >= hi) return page;

  // Called before adding an entry in range: true (and the page ends there,
  // with a position to continue from) once the page is full.
  auto full = [&] {
    if (page.items.size() < static_cast<size_t>(limit)) return false;
    page.next_position = keys::AuditKey(page.items.back().seq());
    return true;
  };
  if (index == kEntries) {
    for (entries->Seek(keys::AuditKey(lo)); entries->Valid(); entries->Next()) {
      const uint64_t seq = keys::ReadU64(ToView(entries->key()), 0);
      if (seq >= hi || full()) break;
      FRONTDOOR_ASSIGN_OR_RETURN(v1::AuditEntry entry,
                                 ParseEntry(ToView(entries->value()), seq));
      page.items.push_back(std::move(entry));
    }
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(entries->status(), "audit query"));
    return page;
  }

  const std::string upper = keys::AuditIndexKey(*value, hi);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions index_ro = ro;
  index_ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(index_ro, cfs[index]));
  std::string bytes;
  for (it->Seek(keys::AuditIndexKey(*value, lo)); it->Valid(); it->Next()) {
    if (full()) break;
    const uint64_t seq = ParseIndexKey(ToView(it->key())).seq;
    rocksdb::Status s = db->Get(ro, cfs[kEntries], keys::AuditKey(seq), &bytes);
    if (s.IsNotFound()) {
      return absl::DataLossError(absl::StrCat(
          "the audit trail's ", IndexName(index), " index names entry ", seq,
          ", which is missing (run 'frontdoor audit verify')"));
    }
    FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "audit query"));
    FRONTDOOR_ASSIGN_OR_RETURN(v1::AuditEntry entry, ParseEntry(bytes, seq));
    if (IndexedValue(entry, index) != *value) {
      return absl::DataLossError(absl::StrCat(
          "the audit trail's ", IndexName(index), " index names entry ", seq,
          ", which does not match (run 'frontdoor audit verify')"));
    }
    page.items.push_back(std::move(entry));
  }
  FRONTDOOR_RETURN_IF_ERROR(FromRocks(it->status(), "audit query"));
  return page;
}

namespace {

// What a trail of `entries` shows against an earlier verify's `known`.
std::string TruncationProblem(uint64_t entries, uint64_t known) {
  return absl::StrCat("the trail ends at entry ", entries,
                      ", but an earlier verify counted ", known,
                      " (entries were removed from its end)");
}

}  // namespace

absl::Status CheckVerifyRequest(const v1::VerifyAuditRequest& request) {
  if (request.known_entries() == 0 && request.known_head_hash().empty()) {
    return absl::OkStatus();
  }
  if (request.known_entries() == 0) {
    return absl::InvalidArgumentError(
        "known_entries: required with known_head_hash");
  }
  if (request.known_head_hash().size() != kHashBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "known_head_hash: ", request.known_head_hash().size(),
        " bytes; a head hash is ", kHashBytes, " bytes (64 hex digits)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::VerifyAuditResponse> Verify(
    rocksdb::DB* db, const AuditCfs& cfs, const rocksdb::Snapshot* snapshot,
    const v1::VerifyAuditRequest& request) {
  FRONTDOOR_RETURN_IF_ERROR(CheckVerifyRequest(request));
  const uint64_t known = request.known_entries();
  const rocksdb::ReadOptions ro = At(snapshot);
  v1::VerifyAuditResponse out;
  Problem problem;
  // Index entries the walk found, by column family.
  std::array<uint64_t, kNumAuditCfs> indexed{};
  std::string prev_hash(kHashBytes, '\0');
  absl::Time prev_time = absl::InfinitePast();
  std::string ignored;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cfs[kEntries]));
  uint64_t expect = 1;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expect) {
    const absl::string_view key = ToView(it->key());
    const uint64_t seq = keys::ReadU64(key, 0);
    if (key.size() != 8 || seq < expect) {
      problem.Set(expect, absl::StrCat("entry ", expect,
                                       ": a malformed or out-of-order key"));
      break;
    }
    if (seq > expect) {
      problem.Set(expect, absl::StrCat("entry ", expect,
                                       " is missing (the next stored entry "
                                       "is ",
                                       seq, ")"));
      break;
    }
    absl::StatusOr<v1::AuditEntry> entry = ParseEntry(ToView(it->value()), seq);
    if (!entry.ok()) {
      problem.Set(seq, absl::StrCat("entry ", seq, " does not parse"));
      break;
    }
    if (entry->seq() != seq) {
      problem.Set(seq, absl::StrCat("entry ", seq, " holds entry ",
                                    entry->seq(), " (entries were moved)"));
      break;
    }
    if (entry->prev_hash() != prev_hash) {
      problem.Set(seq, seq == 1 ? std::string("entry 1: prev_hash is not 32 "
                                              "zero bytes")
                                : absl::StrCat("entry ", seq,
                                               ": prev_hash is not the hash "
                                               "of entry ",
                                               seq - 1));
      break;
    }
    std::string hash = std::move(*entry->mutable_hash());
    entry->clear_hash();
    if (EntryHash(*entry) != hash) {
      problem.Set(seq, absl::StrCat("entry ", seq,
                                    ": hash does not match its content (the "
                                    "entry was altered)"));
      break;
    }
    const absl::Time time = FromProtoTime(entry->time());
    if (time < prev_time) {
      problem.Set(seq, absl::StrCat("entry ", seq,
                                    ": time is earlier than "
                                    "entry ",
                                    seq - 1, "'s"));
      break;
    }
    std::array<uint64_t, kNumAuditCfs> found{};
    for (AuditCf cf : kIndexCfs) {
      const std::string& value = IndexedValue(*entry, cf);
      if (value.empty()) continue;
      rocksdb::Status s =
          db->Get(ro, cfs[cf], keys::AuditIndexKey(value, seq), &ignored);
      if (s.IsNotFound()) {
        problem.Set(seq, absl::StrCat("entry ", seq, ": its entry in the ",
                                      IndexName(cf), " index is missing"));
        break;
      }
      FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "read the audit index"));
      found[cf] = 1;
    }
    if (problem.seq != 0) break;
    // Every hash up to here is recomputed and chained, so a different hash
    // at the kept head means the history up to it was written again.
    if (seq == known && hash != request.known_head_hash()) {
      problem.Set(seq, absl::StrCat("entry ", seq,
                                    ": hash is not the head hash an earlier "
                                    "verify kept (the trail up to it was "
                                    "rewritten)"));
      break;
    }
    for (AuditCf cf : kIndexCfs) indexed[cf] += found[cf];
    prev_hash = std::move(hash);
    prev_time = time;
    out.set_entries(out.entries() + 1);
  }
  FRONTDOOR_RETURN_IF_ERROR(FromRocks(it->status(), "read the audit trail"));
  if (problem.seq == 0 && out.entries() < known) {
    problem.Set(out.entries() + 1, TruncationProblem(out.entries(), known));
  }

  // Index entries below the first bad entry (or anywhere, if none) must be
  // exactly those the walk found.
  const uint64_t limit = problem.seq != 0 ? problem.seq : keys::kMaxU64;
  for (AuditCf cf : kIndexCfs) {
    FRONTDOOR_RETURN_IF_ERROR(CheckNoStrayIndexEntries(
        db, cfs, ro, cf, indexed[cf], limit, &problem));
  }
  out.set_ok(problem.seq == 0);
  out.set_first_bad_seq(problem.seq);
  out.set_problem(problem.what);
  if (out.entries() > 0) out.set_head_hash(prev_hash);
  return out;
}

}  // namespace audit

absl::StatusOr<v1::VerifyAuditResponse> VerifyAuditOffline(
    const std::string& db_path, const v1::VerifyAuditRequest& request) {
  FRONTDOOR_RETURN_IF_ERROR(audit::CheckVerifyRequest(request));
  std::error_code ec;
  if (db_path.empty() || !std::filesystem::exists(
                             std::filesystem::path(db_path) / "CURRENT", ec)) {
    return absl::NotFoundError(absl::StrCat("no referral store in ", db_path));
  }
  // A database open for writing elsewhere cannot be read reliably: take its
  // lock, as a writer would, for the whole walk.
  rocksdb::Env* env = rocksdb::Env::Default();
  rocksdb::FileLock* lock = nullptr;
  rocksdb::Status s = env->LockFile(db_path + "/LOCK", &lock);
  if (!s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the store ", db_path,
        " is open in another process (a running frontdoor-server?): verify "
        "through the server instead (",
        s.ToString(), ")"));
  }
  absl::Cleanup unlock = [&] { env->UnlockFile(lock).PermitUncheckedError(); };

  std::vector<std::string> names;
  s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), db_path, &names);
  FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "list the column families"));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                           rocksdb::ColumnFamilyOptions());
  for (const char* name : audit::kAuditCfNames) {
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
  }
  if (descriptors.size() == 1) {  // written before the audit trail existed
    v1::VerifyAuditResponse empty;
    empty.set_ok(request.known_entries() == 0);
    if (!empty.ok()) {
      empty.set_first_bad_seq(1);
      empty.set_problem(audit::TruncationProblem(0, request.known_entries()));
    }
    return empty;
  }
  if (descriptors.size() != 1 + audit::kNumAuditCfs) {
    return absl::DataLossError(
        "the store has only some of the audit trail's column families");
  }

  rocksdb::DBOptions options;
  options.max_open_files = audit::kMaxOpenFiles;
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  s = rocksdb::DB::OpenForReadOnly(options, db_path, descriptors, &handles,
                                   &raw);
  FRONTDOOR_RETURN_IF_ERROR(FromRocks(s, "open " + db_path + " read-only"));
  std::unique_ptr<rocksdb::DB> db(raw);
  audit::AuditCfs cfs;
  std::copy(handles.begin() + 1, handles.end(), cfs.begin());
  absl::StatusOr<v1::VerifyAuditResponse> result =
      audit::Verify(db.get(), cfs, nullptr, request);
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  db->Close().PermitUncheckedError();
  return result;
}

}  // namespace frontdoor::storage
