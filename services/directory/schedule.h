// Opening sessions (local wall-clock times, by weekday) as absolute time
// intervals, so that "open now", "closing within 30 minutes" and "opens
// within the target" are measured in real minutes across midnight and
// across the clock changes (BST/GMT).
//
// Pure functions; thread-safe.

#ifndef FRONTDOOR_SERVICES_DIRECTORY_SCHEDULE_H_
#define FRONTDOOR_SERVICES_DIRECTORY_SCHEDULE_H_

#include <vector>

#include "absl/time/time.h"
#include "frontdoor/v1/directory_service.pb.h"
#include "google/protobuf/repeated_field.h"

namespace frontdoor::directory {

// [open, close): the service is open from `open` until just before `close`.
struct OpenInterval {
  absl::Time open;
  absl::Time close;
};

// The intervals in which a service with `sessions` is open, covering at least
// [from, to], sorted and merged where they touch or overlap (a Friday session
// to 24:00 and a Saturday one from 00:00 are one interval). No sessions means
// always open: one interval from InfinitePast to InfiniteFuture.
//
// Local times that do not exist (the hour skipped when the clocks go
// forward) map to the moment of the change; local times that happen twice
// (when the clocks go back) map to the first of them.
std::vector<OpenInterval> OpenIntervals(
    const google::protobuf::RepeatedPtrField<v1::Session>& sessions,
    const absl::TimeZone& tz, absl::Time from, absl::Time to);

// Where `now` stands against a service's opening intervals.
struct Availability {
  bool open_now = false;
  // While open now: when the current interval ends (InfiniteFuture if it
  // does not end before the end of the intervals given).
  absl::Time closes_at = absl::InfiniteFuture();
  // The first interval opening after `now`, if any.
  bool opens_later = false;
  absl::Time next_open = absl::InfiniteFuture();
  // The earliest moment >= now at which the service is open and stays open
  // for at least `min_open` (InfiniteFuture if none in the intervals).
  absl::Time usable_from = absl::InfiniteFuture();
};

// `intervals` as returned by OpenIntervals, covering `now`; `horizon_end` is
// the `to` they were built for (an interval reaching it is treated as not
// closing).
Availability AvailabilityAt(const std::vector<OpenInterval>& intervals,
                            absl::Time now, absl::Time horizon_end,
                            absl::Duration min_open);

}  // namespace frontdoor::directory

#endif  // FRONTDOOR_SERVICES_DIRECTORY_SCHEDULE_H_
