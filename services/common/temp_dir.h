#ifndef FRONTDOOR_SERVICES_COMMON_TEMP_DIR_H_
#define FRONTDOOR_SERVICES_COMMON_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace frontdoor::testing {

// A fresh directory under $TEST_TMPDIR (or /tmp), removed with its contents
// on destruction. For tests and tools; not thread-safe.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "frontdoor") {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" +
                        prefix + "_XXXXXX";
    if (char* made = ::mkdtemp(templ.data()); made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace frontdoor::testing

#endif  // FRONTDOOR_SERVICES_COMMON_TEMP_DIR_H_
