#include "tests/load/load_util.h"

#include "absl/strings/str_format.h"
#include "services/common/nhs_number.h"

namespace frontdoor::load {

void ShiftReferralDays(v1::Referral* referral, int64_t days) {
  if (days == 0) return;
  const int64_t seconds = days * 86400;
  if (referral->has_received_at()) {
    referral->mutable_received_at()->set_seconds(referral->received_at().seconds() + seconds);
  }
  if (referral->has_observations() && referral->observations().has_taken_at()) {
    auto* t = referral->mutable_observations()->mutable_taken_at();
    t->set_seconds(t->seconds() + seconds);
  }
  if (referral->has_patient() && referral->patient().has_date_of_birth()) {
    v1::Date* dob = referral->mutable_patient()->mutable_date_of_birth();
    const absl::CivilDay day =
        absl::CivilDay(dob->year(), dob->month(), dob->day()) + days;
    dob->set_year(static_cast<int32_t>(day.year()));
    dob->set_month(day.month());
    dob->set_day(day.day());
  }
}

int64_t DaysToRecent(const v1::Referral& referral, absl::Time now) {
  if (!referral.has_received_at()) return 0;
  const absl::Time received = absl::FromUnixSeconds(referral.received_at().seconds());
  return absl::ToInt64Hours(absl::Floor(now - received, absl::Hours(24))) / 24;
}

std::string NhsNumberForSlot(uint64_t slot) {
  std::string n = absl::StrFormat("999%06d", slot % 1000000);
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (n[i] - '0') * (10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  if (check == 10) return "";
  n.push_back(static_cast<char>('0' + check));
  return IsValidNhsNumber(n) ? n : "";
}

std::string UniqueNhsNumbers::Next() {
  for (;;) {
    std::string n = NhsNumberForSlot(next_.fetch_add(1, std::memory_order_relaxed));
    if (!n.empty()) return n;
  }
}

std::string GrpcFrame(const google::protobuf::MessageLite& message) {
  const std::string body = message.SerializeAsString();
  const uint32_t n = static_cast<uint32_t>(body.size());
  std::string frame;
  frame.reserve(5 + body.size());
  frame.push_back('\0');
  frame.push_back(static_cast<char>((n >> 24) & 0xff));
  frame.push_back(static_cast<char>((n >> 16) & 0xff));
  frame.push_back(static_cast<char>((n >> 8) & 0xff));
  frame.push_back(static_cast<char>(n & 0xff));
  frame += body;
  return frame;
}

}  // namespace frontdoor::load
