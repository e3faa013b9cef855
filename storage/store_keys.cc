#include "storage/store_keys.h"

#include <limits>

namespace frontdoor::storage::keys {

void AppendU64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, 8);
}

uint64_t ReadU64(absl::string_view s, size_t pos) {
  if (pos > s.size() || s.size() - pos < 8) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}

std::string U64(uint64_t v) {
  std::string out;
  AppendU64(&out, v);
  return out;
}

uint64_t Micros(const google::protobuf::Timestamp& t) {
  if (t.seconds() < 0) return 0;
  constexpr int64_t kMaxSeconds =
      std::numeric_limits<int64_t>::max() / 1000000 - 1;
  if (t.seconds() > kMaxSeconds)
    return static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  int64_t nanos = t.nanos() < 0 ? 0 : t.nanos();
  return static_cast<uint64_t>(t.seconds()) * 1000000u +
         static_cast<uint64_t>(nanos / 1000);
}

uint64_t Micros(absl::Time t) {
  int64_t us = absl::ToUnixMicros(t);  // saturates at the infinities
  return us < 0 ? 0 : static_cast<uint64_t>(us);
}

std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last != 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

std::string EventPrefix(absl::string_view id) {
  std::string k(id);
  k.push_back('\0');
  return k;
}

std::string EventKey(absl::string_view id, int64_t sequence) {
  std::string k = EventPrefix(id);
  AppendU64(&k, static_cast<uint64_t>(sequence));
  return k;
}

std::string PathwayScope(v1::Pathway pathway) {
  std::string k(1, 'p');
  k.push_back(static_cast<char>(static_cast<unsigned char>(pathway & 0xff)));
  return k;
}

std::string ServiceScope(absl::string_view service_id) {
  std::string k(1, 's');
  k.append(service_id.data(), service_id.size());
  k.push_back('\0');
  return k;
}

uint64_t DueSeconds(const v1::ReferralRecord& record) {
  if (!record.has_due_at()) return kMaxU64;
  int64_t s = record.due_at().seconds();
  return s < 0 ? 0 : static_cast<uint64_t>(s);
}

std::string WorklistKey(absl::string_view scope, uint64_t due_seconds,
                        absl::string_view id) {
  std::string k(scope);
  AppendU64(&k, due_seconds);
  k.append(id.data(), id.size());
  return k;
}

std::string NhsPrefix(absl::string_view nhs_number) {
  std::string k(nhs_number);
  k.push_back('\0');
  return k;
}

std::string NhsKey(absl::string_view nhs_number, uint64_t received_micros,
                   absl::string_view id) {
  std::string k = NhsPrefix(nhs_number);
  AppendU64(&k, kMaxU64 - received_micros);
  k.append(id.data(), id.size());
  return k;
}

std::string TimeKey(uint64_t received_micros, absl::string_view id) {
  std::string k;
  AppendU64(&k, kMaxU64 - received_micros);
  k.append(id.data(), id.size());
  return k;
}

absl::string_view IdOfTimeKey(absl::string_view key) { return IdAfterU64(key); }

std::string SlaKey(uint64_t check_micros, absl::string_view id) {
  std::string k;
  AppendU64(&k, check_micros);
  k.append(id.data(), id.size());
  return k;
}

std::string AwaitingKey(uint64_t received_micros, absl::string_view id) {
  return SlaKey(received_micros, id);
}

absl::string_view IdAfterU64(absl::string_view key) {
  return key.size() < 8 ? absl::string_view() : key.substr(8);
}

std::string EncodeIdempotency(absl::string_view payload_hash,
                              absl::string_view referral_id) {
  std::string v(1, '\x01');
  uint32_t n = static_cast<uint32_t>(payload_hash.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    v.push_back(static_cast<char>((n >> shift) & 0xff));
  v.append(payload_hash.data(), payload_hash.size());
  v.append(referral_id.data(), referral_id.size());
  return v;
}

bool DecodeIdempotency(absl::string_view value, std::string* payload_hash,
                       std::string* referral_id) {
  if (value.size() < 5 || value[0] != '\x01') return false;
  uint32_t n = 0;
  for (size_t i = 1; i < 5; ++i)
    n = (n << 8) | static_cast<unsigned char>(value[i]);
  if (value.size() - 5 < n) return false;
  payload_hash->assign(value.data() + 5, n);
  referral_id->assign(value.data() + 5 + n, value.size() - 5 - n);
  return true;
}

std::string AuditKey(uint64_t seq) { return U64(seq); }

// The same layout as an event's prefix: the value, then '\0'.
std::string AuditIndexPrefix(absl::string_view value) {
  return EventPrefix(value);
}

std::string AuditIndexKey(absl::string_view value, uint64_t seq) {
  std::string k = AuditIndexPrefix(value);
  AppendU64(&k, seq);
  return k;
}

}  // namespace frontdoor::storage::keys
