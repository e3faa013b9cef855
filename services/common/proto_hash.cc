#include "services/common/proto_hash.h"

#include <memory>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "openssl/evp.h"
#include "openssl/sha.h"

namespace frontdoor {

std::string DeterministicBytes(const google::protobuf::Message& m) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return bytes;
}

std::string Sha256(absl::string_view data) {
  // SHA256() looks the digest up in OpenSSL 3's provider tables on every
  // call (a locked fetch, several times the cost of hashing a token); fetch
  // it once and keep one context per thread. Tokens are hashed on every
  // call and audit entries on every write.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx(EVP_MD_CTX_new());
  unsigned char d[SHA256_DIGEST_LENGTH];
  unsigned int n = 0;
  if (md == nullptr || ctx == nullptr ||
      EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), d, &n) != 1 || n != sizeof(d)) {
    // Not expected with a working libcrypto; the one-shot call reports
    // nothing either, so fall back to it rather than return a wrong hash.
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  }
  return std::string(reinterpret_cast<char*>(d), sizeof(d));
}

std::string Sha256Hex(absl::string_view data) {
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : Sha256(data)) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return hex;
}

}  // namespace frontdoor
