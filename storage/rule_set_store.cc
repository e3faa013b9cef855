#include "storage/rule_set_store.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/message_differencer.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "services/common/status_macros.h"

#include "storage/rocks_status.h"
namespace frontdoor::storage {
namespace {

absl::Status RuleSetStoreStatus(const rocksdb::Status& s, absl::string_view what) {
  return FromRocks(s, absl::StrCat("rule set store: ", what));
}

constexpr char kHeaderPrefix[] = "v/";
constexpr char kBodyPrefix[] = "b/";
constexpr char kEventPrefix[] = "e/";
constexpr char kOrderPrefix[] = "o/";
constexpr char kActiveKey[] = "active";
constexpr int kVersionIdLength = 64;  // SHA-256, hex
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

// The fields a stored version may change after it is created.
constexpr const char* kMutableFields[] = {
    "state",        "approved_at",  "approved_by",
    "activated_at", "activated_by", "known_downgrades",
};
// Kept apart from the header (body and events).
constexpr const char* kSeparateFields[] = {"rule_set", "files", "history"};


bool IsLowerHex(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
  });
}

bool IsVersionId(absl::string_view id) {
  return static_cast<int>(id.size()) == kVersionIdLength && IsLowerHex(id);
}

std::string HeaderKey(absl::string_view id) {
  return absl::StrCat(kHeaderPrefix, id);
}
std::string BodyKey(absl::string_view id) {
  return absl::StrCat(kBodyPrefix, id);
}
std::string EventPrefix(absl::string_view id) {
  return absl::StrCat(kEventPrefix, id, "/");
}
std::string EventKey(absl::string_view id, int64_t seq) {
  return absl::StrCat(EventPrefix(id), absl::StrFormat("%08d", seq));
}
std::string OrderKey(uint64_t order) {
  return absl::StrCat(kOrderPrefix, absl::StrFormat("%016d", order));
}
// Above every key with `prefix` that continues with digits or hex.
std::string PrefixEnd(absl::string_view prefix) {
  return absl::StrCat(prefix, "~");
}

// `version` without the fields kept apart (rule_set, files, history).
v1::RuleSetVersion HeaderOf(const v1::RuleSetVersion& version) {
  v1::RuleSetVersion header = version;
  header.clear_rule_set();
  header.clear_files();
  header.clear_history();
  return header;
}

std::string Serialize(const google::protobuf::Message& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

absl::Status Corrupt(absl::string_view key) {
  return absl::DataLossError(
      absl::StrCat("rule set store: cannot parse the record at ", key));
}

// The sequence number at the end of an event key.
int64_t EventSeq(absl::string_view key) {
  int64_t seq = 0;
  const size_t slash = key.rfind('/');
  if (slash == absl::string_view::npos ||
      !absl::SimpleAtoi(key.substr(slash + 1), &seq)) {
    return 0;
  }
  return seq;
}

}  // namespace

bool OnlyMutableFieldsDiffer(const v1::RuleSetVersion& header,
                             const v1::RuleSetVersion& stored,
                             std::string* field) {
  const google::protobuf::Descriptor* d = v1::RuleSetVersion::descriptor();
  auto skipped = [](const std::string& name) {
    for (const char* f : kMutableFields)
      if (name == f) return true;
    for (const char* f : kSeparateFields)
      if (name == f) return true;
    return false;
  };
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (skipped(f->name())) continue;
    google::protobuf::util::MessageDifferencer differ;
    for (int j = 0; j < d->field_count(); ++j) {
      if (j != i) differ.IgnoreField(d->field(j));
    }
    if (!differ.Compare(header, stored)) {
      if (field != nullptr) *field = f->name();
      return false;
    }
  }
  return true;
}

class RuleSetStore::TxnImpl final : public RuleSetTxn {
 public:
  TxnImpl(const RuleSetStore* store, uint64_t next_order)
      : store_(store), next_order_(next_order) {}

