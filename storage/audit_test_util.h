// Helpers for tests of the audit trail: entries as callers fill them, and
// the store's database opened directly, to tamper with what the store wrote.
// Test code only.

#ifndef FRONTDOOR_STORAGE_AUDIT_TEST_UTIL_H_
#define FRONTDOOR_STORAGE_AUDIT_TEST_UTIL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "frontdoor/v1/audit.pb.h"
#include "rocksdb/db.h"
#include "services/common/clock.h"
#include "storage/referral_store.h"
#include "storage/rocks_status.h"
#include "storage/store_keys.h"

namespace frontdoor::storage::testing {

// An entry as a caller fills it; the store assigns seq, time and hashes.
struct AuditSpec {
  std::string principal = "dr.jones";
  std::string role = "ROLE_CLINICIAN";
  std::string action = "/frontdoor.v1.ReferralService/GetReferral";
  std::string referral_id;
  std::string nhs_number;
  std::string outcome = "OK";
  std::string request_id = "req-1";
};

inline v1::AuditEntry MakeAuditEntry(const AuditSpec& spec) {
  v1::AuditEntry e;
  e.set_principal(spec.principal);
  e.set_role(spec.role);
  e.set_action(spec.action);
  e.set_referral_id(spec.referral_id);
  e.set_nhs_number(spec.nhs_number);
  e.set_outcome(spec.outcome);
  e.set_request_id(spec.request_id);
  e.set_channel("grpc");
  return e;
}

// Appends entries 1..n, one commit each, `step` apart on `clock`: odd ones
// for patient 111 by dr.jones, even ones for patient 222 by nurse.ali;
// entry i names referral "R<i>" and request "req-<i>".
inline absl::Status AppendAlternatingEntries(ReferralStore& store,
                                             FakeClock& clock, int n,
                                             absl::Duration step) {
  for (int i = 1; i <= n; ++i) {
    const bool odd = i % 2 == 1;
    AuditSpec spec{.principal = odd ? "dr.jones" : "nurse.ali",
                   .referral_id = absl::StrCat("R", i),
                   .nhs_number = odd ? "111" : "222",
                   .request_id = absl::StrCat("req-", i)};
    absl::Status s =
        store.CommitAndWait([entry = MakeAuditEntry(spec)](Txn& txn) {
          txn.AppendAudit(entry);
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    clock.Advance(step);
  }
  return absl::OkStatus();
}

// A store's database opened directly with all its column families, as an
// intruder with the files would. Only while no store has it open.
class RawStoreDb {
 public:
  static absl::StatusOr<std::unique_ptr<RawStoreDb>> Open(
      const std::string& path) {
    std::vector<std::string> names;
    rocksdb::Status s =
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
    if (!s.ok()) return FromRocks(s, "list column families");
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    auto raw = std::unique_ptr<RawStoreDb>(new RawStoreDb());
    rocksdb::DB* db = nullptr;
    s = rocksdb::DB::Open(rocksdb::DBOptions(), path, descriptors,
                          &raw->handles_, &db);
    if (!s.ok()) return FromRocks(s, "open " + path);
    raw->db_.reset(db);
    raw->names_ = names;
    return raw;
  }

  ~RawStoreDb() {
    if (db_ == nullptr) return;
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
  }

  std::optional<std::string> Get(const std::string& cf,
                                 const std::string& key) {
    std::string value;
    if (!db_->Get(rocksdb::ReadOptions(), Cf(cf), key, &value).ok()) {
      return std::nullopt;
    }
    return value;
  }
  absl::Status Put(const std::string& cf, const std::string& key,
                   const std::string& value) {
    return FromRocks(db_->Put(rocksdb::WriteOptions(), Cf(cf), key, value),
                     "put");
  }
  absl::Status Delete(const std::string& cf, const std::string& key) {
    return FromRocks(db_->Delete(rocksdb::WriteOptions(), Cf(cf), key),
                     "delete");
  }

  // Audit entry `seq` as stored, parsed (nullopt if missing or unparsable).
  std::optional<v1::AuditEntry> Entry(uint64_t seq) {
    std::optional<std::string> bytes = Get("audit", keys::AuditKey(seq));
    v1::AuditEntry e;
    if (!bytes || !e.ParseFromString(*bytes)) return std::nullopt;
    return e;
  }
  absl::Status PutEntry(const v1::AuditEntry& entry) {
    return Put("audit", keys::AuditKey(entry.seq()), entry.SerializeAsString());
  }
  // Removes entry `seq` and its index entries.
  absl::Status DeleteEntryAndIndexes(uint64_t seq) {
    std::optional<v1::AuditEntry> e = Entry(seq);
    if (!e) return absl::NotFoundError(absl::StrCat("no entry ", seq));
    for (auto [cf, value] :
         {std::make_pair("audit_by_nhs", e->nhs_number()),
          std::make_pair("audit_by_principal", e->principal()),
          std::make_pair("audit_by_referral", e->referral_id())}) {
      if (value.empty()) continue;
      if (absl::Status s = Delete(cf, keys::AuditIndexKey(value, seq));
          !s.ok()) {
        return s;
      }
    }
    return Delete("audit", keys::AuditKey(seq));
  }

 private:
  RawStoreDb() = default;

  rocksdb::ColumnFamilyHandle* Cf(const std::string& name) {
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == name) return handles_[i];
    }
    return nullptr;
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace frontdoor::storage::testing

#endif  // FRONTDOOR_STORAGE_AUDIT_TEST_UTIL_H_
