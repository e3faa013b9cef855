#ifndef FRONTDOOR_SERVICES_COMMON_PROTO_HASH_H_
#define FRONTDOOR_SERVICES_COMMON_PROTO_HASH_H_

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace frontdoor {

// The deterministic serialisation of `m` (map entries sorted), so equal
// messages give equal bytes within this protobuf version.
std::string DeterministicBytes(const google::protobuf::Message& m);

// SHA-256 of `data`: 32 raw bytes, or 64 lower-case hex digits.
std::string Sha256(absl::string_view data);
std::string Sha256Hex(absl::string_view data);

}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_COMMON_PROTO_HASH_H_
