// Key encodings of the referral store's column families. Internal to
// storage/; exposed in a header so tests can check the orderings.
//
// Every integer in a key is 8 bytes big-endian, so byte order is numeric
// order. Ids, service ids, NHS numbers and principals never contain '\0'
// (PutReferral and AppendAudit refuse them), so '\0' terminates a
// variable-length part and a prefix ends just before the byte '\x01' in its
// place.
//
//   referrals    id                                  -> ReferralRecord
//   events       id '\0' seq                         -> ReferralEvent
//   idempotency  request_id                          -> EncodeIdempotency()
//   worklist     scope due_seconds id                -> WorklistEntry
//                scope = 'p' pathway-byte | 's' service_id '\0'
//                due_seconds = UINT64_MAX when there is no due time (last)
//   by_nhs       nhs '\0' (UINT64_MAX - received_micros) id  -> ""
//                newest first
//   by_time      (UINT64_MAX - received_micros) id   -> ""  newest first
//   sla          next_sla_check_micros id            -> ""  active only
//   awaiting     received_micros id                  -> ""
//                AWAITING_TRIAGE only
//   capacity     service_id                          -> ServiceState
//   meta         name                  -> value (schema version, count)
//   audit               seq                          -> AuditEntry (hash set)
//   audit_by_nhs        nhs_number '\0' seq          -> ""
//   audit_by_principal  principal '\0' seq           -> ""
//   audit_by_referral   referral_id '\0' seq         -> ""

#ifndef FRONTDOOR_STORAGE_STORE_KEYS_H_
#define FRONTDOOR_STORAGE_STORE_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral_service.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace frontdoor::storage::keys {

inline constexpr uint64_t kMaxU64 = UINT64_MAX;

void AppendU64(std::string* out, uint64_t v);
// Reads 8 big-endian bytes at `pos`; 0 if out of range.
uint64_t ReadU64(absl::string_view s, size_t pos);
std::string U64(uint64_t v);

// Microseconds since the Unix epoch, clamped to [0, INT64_MAX]; an unset or
// negative time is 0.
uint64_t Micros(const google::protobuf::Timestamp& t);
uint64_t Micros(absl::Time t);

// The smallest key greater than every key that starts with `prefix`; ""
// when there is none (prefix all '\xff').
std::string PrefixEnd(absl::string_view prefix);

std::string EventPrefix(absl::string_view id);
std::string EventKey(absl::string_view id, int64_t sequence);

std::string PathwayScope(v1::Pathway pathway);
std::string ServiceScope(absl::string_view service_id);
// Seconds of `due_at` (clamped at 0), or UINT64_MAX when unset.
uint64_t DueSeconds(const v1::ReferralRecord& record);
std::string WorklistKey(absl::string_view scope, uint64_t due_seconds,
                        absl::string_view id);

std::string NhsPrefix(absl::string_view nhs_number);
std::string NhsKey(absl::string_view nhs_number, uint64_t received_micros,
                   absl::string_view id);
std::string TimeKey(uint64_t received_micros, absl::string_view id);
// The id in a by_time key (after the 8-byte time).
absl::string_view IdOfTimeKey(absl::string_view key);
std::string SlaKey(uint64_t check_micros, absl::string_view id);
std::string AwaitingKey(uint64_t received_micros, absl::string_view id);
// The id after the first 8 bytes (sla, awaiting, by_time keys).
absl::string_view IdAfterU64(absl::string_view key);

// Idempotency value: version byte 1, 4-byte big-endian length of the
// payload hash, the hash, then the referral id.
std::string EncodeIdempotency(absl::string_view payload_hash,
                              absl::string_view referral_id);
bool DecodeIdempotency(absl::string_view value, std::string* payload_hash,
                       std::string* referral_id);

// Audit entries are keyed by their seq alone; the indexes by the indexed
// value then the seq, so one value's entries are in seq order.
std::string AuditKey(uint64_t seq);
std::string AuditIndexPrefix(absl::string_view value);
std::string AuditIndexKey(absl::string_view value, uint64_t seq);

}  // namespace frontdoor::storage::keys

#endif  // FRONTDOOR_STORAGE_STORE_KEYS_H_
