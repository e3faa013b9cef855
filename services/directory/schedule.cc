#include "services/directory/schedule.h"

#include <algorithm>

#include "absl/time/civil_time.h"

namespace frontdoor::directory {
namespace {

// Proto weekday (1 = Monday .. 7 = Sunday) of a civil day.
int ProtoWeekday(absl::CivilDay day) {
  switch (absl::GetWeekday(day)) {
    case absl::Weekday::monday:
      return 1;
    case absl::Weekday::tuesday:
      return 2;
    case absl::Weekday::wednesday:
      return 3;
    case absl::Weekday::thursday:
      return 4;
    case absl::Weekday::friday:
      return 5;
    case absl::Weekday::saturday:
      return 6;
    case absl::Weekday::sunday:
      return 7;
  }
  return 0;
}

absl::Time ToTime(absl::CivilSecond cs, const absl::TimeZone& tz) {
  const absl::TimeZone::TimeInfo info = tz.At(cs);
  // Skipped (clocks forward): the moment of the change. Repeated (clocks
  // back): the first occurrence. Otherwise the unique time.
  return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
}

}  // namespace

std::vector<OpenInterval> OpenIntervals(
    const google::protobuf::RepeatedPtrField<v1::Session>& sessions,
    const absl::TimeZone& tz, absl::Time from, absl::Time to) {
  std::vector<OpenInterval> out;
  if (sessions.empty()) {
    out.push_back({absl::InfinitePast(), absl::InfiniteFuture()});
    return out;
  }
  // One day either side: a session that started yesterday may still run,
  // and the last day's session may end after `to`.
  const absl::CivilDay first = absl::ToCivilDay(from, tz) - 1;
  const absl::CivilDay last = absl::ToCivilDay(to, tz) + 1;
  for (absl::CivilDay day = first; day <= last; ++day) {
    const int weekday = ProtoWeekday(day);
    for (const v1::Session& s : sessions) {
      if (s.day() != weekday) continue;
      const absl::CivilSecond midnight(day);
      const absl::CivilSecond open = midnight + s.open_minute() * 60;
      absl::CivilSecond close = midnight + s.close_minute() * 60;
      if (s.close_minute() <= s.open_minute()) close += 24 * 60 * 60;
      OpenInterval iv{ToTime(open, tz), ToTime(close, tz)};
      if (iv.close > iv.open) out.push_back(iv);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const OpenInterval& a, const OpenInterval& b) {
              return a.open < b.open;
            });
  std::vector<OpenInterval> merged;
  for (const OpenInterval& iv : out) {
    if (!merged.empty() && iv.open <= merged.back().close) {
      merged.back().close = std::max(merged.back().close, iv.close);
    } else {
      merged.push_back(iv);
    }
  }
  return merged;
}

Availability AvailabilityAt(const std::vector<OpenInterval>& intervals,
                            absl::Time now, absl::Time horizon_end,
                            absl::Duration min_open) {
  Availability a;
  for (const OpenInterval& iv : intervals) {
    const bool reaches_end = iv.close >= horizon_end;
    const absl::Time close = reaches_end ? absl::InfiniteFuture() : iv.close;
    if (close <= now) continue;
    if (iv.open <= now) {
      a.open_now = true;
      a.closes_at = close;
    } else if (!a.opens_later) {
      a.opens_later = true;
      a.next_open = iv.open;
    }
    const absl::Time start = std::max(iv.open, now);
    if (a.usable_from == absl::InfiniteFuture() && close - start >= min_open) {
      a.usable_from = start;
    }
  }
  return a;
}

}  // namespace frontdoor::directory
