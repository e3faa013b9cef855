#include "services/referral/page_token.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "openssl/hmac.h"
#include "openssl/rand.h"
#include "services/common/proto_hash.h"

namespace frontdoor::referral {
namespace {

constexpr size_t kMacBytes = 16;

// A per-process key: tokens are short-lived and only ever returned to the
// same server, so a restart simply invalidates them (clients start again).
const unsigned char* Key() {
  static unsigned char key[32];
  static bool init = [] {
    RAND_bytes(key, sizeof(key));
    return true;
  }();
  (void)init;
  return key;
}

std::string Mac(const google::protobuf::Message& query, const std::string& position) {
  std::string bytes = DeterministicBytes(query);
  bytes.append(query.GetDescriptor()->full_name());
  bytes.push_back('\0');
  bytes.append(position);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), Key(), 32, reinterpret_cast<const unsigned char*>(bytes.data()),
       bytes.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), kMacBytes);
}

}  // namespace

std::string EncodePageToken(const google::protobuf::Message& query, const std::string& position) {
  if (position.empty()) return "";
  return absl::WebSafeBase64Escape(Mac(query, position) + position);
}

absl::StatusOr<std::string> DecodePageToken(const google::protobuf::Message& query,
                                            const std::string& token) {
  if (token.empty()) return std::string();
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() <= kMacBytes) {
    return absl::InvalidArgumentError("page_token: is not a token this server issued");
  }
  std::string position = raw.substr(kMacBytes);
  if (raw.substr(0, kMacBytes) != Mac(query, position)) {
    return absl::InvalidArgumentError(
        "page_token: belongs to another query (or this server restarted); start from the first page");
  }
  return position;
}

}  // namespace frontdoor::referral
