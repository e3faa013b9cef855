#include "services/auth/identities.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "services/common/proto_hash.h"

namespace frontdoor::auth {
namespace {

constexpr int kMaxPrincipalBytes = 200;

// Collects the first text-format error as file:line:col.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstError(absl::string_view file) : file_(file) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!error_.empty()) return;
    error_ = absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string file_;
  std::string error_;
};

bool ValidPrincipal(absl::string_view p) {
  if (p.empty() || p.size() > kMaxPrincipalBytes) return false;
  for (char c : p) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("._@+-:/").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool ValidHexHash(absl::string_view h) {
  if (h.size() != 64) return false;
  for (char c : h) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
        (c < 'a' || c > 'f')) {
      return false;
    }
  }
  return true;
}

absl::Status CheckIdentities(const v1::IdentityFile& file,
                             absl::string_view file_name) {
  absl::flat_hash_set<std::string> principals, hashes, names;
  for (int i = 0; i < file.identities_size(); ++i) {
    const v1::Identity& id = file.identities(i);
    auto err = [&](absl::string_view field, absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(
          file_name, ": identities[", i, "].", field, ": ", what));
    };
    if (!ValidPrincipal(id.principal())) {
      return err("principal",
                 "required: 1 to 200 of letters, digits and ._@+-:/");
    }
    if (!principals.insert(id.principal()).second)
      return err("principal", absl::StrCat("duplicate '", id.principal(), "'"));
    if (id.role() == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(id.role()))
      return err("role", "required");
    if (id.token_sha256().empty() && id.certificate_common_name().empty()) {
      return err("token_sha256",
                 "a token hash or a certificate_common_name is required");
    }
    if (!id.token_sha256().empty()) {
      if (!ValidHexHash(id.token_sha256()))
        return err("token_sha256", "must be 64 lower-case hex digits");
      if (!hashes.insert(id.token_sha256()).second)
        return err("token_sha256", "duplicate token hash");
    }
    if (!id.certificate_common_name().empty() &&
        !names.insert(id.certificate_common_name()).second) {
      return err("certificate_common_name", "duplicate");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::IdentityFile> ParseIdentityFile(absl::string_view text,
                                                   absl::string_view file_name) {
  v1::IdentityFile file;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors(file_name);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &file)) {
    return absl::InvalidArgumentError(
        errors.error().empty() ? absl::StrCat(file_name, ": cannot parse")
                               : errors.error());
  }
  if (absl::Status st = CheckIdentities(file, file_name); !st.ok()) return st;
  return file;
}

absl::StatusOr<v1::IdentityFile> ReadIdentityFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read the tokens file"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseIdentityFile(text.str(), path);
}

absl::Status WriteIdentityFile(const std::string& path,
                               const v1::IdentityFile& file) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(file, &text))
    return absl::InternalError("cannot print the identities");
  text = absl::StrCat(
      "# frontdoor identities (frontdoor.v1.IdentityFile). Tokens are stored\n"
      "# only as SHA-256 hashes; edit with `frontdoor admin token`.\n",
      text);
  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr)
      return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot write"));
    ::chmod(tmp.c_str(), 0600);
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() &&
                    std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    std::fclose(f);
    if (!ok) return absl::DataLossError(absl::StrCat(tmp, ": write failed"));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat(path, ": cannot replace: ", ec.message()));
  }
  return absl::OkStatus();
}

std::string HashToken(absl::string_view token) { return Sha256Hex(token); }

absl::StatusOr<NewToken> GenerateToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    return absl::UnavailableError("no randomness for a token (RAND_bytes)");
  NewToken t;
  t.token = absl::StrCat(
      "fd_", absl::WebSafeBase64Escape(absl::string_view(
                 reinterpret_cast<const char*>(bytes), sizeof(bytes))));
  t.sha256_hex = HashToken(t.token);
  return t;
}

absl::StatusOr<std::shared_ptr<const IdentityStore::Snapshot>>
IdentityStore::Index(const v1::IdentityFile& file,
                     const std::vector<v1::Identity>& in_memory) {
  v1::IdentityFile all = file;
  for (const v1::Identity& id : in_memory) *all.add_identities() = id;
  if (absl::Status st = CheckIdentities(all, "identities"); !st.ok()) return st;
  auto snap = std::make_shared<Snapshot>();
  for (const v1::Identity& id : all.identities()) {
    if (id.disabled()) continue;
    ++snap->active;
    if (!id.token_sha256().empty()) snap->by_token[id.token_sha256()] = id;
    if (!id.certificate_common_name().empty())
      snap->by_certificate[id.certificate_common_name()] = id;
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

absl::StatusOr<std::unique_ptr<IdentityStore>> IdentityStore::Open(
    const std::string& path) {
  std::unique_ptr<IdentityStore> store(new IdentityStore(path));
  {
    absl::MutexLock lock(&store->mu_);
    store->snapshot_ = std::make_shared<const Snapshot>();
  }
  if (absl::Status st = store->ReloadIfChanged(); !st.ok()) return st;
  return store;
}

std::unique_ptr<IdentityStore> IdentityStore::FromProto(
    const v1::IdentityFile& file) {
  std::unique_ptr<IdentityStore> store(new IdentityStore(""));
  absl::StatusOr<std::shared_ptr<const Snapshot>> snap = Index(file, {});
  absl::MutexLock lock(&store->mu_);
  store->file_ = file;
  store->snapshot_ =
      snap.ok() ? *std::move(snap) : std::make_shared<const Snapshot>();
  return store;
}

std::shared_ptr<const IdentityStore::Snapshot> IdentityStore::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return snapshot_;
}

std::optional<v1::Identity> IdentityStore::FindByTokenHash(
    absl::string_view token_sha256_hex) const {
  std::shared_ptr<const Snapshot> snap = Current();
  auto it = snap->by_token.find(token_sha256_hex);
  if (it == snap->by_token.end()) return std::nullopt;
  return it->second;
}

std::optional<v1::Identity> IdentityStore::FindByCertificateName(
    absl::string_view common_name) const {
  std::shared_ptr<const Snapshot> snap = Current();
  auto it = snap->by_certificate.find(common_name);
  if (it == snap->by_certificate.end()) return std::nullopt;
  return it->second;
}

absl::Status IdentityStore::AddInMemory(const v1::Identity& identity) {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Identity> in_memory = in_memory_;
  in_memory.push_back(identity);
  absl::StatusOr<std::shared_ptr<const Snapshot>> snap =
      Index(file_, in_memory);
  if (!snap.ok()) return snap.status();
  in_memory_ = std::move(in_memory);
  snapshot_ = *std::move(snap);
  return absl::OkStatus();
}

absl::Status IdentityStore::ReloadIfChanged() {
  if (path_.empty()) return absl::OkStatus();
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat(path_, ": cannot read the tokens file"));
  }
  const int64_t mtime_ns =
      int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (mtime_ns == file_mtime_ns_ && st.st_size == file_size_)
      return absl::OkStatus();
  }
  absl::StatusOr<v1::IdentityFile> file = ReadIdentityFile(path_);
  if (!file.ok()) return file.status();
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<const Snapshot>> snap =
      Index(*file, in_memory_);
  if (!snap.ok()) return snap.status();
  file_ = *std::move(file);
  snapshot_ = *std::move(snap);
  file_mtime_ns_ = mtime_ns;
  file_size_ = st.st_size;
  return absl::OkStatus();
}

int IdentityStore::size() const {
  std::shared_ptr<const Snapshot> snap = Current();
  return snap->active;
}

}  // namespace frontdoor::auth
