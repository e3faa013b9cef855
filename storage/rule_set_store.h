// The store of rule set versions: every rule set ever proposed, loaded or
// activated, its history, and which one is active.
//
// A small RocksDB database of its own (the server keeps it in
// <data_dir>/rulesets, apart from the referral store), written with synced
// writes: a change is on disk before it is acknowledged. Keys:
//
//   v/<version id>            the version's header: RuleSetVersion without
//                             rule_set, files and history
//   b/<version id>            its body: RuleSetVersion with only rule_set and
//                             files
//   e/<version id>/<seq:08>   its events (RuleSetEvent), seq from 1
//   o/<order:016>             version id, in the order versions were created
//   active                    the active version id
//
// A version is immutable once created except for its state, approval and
// activation fields (state, approved_at, approved_by, activated_at,
// activated_by) and known_downgrades; events are only ever appended. Write
// enforces this: a change to any other field is FAILED_PRECONDITION and
// nothing of that write is stored.
//
// Thread-safe. Writes are serialised (one Write at a time, each one atomic
// RocksDB batch); reads never block on writes and see whole writes only.

#ifndef FRONTDOOR_STORAGE_RULE_SET_STORE_H_
#define FRONTDOOR_STORAGE_RULE_SET_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "frontdoor/v1/rule_set_service.pb.h"

namespace rocksdb {
class DB;
class Env;
class Snapshot;
}  // namespace rocksdb

namespace frontdoor::storage {

// The smallest unique prefix GetVersion and Resolve accept.
inline constexpr int kMinVersionPrefix = 8;

// One write to the store: reads see the store plus this write's earlier
// changes; the changes are committed together when the function given to
// RuleSetStore::Write returns OK, and dropped otherwise. Valid only inside
// that function; not thread-safe.
class RuleSetTxn {
 public:
  virtual ~RuleSetTxn() = default;

  // The version's header (no rule_set, files or history); nullopt if it is
  // not stored.
  virtual absl::StatusOr<std::optional<v1::RuleSetVersion>> GetHeader(
      const std::string& id) = 0;
  // The active version id; "" when none.
  virtual absl::StatusOr<std::string> GetActive() = 0;

  // Stores a new version: `version` whole (rule_set and files included);
  // its history, if any, is appended as its first events.
  // ALREADY_EXISTS if the id is stored; INVALID_ARGUMENT without an id.
  virtual absl::Status Create(const v1::RuleSetVersion& version) = 0;
  // Replaces the header of a stored version. Only the mutable fields may
  // differ from the stored header (FAILED_PRECONDITION naming the field
  // otherwise); rule_set, files and history in `header` are ignored.
  // NOT_FOUND if the version is not stored.
  virtual absl::Status Update(const v1::RuleSetVersion& header) = 0;
  // Appends an event to a stored (or created in this write) version.
  virtual absl::Status AppendEvent(const std::string& id,
                                   const v1::RuleSetEvent& event) = 0;
  // Makes `id` (stored, or created in this write) the active version.
  virtual absl::Status SetActive(const std::string& id) = 0;
};

class RuleSetStore {
 public:
  struct Options {
    std::string path;             // the database directory (created)
    rocksdb::Env* env = nullptr;  // null: rocksdb::Env::Default()
    bool sync = true;             // fsync every write
  };

  // Opens (creating if missing) the store at options.path.
  static absl::StatusOr<std::unique_ptr<RuleSetStore>> Open(
      const Options& options);

  RuleSetStore(const RuleSetStore&) = delete;
  RuleSetStore& operator=(const RuleSetStore&) = delete;
  ~RuleSetStore();

  // Runs `fn` with a transaction and commits its changes atomically (and
  // durably, with sync) if it returns OK. Writes are serialised: `fn` runs
  // under the store's write lock, so it sees no concurrent change between
  // its reads and the commit. Returns fn's error, or the commit's.
  absl::Status Write(const std::function<absl::Status(RuleSetTxn&)>& fn)
      ABSL_LOCKS_EXCLUDED(write_mu_);

  // The whole version: header, rule_set, files and history. NOT_FOUND.
  absl::StatusOr<v1::RuleSetVersion> Get(const std::string& id) const;
  // The header and history (no rule_set or files). NOT_FOUND.
  absl::StatusOr<v1::RuleSetVersion> GetSummary(const std::string& id) const;

  // The full id of the version `id_or_prefix` names: a full id, or a prefix
  // of at least kMinVersionPrefix lower-case hex digits that exactly one
  // stored version starts with (any case). INVALID_ARGUMENT for a malformed
  // or too short prefix and for an ambiguous one (naming the candidates),
  // NOT_FOUND when nothing matches.
  absl::StatusOr<std::string> Resolve(absl::string_view id_or_prefix) const;

  // The active version id; "" when none has been set.
  absl::StatusOr<std::string> GetActive() const;

  struct ListPage {
    std::vector<v1::RuleSetVersion> versions;  // summaries, newest first
    std::string next_page_token;               // "" at the end
  };
  // Versions newest (most recently created) first, as summaries (header and
  // history), at most `page_size` (1..1000; 0 means 50) from `page_token`
  // ("" for the first page; INVALID_ARGUMENT if malformed).
  absl::StatusOr<ListPage> List(int page_size,
                                absl::string_view page_token) const;

  // How many versions are stored.
  absl::StatusOr<int64_t> Count() const;

  const std::string& path() const { return options_.path; }

 private:
  class TxnImpl;
  RuleSetStore(Options options, std::unique_ptr<rocksdb::DB> db,
               uint64_t next_order);

  absl::StatusOr<std::optional<std::string>> ReadKey(
      const std::string& key, const rocksdb::Snapshot* snapshot) const;
  absl::StatusOr<int64_t> LastEventSeq(const std::string& id) const;
  absl::Status ReadEvents(const std::string& id,
                          const rocksdb::Snapshot* snapshot,
                          v1::RuleSetVersion* out) const;
  absl::StatusOr<v1::RuleSetVersion> ReadVersion(const std::string& id,
                                                 bool body) const;

  const Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  absl::Mutex write_mu_;
  uint64_t next_order_ ABSL_GUARDED_BY(write_mu_);
};

// Whether `header` and `stored` differ only in the mutable fields (state,
// approval, activation, known_downgrades); ignores rule_set, files and
// history. On a difference, `*field` names the first immutable field that
// differs.
bool OnlyMutableFieldsDiffer(const v1::RuleSetVersion& header,
                             const v1::RuleSetVersion& stored,
                             std::string* field);

}  // namespace frontdoor::storage

#endif  // FRONTDOOR_STORAGE_RULE_SET_STORE_H_
