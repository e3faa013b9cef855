// The audit trail inside the referral store's database: entries by seq in
// column family "audit" and three indexes (by NHS number, principal and
// referral id; keys in store_keys.h). Internal to storage/: the store seals
// new entries with AuditChain on its writer thread, and QueryAudit,
// VerifyAudit and VerifyAuditOffline (referral_store.h) read through the
// functions here.
//
// An entry's hash is SHA-256 of its prev_hash followed by the deterministic
// serialization of the entry with `hash` cleared (prev_hash included); the
// prev_hash of entry 1 is 32 zero bytes. AuditEntry has no map fields, so
// that serialization is the fields in number order, which does not change
// between protobuf versions.

#ifndef FRONTDOOR_STORAGE_AUDIT_TRAIL_H_
#define FRONTDOOR_STORAGE_AUDIT_TRAIL_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "frontdoor/v1/audit.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "services/common/clock.h"
#include "storage/referral_store.h"

namespace frontdoor::storage::audit {

// The audit trail's column families, in the order of AuditCfs.
enum AuditCf : int {
  kEntries = 0,
  kByNhs,
  kByPrincipal,
  kByReferral,
  kNumAuditCfs,
};
inline constexpr const char* kAuditCfNames[kNumAuditCfs] = {
    "audit", "audit_by_nhs", "audit_by_principal", "audit_by_referral"};

// Handles of the column families above, owned by the database's owner.
using AuditCfs = std::array<rocksdb::ColumnFamilyHandle*, kNumAuditCfs>;

// INVALID_ARGUMENT if a value the trail indexes (principal, referral_id,
// nhs_number) contains a NUL byte: it would end the value in an index key.
absl::Status CheckIndexedValues(const v1::AuditEntry& entry);

// The hash of `entry` as described above; `entry.hash()` must be empty.
std::string EntryHash(const v1::AuditEntry& entry);

// The head of the chain, and the sealing of new entries onto it.
//
// Not thread-safe: the store's writer thread owns it, so entries are sealed
// in commit order. The handles must outlive it.
class AuditChain {
 public:
  // Reads the head: the last entry (one seek, no scan). A head that does not
  // parse is not fatal (the trail keeps recording, and VerifyAudit reports
  // that entry): the next entry then links to SHA-256 of its stored bytes.
  static absl::StatusOr<AuditChain> Load(rocksdb::DB* db, const AuditCfs& cfs,
                                         Clock* clock);

  // Seals `entry` as the next link (seq, time, prev_hash, hash; anything the
  // caller put there is replaced) and adds it and its index entries to
  // `batch`. The caller has checked it with CheckIndexedValues.
  void Append(v1::AuditEntry* entry, rocksdb::WriteBatch* batch);

  uint64_t last_seq() const { return last_seq_; }

 private:
  AuditChain(const AuditCfs& cfs, Clock* clock) : cfs_(cfs), clock_(clock) {}

  AuditCfs cfs_;
  Clock* clock_;
  uint64_t last_seq_ = 0;
  std::string last_hash_ = std::string(32, '\0');
  absl::Time last_time_ = absl::InfinitePast();
};

// QueryAudit (referral_store.h) over `db`, read at `snapshot` (null: the
// latest state).
absl::StatusOr<Page<v1::AuditEntry>> Query(rocksdb::DB* db, const AuditCfs& cfs,
                                           const rocksdb::Snapshot* snapshot,
                                           const AuditFilter& filter,
                                           const std::string& position,
                                           int limit);

// VerifyAudit (referral_store.h) over `db`, read at `snapshot` (null: the
// latest state), against the head an earlier verify kept, if `request` has
// one.
absl::StatusOr<v1::VerifyAuditResponse> Verify(
    rocksdb::DB* db, const AuditCfs& cfs, const rocksdb::Snapshot* snapshot,
    const v1::VerifyAuditRequest& request);

// INVALID_ARGUMENT, naming the field, unless `request`'s known head is
// either absent or a count with a 32-byte hash.
absl::Status CheckVerifyRequest(const v1::VerifyAuditRequest& request);

}  // namespace frontdoor::storage::audit

#endif  // FRONTDOOR_STORAGE_AUDIT_TRAIL_H_
