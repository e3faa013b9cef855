// Helpers shared by frontdoor-load and frontdoor-fill: moving a corpus
// referral in time, unique test NHS numbers and gRPC message framing.

#ifndef FRONTDOOR_TESTS_LOAD_LOAD_UTIL_H_
#define FRONTDOOR_TESTS_LOAD_LOAD_UTIL_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "frontdoor/v1/referral.pb.h"
#include "google/protobuf/message_lite.h"

namespace frontdoor::load {

// Moves every time in `referral` (received_at, observations.taken_at,
// patient.date_of_birth) by `days` whole days, so ages, the local time of
// day (up to a DST hour) and the gap between observation and receipt stay
// as generated.
void ShiftReferralDays(v1::Referral* referral, int64_t days);

// The whole number of days that moves `referral`'s received_at into
// (now - 24 h, now]: corpus referrals are dated 2025-2026, and the server
// refuses times in the future.
int64_t DaysToRecent(const v1::Referral& referral, absl::Time now);

// A source of distinct valid NHS numbers from the 999 test range. Number k
// is "999" + the six digits of a slot + the check digit; slots whose check
// digit would be 10 are skipped, so no two calls return the same number
// until 10^6 slots have been used. Thread-safe.
class UniqueNhsNumbers {
 public:
  explicit UniqueNhsNumbers(uint64_t first_slot) : next_(first_slot) {}
  std::string Next();

 private:
  std::atomic<uint64_t> next_;
};

// The number for `slot` (mod 10^6), or "" if that slot has no valid number
// (check digit 10, or a number IsValidNhsNumber refuses such as 9999999999).
std::string NhsNumberForSlot(uint64_t slot);

// A gRPC length-prefixed message: 0x00 (not compressed), the 4-byte
// big-endian length, then the serialized message. What an HTTP/2 client
// such as h2load must send as the request body.
std::string GrpcFrame(const google::protobuf::MessageLite& message);

}  // namespace frontdoor::load

#endif  // FRONTDOOR_TESTS_LOAD_LOAD_UTIL_H_