  absl::StatusOr<std::optional<v1::RuleSetVersion>> GetHeader(
      const std::string& id) override {
    if (auto it = headers_.find(id); it != headers_.end()) return it->second;
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                               store_->ReadKey(HeaderKey(id), nullptr));
    if (!bytes.has_value()) return std::optional<v1::RuleSetVersion>();
    v1::RuleSetVersion header;
    if (!header.ParseFromString(*bytes)) return Corrupt(HeaderKey(id));
    return std::optional<v1::RuleSetVersion>(std::move(header));
  }

  absl::StatusOr<std::string> GetActive() override {
    if (active_.has_value()) return *active_;
    return store_->GetActive();
  }

  absl::Status Create(const v1::RuleSetVersion& version) override {
    const std::string& id = version.version();
    if (!IsVersionId(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("rule set store: version id '", id,
                       "' is not 64 lower-case hex digits (a SHA-256)"));
    }
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> existing,
                               GetHeader(id));
    if (existing.has_value()) {
      return absl::AlreadyExistsError(
          absl::StrCat("rule set version ", id, " is already stored"));
    }
    v1::RuleSetVersion header = HeaderOf(version);
    v1::RuleSetVersion body;
    *body.mutable_rule_set() = version.rule_set();
    *body.mutable_files() = version.files();
    batch_.Put(HeaderKey(id), Serialize(header));
    batch_.Put(BodyKey(id), Serialize(body));
    batch_.Put(OrderKey(next_order_++), id);
    headers_[id] = std::move(header);
    next_event_[id] = 1;
    for (const v1::RuleSetEvent& e : version.history()) {
      FRONTDOOR_RETURN_IF_ERROR(AppendEvent(id, e));
    }
    return absl::OkStatus();
  }

  absl::Status Update(const v1::RuleSetVersion& updated) override {
    const std::string& id = updated.version();
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> stored,
                               GetHeader(id));
    if (!stored.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("rule set version ", id, " is not stored"));
    }
    v1::RuleSetVersion header = HeaderOf(updated);
    std::string field;
    if (!OnlyMutableFieldsDiffer(header, *stored, &field)) {
      return absl::FailedPreconditionError(
          absl::StrCat("rule set version ", id, " is immutable: its ", field,
                       " cannot change"));
    }
    batch_.Put(HeaderKey(id), Serialize(header));
    headers_[id] = std::move(header);
    return absl::OkStatus();
  }

  absl::Status AppendEvent(const std::string& id,
                           const v1::RuleSetEvent& event) override {
    auto it = next_event_.find(id);
    if (it == next_event_.end()) {
      FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> stored,
                                 GetHeader(id));
      if (!stored.has_value()) {
        return absl::NotFoundError(
            absl::StrCat("rule set version ", id, " is not stored"));
      }
      FRONTDOOR_ASSIGN_OR_RETURN(int64_t last, store_->LastEventSeq(id));
      it = next_event_.emplace(id, last + 1).first;
    }
    batch_.Put(EventKey(id, it->second++), Serialize(event));
    return absl::OkStatus();
  }

  absl::Status SetActive(const std::string& id) override {
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<v1::RuleSetVersion> stored,
                               GetHeader(id));
    if (!stored.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("rule set version ", id, " is not stored"));
    }
    batch_.Put(kActiveKey, id);
    active_ = id;
    return absl::OkStatus();
  }

  rocksdb::WriteBatch* batch() { return &batch_; }
  uint64_t next_order() const { return next_order_; }

 private:
  const RuleSetStore* store_;
  uint64_t next_order_;
  rocksdb::WriteBatch batch_;
  std::map<std::string, v1::RuleSetVersion> headers_;
  std::map<std::string, int64_t> next_event_;
  std::optional<std::string> active_;
};

absl::StatusOr<std::unique_ptr<RuleSetStore>> RuleSetStore::Open(
    const Options& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("rule set store: empty path");
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  if (options.env != nullptr) db_options.env = options.env;
  db_options.paranoid_checks = true;
  db_options.max_background_jobs = 1;
  db_options.keep_log_file_num = 3;
  db_options.write_buffer_size = 4 << 20;
  db_options.max_open_files = 64;
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  rocksdb::DB* raw = nullptr;
  FRONTDOOR_RETURN_IF_ERROR(
      RuleSetStoreStatus(rocksdb::DB::Open(db_options, options.path, &raw),
                "open " + options.path));
  std::unique_ptr<rocksdb::DB> db(raw);

  // The next creation order: one past the last stored.
  uint64_t next_order = 1;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev(PrefixEnd(kOrderPrefix));
    if (it->Valid() && it->key().starts_with(kOrderPrefix)) {
      uint64_t last = 0;
      absl::string_view key(it->key().data(), it->key().size());
      if (!absl::SimpleAtoi(key.substr(sizeof(kOrderPrefix) - 1), &last)) {
        return Corrupt(key);
      }
      next_order = last + 1;
    }
    FRONTDOOR_RETURN_IF_ERROR(RuleSetStoreStatus(it->status(), "read the order"));
  }
  return std::unique_ptr<RuleSetStore>(
      new RuleSetStore(options, std::move(db), next_order));
}

