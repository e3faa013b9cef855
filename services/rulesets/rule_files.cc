#include "services/rulesets/rule_files.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace frontdoor::rulesets {
namespace {

namespace fs = std::filesystem;

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return Hex(digest, sizeof(digest));
}

absl::Status CheckRuleFileName(absl::string_view name) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("file name '", name, "': ", why));
  };
  if (name.empty()) return absl::InvalidArgumentError("file name: is empty");
  if (static_cast<int>(name.size()) > kMaxRuleFileNameBytes) {
    return bad(absl::StrCat("longer than ", kMaxRuleFileNameBytes, " bytes"));
  }
  if (name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("file name: contains a NUL character");
  }
  if (absl::StrContains(name, "..")) return bad("must not contain '..'");
  if (name.find('/') != absl::string_view::npos ||
      name.find('\\') != absl::string_view::npos) {
    return bad("must be a plain file name, without directories");
  }
  if (name[0] == '.') return bad("must not start with '.'");
  if (!absl::EndsWith(name, ".yaml") || name == ".yaml") {
    return bad(
        "must end in .yaml (ruleset.yaml, NAME.rules.yaml or NAME.test.yaml)");
  }
  return absl::OkStatus();
}

absl::Status CheckRuleFiles(const std::vector<v1::RuleFile>& files) {
  if (files.empty()) {
    return absl::InvalidArgumentError(
        "files: no files (a rule set needs at least ruleset.yaml)");
  }
  if (static_cast<int>(files.size()) > kMaxRuleFiles) {
    return absl::InvalidArgumentError(absl::StrCat(
        "files: ", files.size(), " files; at most ", kMaxRuleFiles));
  }
  std::set<std::string> names;
  int64_t total = 0;
  for (const v1::RuleFile& f : files) {
    if (absl::Status s = CheckRuleFileName(f.name()); !s.ok()) return s;
    if (!names.insert(f.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("file name '", f.name(), "': given twice"));
    }
    const int64_t size = static_cast<int64_t>(f.content().size());
    if (size > kMaxRuleFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("file '", f.name(), "': ", size, " bytes; at most ",
                       kMaxRuleFileBytes));
    }
    total += size;
  }
  if (total > kMaxRuleSetBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "files: ", total, " bytes in all; at most ", kMaxRuleSetBytes));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::RuleFile>> ReadRuleFiles(
    const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(
        dir, ": not a directory", ec ? ": " : "", ec ? ec.message() : ""));
  }
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !absl::EndsWith(name, ".yaml")) {
      continue;
    }
    std::error_code file_ec;
    if (!fs::is_regular_file(it->path(), file_ec)) continue;  // follows links
    names.push_back(name);
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat(dir, ": cannot list: ", ec.message()));
  }
  std::sort(names.begin(), names.end());
  if (static_cast<int>(names.size()) > kMaxRuleFiles) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, ": ", names.size(), " rule files; at most ", kMaxRuleFiles));
  }
  std::vector<v1::RuleFile> files;
  int64_t total = 0;
  for (const std::string& name : names) {
    const fs::path path = fs::path(dir) / name;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return absl::UnavailableError(
          absl::StrCat(path.string(), ": cannot read: ", std::strerror(errno)));
    }
    std::string content;
    char buf[1 << 16];
    while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
      content.append(buf, static_cast<size_t>(in.gcount()));
      if (static_cast<int64_t>(content.size()) > kMaxRuleFileBytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            path.string(), ": larger than ", kMaxRuleFileBytes, " bytes"));
      }
    }
    if (in.bad()) {
      return absl::UnavailableError(
          absl::StrCat(path.string(), ": read error"));
    }
    total += static_cast<int64_t>(content.size());
    if (total > kMaxRuleSetBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir, ": the rule files hold more than ", kMaxRuleSetBytes, " bytes"));
    }
    v1::RuleFile& f = files.emplace_back();
    f.set_name(name);
    f.set_content(std::move(content));
  }
  return files;
}

absl::Status WriteRuleFiles(const std::vector<v1::RuleFile>& files,
                            const std::string& dir) {
  for (const v1::RuleFile& f : files) {
    const fs::path path = fs::path(dir) / f.name();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(f.content().data(),
              static_cast<std::streamsize>(f.content().size()));
    out.close();
    if (!out) {
      return absl::UnavailableError(
          absl::StrCat("cannot write ", path.string()));
    }
  }
  return absl::OkStatus();
}

std::string HashRuleFiles(const std::vector<v1::RuleFile>& files) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  auto add = [ctx](absl::string_view s) {
    // Length-prefixed, so that no two file sets hash the same bytes.
    const std::string len = absl::StrCat(s.size(), ":");
    EVP_DigestUpdate(ctx, len.data(), len.size());
    EVP_DigestUpdate(ctx, s.data(), s.size());
  };
  add("frontdoor rule files v1");
  for (const v1::RuleFile& f : files) {
    add(f.name());
    add(f.content());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, digest, &n);
  EVP_MD_CTX_free(ctx);
  return Hex(digest, n);
}

}  // namespace frontdoor::rulesets
