// The callers a server knows: the --tokens_file (a text-format IdentityFile,
// protos/frontdoor/v1/auth.proto) with token hashes and certificate names.

#ifndef FRONTDOOR_SERVICES_AUTH_IDENTITIES_H_
#define FRONTDOOR_SERVICES_AUTH_IDENTITIES_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "frontdoor/v1/auth.pb.h"

namespace frontdoor::auth {

// Parses and checks an identities file's text. Errors name `file:line:col`
// (parse errors) or `file: identities[i].field` (content errors): every
// identity needs a principal (unique, printable, at most 200 bytes), a role,
// and a token hash (64 lower-case hex digits, unique) or a certificate name
// (unique).
absl::StatusOr<v1::IdentityFile> ParseIdentityFile(absl::string_view text,
                                                   absl::string_view file_name);
absl::StatusOr<v1::IdentityFile> ReadIdentityFile(const std::string& path);
// Writes `file` to `path` atomically (a temporary file renamed over it),
// readable by the owner only: the hashes are not secrets, but the list of
// principals is nobody else's business.
absl::Status WriteIdentityFile(const std::string& path,
                               const v1::IdentityFile& file);

// A new random bearer token ("fd_" + 43 base64url characters, 256 bits from
// OpenSSL's RAND_bytes) and the hash stored for it.
struct NewToken {
  std::string token;
  std::string sha256_hex;
};
absl::StatusOr<NewToken> GenerateToken();
std::string HashToken(absl::string_view token);

// An in-memory index of an identities file, reloaded when the file changes.
//
// Thread-safe: lookups take a reader lock on the current snapshot; Reload
// swaps in a new snapshot only if the whole file is valid (a broken edit
// keeps the previous identities and is reported by Reload's status).
class IdentityStore {
 public:
  // Loads `path`; the error names what is wrong with it.
  static absl::StatusOr<std::unique_ptr<IdentityStore>> Open(
      const std::string& path);
  // An in-memory store (tests, and servers whose roles talk in-process).
  static std::unique_ptr<IdentityStore> FromProto(const v1::IdentityFile& file);

  // The identity whose token hashes to `token_sha256_hex`, if any (disabled
  // ones are absent).
  std::optional<v1::Identity> FindByTokenHash(
      absl::string_view token_sha256_hex) const;
  std::optional<v1::Identity> FindByCertificateName(
      absl::string_view common_name) const;

  // Adds an identity held only in memory (the server's own service identity).
  // INVALID_ARGUMENT if it clashes with one already known.
  absl::Status AddInMemory(const v1::Identity& identity);

  // Re-reads the file if its modification time or size changed. OK when
  // unchanged or reloaded; the parse error (identities unchanged) otherwise.
  absl::Status ReloadIfChanged();

  const std::string& path() const { return path_; }
  // Identities that are not disabled.
  int size() const;

 private:
  struct Snapshot {
    absl::flat_hash_map<std::string, v1::Identity> by_token;
    absl::flat_hash_map<std::string, v1::Identity> by_certificate;
    int active = 0;  // identities not disabled
  };
  explicit IdentityStore(std::string path) : path_(std::move(path)) {}
  static absl::StatusOr<std::shared_ptr<const Snapshot>> Index(
      const v1::IdentityFile& file,
      const std::vector<v1::Identity>& in_memory);
  std::shared_ptr<const Snapshot> Current() const;

  const std::string path_;  // "" for in-memory stores
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  v1::IdentityFile file_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Identity> in_memory_ ABSL_GUARDED_BY(mu_);
  int64_t file_mtime_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t file_size_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace frontdoor::auth

#endif  // FRONTDOOR_SERVICES_AUTH_IDENTITIES_H_