RuleSetStore::RuleSetStore(Options options, std::unique_ptr<rocksdb::DB> db,
                           uint64_t next_order)
    : options_(std::move(options)),
      db_(std::move(db)),
      next_order_(next_order) {}

RuleSetStore::~RuleSetStore() {
  if (db_ != nullptr) {
    db_->FlushWAL(/*sync=*/true).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
}

absl::Status RuleSetStore::Write(
    const std::function<absl::Status(RuleSetTxn&)>& fn) {
  absl::MutexLock lock(&write_mu_);
  TxnImpl txn(this, next_order_);
  FRONTDOOR_RETURN_IF_ERROR(fn(txn));
  if (txn.batch()->Count() == 0) return absl::OkStatus();
  rocksdb::WriteOptions w;
  w.sync = options_.sync;
  FRONTDOOR_RETURN_IF_ERROR(RuleSetStoreStatus(db_->Write(w, txn.batch()), "write"));
  next_order_ = txn.next_order();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> RuleSetStore::ReadKey(
    const std::string& key, const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions r;
  r.snapshot = snapshot;
  std::string value;
  rocksdb::Status s = db_->Get(r, key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  FRONTDOOR_RETURN_IF_ERROR(RuleSetStoreStatus(s, "read " + key));
  return std::optional<std::string>(std::move(value));
}

absl::StatusOr<int64_t> RuleSetStore::LastEventSeq(
    const std::string& id) const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  const std::string prefix = EventPrefix(id);
  it->SeekForPrev(PrefixEnd(prefix));
  int64_t last = 0;
  if (it->Valid() && it->key().starts_with(prefix)) {
    last = EventSeq(absl::string_view(it->key().data(), it->key().size()));
  }
  FRONTDOOR_RETURN_IF_ERROR(RuleSetStoreStatus(it->status(), "read events"));
  return last;
}

absl::Status RuleSetStore::ReadEvents(const std::string& id,
                                      const rocksdb::Snapshot* snapshot,
                                      v1::RuleSetVersion* out) const {
  rocksdb::ReadOptions r;
  r.snapshot = snapshot;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(r));
  const std::string prefix = EventPrefix(id);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    if (!out->add_history()->ParseFromArray(it->value().data(),
                                            it->value().size())) {
      return Corrupt(it->key().ToString());
    }
  }
  return RuleSetStoreStatus(it->status(), "read events");
}

absl::StatusOr<v1::RuleSetVersion> RuleSetStore::ReadVersion(
    const std::string& id, bool body) const {
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{db_.get(), snapshot};
  FRONTDOOR_ASSIGN_OR_RETURN(std::optional<std::string> header,
                             ReadKey(HeaderKey(id), snapshot));
  if (!header.has_value()) {
    return absl::NotFoundError(absl::StrCat("no rule set version ", id));
  }
  v1::RuleSetVersion out;
  if (!out.ParseFromString(*header)) return Corrupt(HeaderKey(id));
  if (body) {
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                               ReadKey(BodyKey(id), snapshot));
    if (!bytes.has_value()) return Corrupt(BodyKey(id));
    v1::RuleSetVersion b;
    if (!b.ParseFromString(*bytes)) return Corrupt(BodyKey(id));
    *out.mutable_rule_set() = std::move(*b.mutable_rule_set());
    *out.mutable_files() = std::move(*b.mutable_files());
  }
  FRONTDOOR_RETURN_IF_ERROR(ReadEvents(id, snapshot, &out));
  return out;
}

absl::StatusOr<v1::RuleSetVersion> RuleSetStore::Get(
    const std::string& id) const {
  return ReadVersion(id, /*body=*/true);
}

absl::StatusOr<v1::RuleSetVersion> RuleSetStore::GetSummary(
    const std::string& id) const {
  return ReadVersion(id, /*body=*/false);
}

absl::StatusOr<std::string> RuleSetStore::Resolve(
    absl::string_view id_or_prefix) const {
  const std::string prefix = absl::AsciiStrToLower(id_or_prefix);
  if (prefix.empty()) {
    return absl::InvalidArgumentError("version: is required");
  }
  if (!IsLowerHex(prefix) || prefix.size() > kVersionIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version '", id_or_prefix,
        "' is not a version id (up to 64 hex digits of a SHA-256)"));
  }
  if (static_cast<int>(prefix.size()) < kMinVersionPrefix) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version '", id_or_prefix, "' is too short: give at least ",
        kMinVersionPrefix, " hex digits"));
  }
  std::vector<std::string> found;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  const std::string key_prefix = HeaderKey(prefix);
  for (it->Seek(key_prefix);
       it->Valid() && it->key().starts_with(key_prefix) && found.size() < 4;
       it->Next()) {
    found.push_back(it->key().ToString().substr(sizeof(kHeaderPrefix) - 1));
  }
  FRONTDOOR_RETURN_IF_ERROR(RuleSetStoreStatus(it->status(), "resolve a version"));
  if (found.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no rule set version ", id_or_prefix));
  }
  if (found.size() > 1) {
    for (std::string& f : found) f = f.substr(0, 16);
    return absl::InvalidArgumentError(
        absl::StrCat("version prefix '", id_or_prefix,
                     "' is ambiguous: it matches ", absl::StrJoin(found, ", "),
                     found.size() == 4 ? ", ..." : "", "; give more digits"));
  }
  return found[0];
}

absl::StatusOr<std::string> RuleSetStore::GetActive() const {
  FRONTDOOR_ASSIGN_OR_RETURN(std::optional<std::string> id,
                             ReadKey(kActiveKey, nullptr));
  return id.value_or("");
}

absl::StatusOr<RuleSetStore::ListPage> RuleSetStore::List(
    int page_size, absl::string_view page_token) const {
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be 0..", kMaxPageSize));
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  std::string start = PrefixEnd(kOrderPrefix);
  if (!page_token.empty()) {
    uint64_t order = 0;
    if (!absl::SimpleAtoi(page_token, &order) || order == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("page_token: '", page_token, "' is not a page token"));
    }
    start = OrderKey(order);
  }
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{db_.get(), snapshot};
  rocksdb::ReadOptions r;
  r.snapshot = snapshot;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(r));
  ListPage page;
  std::vector<std::string> ids;
  for (it->SeekForPrev(start);
       it->Valid() && it->key().starts_with(kOrderPrefix); it->Prev()) {
    if (static_cast<int>(ids.size()) == page_size) {
      page.next_page_token =
          std::string(it->key().ToString().substr(sizeof(kOrderPrefix) - 1));
      // Drop leading zeros: the token is the order number.
      uint64_t order = 0;
      if (absl::SimpleAtoi(page.next_page_token, &order)) {
        page.next_page_token = absl::StrCat(order);
      }
      break;
    }
    ids.push_back(it->value().ToString());
  }
  FRONTDOOR_RETURN_IF_ERROR(RuleSetStoreStatus(it->status(), "list versions"));
  for (const std::string& id : ids) {
    FRONTDOOR_ASSIGN_OR_RETURN(std::optional<std::string> header,
                               ReadKey(HeaderKey(id), snapshot));
    if (!header.has_value()) return Corrupt(HeaderKey(id));
    v1::RuleSetVersion& v = page.versions.emplace_back();
    if (!v.ParseFromString(*header)) return Corrupt(HeaderKey(id));
    FRONTDOOR_RETURN_IF_ERROR(ReadEvents(id, snapshot, &v));
  }
  return page;
}

absl::StatusOr<int64_t> RuleSetStore::Count() const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  int64_t n = 0;
  for (it->Seek(kOrderPrefix);
       it->Valid() && it->key().starts_with(kOrderPrefix); it->Next()) {
    ++n;
  }
  FRONTDOOR_RETURN_IF_ERROR(RuleSetStoreStatus(it->status(), "count versions"));
  return n;
}

}  // namespace frontdoor::storage
