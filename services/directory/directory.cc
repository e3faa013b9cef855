#include "services/directory/directory.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "services/common/proto_time.h"
#include "services/common/status_macros.h"
#include "services/directory/schedule.h"
#include "services/triage/engine/cell.h"

namespace frontdoor::directory {
namespace {

// Sessions are built this far ahead: every weekly session occurs in it.
constexpr absl::Duration kHorizon = absl::Hours(8 * 24);
constexpr int kMaxTargetMinutes = 366 * 24 * 60;
constexpr int kMaxAgeDays = 47482;  // 130 years
constexpr size_t kMaxSetByLength = 256;

std::string PathwayName(v1::Pathway p) {
  const auto* ev = v1::Pathway_descriptor()->FindValueByNumber(p);
  return ev == nullptr ? absl::StrCat(static_cast<int>(p))
                       : rules::ShortEnumName(ev);
}

std::string CapacityName(v1::Capacity c) {
  const auto* ev = v1::Capacity_descriptor()->FindValueByNumber(c);
  return ev == nullptr ? absl::StrCat(static_cast<int>(c))
                       : rules::ShortEnumName(ev);
}

std::string SexName(v1::Sex s) {
  const auto* ev = v1::Sex_descriptor()->FindValueByNumber(s);
  return ev == nullptr ? absl::StrCat(static_cast<int>(s))
                       : rules::ShortEnumName(ev);
}

// "immediate", "90 min", "2h", "2w", "no target".
std::string FormatTarget(int minutes) {
  if (minutes < 0) return "no target";
  if (minutes == 0) return "immediate";
  if (minutes % (7 * 24 * 60) == 0)
    return absl::StrCat(minutes / (7 * 24 * 60), "w");
  if (minutes % 60 == 0) return absl::StrCat(minutes / 60, "h");
  return absl::StrCat(minutes, " min");
}

bool ValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= -62135596800 && ts.seconds() <= 253402300799 &&
         ts.nanos() >= 0 && ts.nanos() <= 999999999;
}

int CapacityOrder(v1::Capacity c) {
  return c == v1::CAPACITY_GREEN ? 0 : c == v1::CAPACITY_AMBER ? 1 : 2;
}

}  // namespace

int DefaultTargetMinutes(v1::Urgency urgency) {
  switch (urgency) {
    case v1::URGENCY_IMMEDIATE:
      return 0;
    case v1::URGENCY_WITHIN_1H:
      return 60;
    case v1::URGENCY_WITHIN_2H:
      return 120;
    case v1::URGENCY_WITHIN_4H:
      return 240;
    case v1::URGENCY_WITHIN_12H:
      return 12 * 60;
    case v1::URGENCY_WITHIN_24H:
      return 24 * 60;
    case v1::URGENCY_WITHIN_48H:
      return 48 * 60;
    case v1::URGENCY_WITHIN_72H:
      return 72 * 60;
    case v1::URGENCY_WITHIN_2W:
      return 14 * 24 * 60;
    case v1::URGENCY_WITHIN_4W:
      return 28 * 24 * 60;
    default:
      return -1;
  }
}

Directory::Directory(DirectoryFile file, absl::TimeZone tz,
                     const Options& options)
    : name_(std::move(file.name)),
      tz_(tz),
      clock_(options.clock != nullptr ? options.clock : RealClock::Get()),
      store_(options.capacity_store) {
  entries_.reserve(file.services.size());
  for (v1::Service& s : file.services) {
    Entry e;
    e.catchment.insert(s.catchment().begin(), s.catchment().end());
    e.service = std::move(s);
    e.index = static_cast<int>(entries_.size());
    by_id_[e.service.id()] = entries_.size();
    entries_.push_back(std::move(e));
  }
}

absl::StatusOr<std::unique_ptr<Directory>> Directory::Create(
    DirectoryFile file, const Options& options) {
  absl::TimeZone tz;
  if (file.timezone.empty() || !absl::LoadTimeZone(file.timezone, &tz)) {
    return absl::InvalidArgumentError(
        absl::StrCat("directory: unknown time zone '", file.timezone, "'"));
  }
  absl::flat_hash_set<std::string> ids;
  bool any_catch_all = false;
  for (const v1::Service& s : file.services) {
    if (s.id().empty()) {
      return absl::InvalidArgumentError("directory: a service has no id");
    }
    if (!ids.insert(s.id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("directory: duplicate service id '", s.id(), "'"));
    }
    for (const v1::Session& session : s.sessions()) {
      if (session.day() < v1::WEEKDAY_MONDAY ||
          session.day() > v1::WEEKDAY_SUNDAY || session.open_minute() < 0 ||
          session.open_minute() > 1439 || session.close_minute() < 1 ||
          session.close_minute() > 1440) {
        return absl::InvalidArgumentError(
            absl::StrCat("directory: service '", s.id(), "' has a bad session ",
                         session.ShortDebugString()));
      }
    }
    any_catch_all = any_catch_all || s.catch_all();
  }
  if (!any_catch_all) {
    return absl::InvalidArgumentError(
        "directory: no catch-all service (an emergency department with "
        "catch_all: yes)");
  }
  std::unique_ptr<Directory> d(new Directory(std::move(file), tz, options));
  if (d->store_ != nullptr) FRONTDOOR_RETURN_IF_ERROR(d->Restore(d->store_));
  return d;
}

absl::StatusOr<std::unique_ptr<Directory>> Directory::Open(
    const std::string& path, const Options& options) {
  FRONTDOOR_ASSIGN_OR_RETURN(DirectoryFile file, LoadDirectoryFile(path));
  return Create(std::move(file), options);
}

absl::Status Directory::Restore(CapacityStore* store) {
  FRONTDOOR_ASSIGN_OR_RETURN(std::vector<v1::ServiceState> states,
                             store->List());
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (const v1::ServiceState& st : states) {
    // States of services no longer in the file, and expired ones, are
    // ignored.
    if (Find(st.service().id()) == nullptr) continue;
    if (!v1::Capacity_IsValid(st.capacity()) ||
        st.capacity() == v1::CAPACITY_UNSPECIFIED ||
        !ValidTimestamp(st.capacity_expires_at())) {
      continue;
    }
    const absl::Time expires = FromProtoTime(st.capacity_expires_at());
    if (expires <= now) continue;
    live_[st.service().id()] =
        LiveCapacity{st.capacity(), expires, st.capacity_set_by()};
  }
  return absl::OkStatus();
}

const Directory::Entry* Directory::Find(absl::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &entries_[it->second];
}

Directory::EffectiveCapacity Directory::CapacityAt(const Entry& e,
                                                   absl::Time at) const {
  EffectiveCapacity c;
  c.capacity = e.service.default_capacity() == v1::CAPACITY_UNSPECIFIED
                   ? v1::CAPACITY_GREEN
                   : e.service.default_capacity();
  absl::ReaderMutexLock lock(&mu_);
  auto it = live_.find(e.service.id());
  if (it != live_.end() && at < it->second.expires_at) {
    c.capacity = it->second.capacity;
    c.live = true;
    c.expires_at = it->second.expires_at;
    c.set_by = it->second.set_by;
  }
  return c;
}

bool Directory::OpenAt(const Entry& e, absl::Time at) const {
  if (e.service.sessions().empty()) return true;
  const absl::Time end = at + absl::Hours(24);
  std::vector<OpenInterval> iv =
      OpenIntervals(e.service.sessions(), tz_, at, end);
  return AvailabilityAt(iv, at, end, absl::ZeroDuration()).open_now;
}

v1::ServiceState Directory::StateOf(const Entry& e, absl::Time now) const {
  v1::ServiceState st;
  *st.mutable_service() = e.service;
  EffectiveCapacity c = CapacityAt(e, now);
  st.set_capacity(c.capacity);
  if (c.live) {
    *st.mutable_capacity_expires_at() = ToProtoTime(c.expires_at);
    st.set_capacity_set_by(c.set_by);
  }
  st.set_open_now(OpenAt(e, now));
  return st;
}

absl::StatusOr<std::vector<v1::ServiceState>> Directory::ListServices(
    v1::Pathway pathway) const {
  if (!v1::Pathway_IsValid(pathway)) {
    return absl::InvalidArgumentError(
        absl::StrCat("list_services.pathway: ", static_cast<int>(pathway),
                     " is not a pathway"));
  }
  const absl::Time now = clock_->Now();
  std::vector<v1::ServiceState> out;
  for (const Entry& e : entries_) {
    if (pathway != v1::PATHWAY_UNSPECIFIED &&
        std::find(e.service.pathways().begin(), e.service.pathways().end(),
                  pathway) == e.service.pathways().end()) {
      continue;
    }
    out.push_back(StateOf(e, now));
  }
  return out;
}

absl::StatusOr<v1::ServiceState> Directory::GetService(
    absl::string_view id) const {
  if (id.empty()) return absl::InvalidArgumentError("get_service.id: required");
  const Entry* e = Find(id);
  if (e == nullptr) {
    return absl::NotFoundError(absl::StrCat("no service '", id, "'"));
  }
  return StateOf(*e, clock_->Now());
}

absl::StatusOr<v1::ServiceState> Directory::SetCapacity(
    const v1::SetCapacityRequest& request) {
  if (request.service_id().empty()) {
    return absl::InvalidArgumentError("set_capacity.service_id: required");
  }
  const Entry* e = Find(request.service_id());
  if (e == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "set_capacity.service_id: no service '", request.service_id(), "'"));
  }
  if (!v1::Capacity_IsValid(request.capacity()) ||
      request.capacity() == v1::CAPACITY_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "set_capacity.capacity: must be GREEN, AMBER or RED");
  }
  int minutes = request.expires_after_minutes();
  if (minutes < 0 || minutes > kMaxCapacityMinutes) {
    return absl::InvalidArgumentError(
        absl::StrCat("set_capacity.expires_after_minutes: ", minutes,
                     " is out of range; 1 to ", kMaxCapacityMinutes,
                     " (0 means ", kDefaultCapacityMinutes, ")"));
  }
  if (minutes == 0) minutes = kDefaultCapacityMinutes;
  if (request.set_by().size() > kMaxSetByLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "set_capacity.set_by: longer than ", kMaxSetByLength, " characters"));
  }

  absl::MutexLock write_lock(&write_mu_);
  const absl::Time now = clock_->Now();
  const absl::Time expires = now + absl::Minutes(minutes);
  if (store_ != nullptr) {
    v1::ServiceState stored;
    stored.mutable_service()->set_id(e->service.id());
    stored.mutable_service()->set_name(e->service.name());
    stored.set_capacity(request.capacity());
    *stored.mutable_capacity_expires_at() = ToProtoTime(expires);
    stored.set_capacity_set_by(request.set_by());
    FRONTDOOR_RETURN_IF_ERROR(store_->Put(stored));
  }
  {
    absl::MutexLock lock(&mu_);
    live_[e->service.id()] =
        LiveCapacity{request.capacity(), expires, request.set_by()};
  }
  return StateOf(*e, now);
}

std::string Directory::When(absl::Time t, absl::Time now) const {
  const absl::CivilMinute cm = absl::ToCivilMinute(t, tz_);
  const absl::CivilDay day(cm);
  const absl::CivilDay today = absl::ToCivilDay(now, tz_);
  const std::string hm = absl::StrFormat("%02d:%02d", cm.hour(), cm.minute());
  if (day == today) return hm;
  if (day == today + 1) return absl::StrCat("tomorrow ", hm);
  if (day > today && day - today < 7) {
    return absl::StrCat(absl::FormatTime("%a ", t, tz_), hm);
  }
  return absl::StrCat(absl::FormatTime("%a %e %b ", t, tz_), hm);
}

absl::StatusOr<v1::ServiceMatch> Directory::MatchService(
    const v1::MatchServiceRequest& request) const {
  // Validation.
  if (!v1::Pathway_IsValid(request.pathway()) ||
      request.pathway() == v1::PATHWAY_UNSPECIFIED) {
    return absl::InvalidArgumentError("match_service.pathway: required");
  }
  if (!v1::Urgency_IsValid(request.urgency()) ||
      request.urgency() == v1::URGENCY_UNSPECIFIED) {
    return absl::InvalidArgumentError("match_service.urgency: required");
  }
  if (request.target_minutes() < -1 ||
      request.target_minutes() > kMaxTargetMinutes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "match_service.target_minutes: ", request.target_minutes(),
        " is out of range; -1 (no target) to ", kMaxTargetMinutes));
  }
  if (request.age_days() < -1 || request.age_days() > kMaxAgeDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("match_service.age_days: ", request.age_days(),
                     " is out of range; -1 (unknown) to ", kMaxAgeDays));
  }
  if (!v1::Sex_IsValid(request.sex())) {
    return absl::InvalidArgumentError(
        absl::StrCat("match_service.sex: ", static_cast<int>(request.sex()),
                     " is not a sex"));
  }
  // A district that is not recognised is treated as unknown rather than
  // refused: matching must not leave a referral without a service.
  const std::string district = NormalizeDistrict(request.postcode_district());
  const bool bad_district =
      district.empty() &&
      !absl::StripAsciiWhitespace(request.postcode_district()).empty();
  if (request.postcode_district().size() > 64) {
    return absl::InvalidArgumentError(
        "match_service.postcode_district: longer than 64 characters");
  }
  if (request.has_at() && !ValidTimestamp(request.at())) {
    return absl::InvalidArgumentError("match_service.at: not a valid time");
  }

  const absl::Time now =
      request.has_at() ? FromProtoTime(request.at()) : clock_->Now();
  int target = request.target_minutes();
  if (target == 0 && request.urgency() != v1::URGENCY_IMMEDIATE) {
    target = DefaultTargetMinutes(request.urgency());
  }
  const std::string pathway = PathwayName(request.pathway());
  const int age = request.age_days();
  const v1::Sex sex = request.sex();
  const std::string where =
      !district.empty() ? district
      : bad_district    ? absl::StrCat("an unrecognised district ('",
                                       request.postcode_district(), "')")
                        : "an unknown district";
  const absl::Time horizon_end = now + kHorizon;
  const absl::Time deadline =
      target < 0 ? horizon_end
      : target <= kOpenNowTargetMinutes
          ? now
          : std::max(now, now + absl::Minutes(target) - kRespondLead);

  struct Candidate {
    const Entry* entry;
    std::vector<std::string> reasons;  // why it cannot take the referral
    EffectiveCapacity capacity;
    Availability availability;
    bool everywhere;
  };
  std::vector<Candidate> candidates;
  for (const Entry& e : entries_) {
    const v1::Service& s = e.service;
    if (std::find(s.pathways().begin(), s.pathways().end(),
                  request.pathway()) == s.pathways().end()) {
      continue;
    }
    Candidate c{&e, {}, CapacityAt(e, now), {}, e.catchment.empty()};
    // Catchment.
    if (!c.everywhere &&
        (district.empty() || !e.catchment.contains(district))) {
      c.reasons.push_back(absl::StrCat("not in catchment (", where, ")"));
    }
    // Age.
    const bool age_limited = s.min_age_days() > 0 || s.max_age_days() > 0;
    if (age_limited) {
      const std::string limits =
          FormatAgeLimits(s.min_age_days(), s.max_age_days());
      if (age < 0) {
        c.reasons.push_back(absl::StrCat("age not known (takes ", limits, ")"));
      } else if (age < s.min_age_days() ||
                 (s.max_age_days() > 0 && age > s.max_age_days())) {
        c.reasons.push_back(
            absl::StrCat("age ", FormatAge(age), " (takes ", limits, ")"));
      }
    }
    // Sex.
    if (!s.sexes().empty() &&
        std::find(s.sexes().begin(), s.sexes().end(), sex) == s.sexes().end()) {
      std::vector<std::string> names;
      for (int x : s.sexes()) names.push_back(SexName(static_cast<v1::Sex>(x)));
      c.reasons.push_back(absl::StrCat(
          sex == v1::SEX_UNSPECIFIED ? "sex not known"
                                     : absl::StrCat("sex ", SexName(sex)),
          " (takes ", absl::StrJoin(names, ", "), ")"));
    }
    // Opening.
    std::vector<OpenInterval> iv =
        OpenIntervals(s.sessions(), tz_, now, horizon_end);
    c.availability = AvailabilityAt(iv, now, horizon_end, kClosingSoon);
    const Availability& a = c.availability;
    if (a.usable_from > deadline) {
      if (a.open_now && a.closes_at - now < kClosingSoon) {
        std::string r = absl::StrCat("closes ", When(a.closes_at, now),
                                     ", within 30 minutes");
        if (a.opens_later) {
          absl::StrAppend(&r, " (opens again ", When(a.next_open, now), ")");
        }
        c.reasons.push_back(std::move(r));
      } else if (!a.opens_later) {
        c.reasons.push_back("closed (no session in the next week)");
      } else if (target > kOpenNowTargetMinutes) {
        c.reasons.push_back(absl::StrCat(
            "closed (opens ", When(a.next_open, now), ", too late for the ",
            FormatTarget(target), " target)"));
      } else {
        c.reasons.push_back(
            absl::StrCat("closed (opens ", When(a.next_open, now), ")"));
      }
    }
    // Capacity.
    if (c.capacity.capacity == v1::CAPACITY_RED) {
      std::string r = "capacity RED";
      if (c.capacity.live) {
        absl::StrAppend(&r, " until ", When(c.capacity.expires_at, now));
        if (!c.capacity.set_by.empty()) {
          absl::StrAppend(&r, ", set by ", c.capacity.set_by);
        }
      }
      c.reasons.push_back(std::move(r));
    }
    candidates.push_back(std::move(c));
  }

  auto key = [](const Candidate& c) {
    return std::make_tuple(
        !c.reasons.empty(), c.everywhere, c.entry->service.rank(),
        CapacityOrder(c.capacity.capacity), c.entry->service.id());
  };
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [&](const Candidate& a, const Candidate& b) { return key(a) < key(b); });

  v1::ServiceMatch match;
  const Candidate* chosen =
      !candidates.empty() && candidates.front().reasons.empty()
          ? &candidates.front()
          : nullptr;
  const std::string target_text = FormatTarget(target);
  for (const Candidate& c : candidates) {
    if (&c == chosen) continue;
    const v1::Service& s = c.entry->service;
    std::string reason;
    if (!c.reasons.empty()) {
      reason = absl::StrJoin(c.reasons, "; ");
    } else {
      const v1::Service& w = chosen->entry->service;
      if (c.everywhere && !chosen->everywhere) {
        reason = absl::StrCat("serves every district; ", w.name(), " covers ",
                              district, " specifically");
      } else if (s.rank() != w.rank()) {
        reason = absl::StrCat("rank ", s.rank(), "; ", w.name(), " has rank ",
                              w.rank());
      } else if (c.capacity.capacity != chosen->capacity.capacity) {
        reason = absl::StrCat("capacity ", CapacityName(c.capacity.capacity),
                              "; ", w.name(), " is ",
                              CapacityName(chosen->capacity.capacity));
      } else {
        reason = absl::StrCat("same rank and capacity as ", w.name(),
                              ", which comes first by id");
      }
    }
    match.add_not_chosen(absl::StrCat(s.name(), ": ", reason));
  }

  if (chosen != nullptr) {
    const v1::Service& s = chosen->entry->service;
    const Availability& a = chosen->availability;
    std::vector<std::string> parts;
    parts.push_back(absl::StrCat("offers ", pathway));
    parts.push_back(chosen->everywhere ? "serves every district"
                                       : absl::StrCat("covers ", district));
    if (s.min_age_days() > 0 || s.max_age_days() > 0) {
      parts.push_back(absl::StrCat(
          "takes ", FormatAgeLimits(s.min_age_days(), s.max_age_days()),
          " (patient ", FormatAge(age), ")"));
    }
    std::string open;
    if (a.open_now) {
      open = a.closes_at == absl::InfiniteFuture()
                 ? "open now"
                 : absl::StrCat("open now until ", When(a.closes_at, now));
    } else {
      open = absl::StrCat("opens ", When(a.usable_from, now));
    }
    if (target < 0) {
      absl::StrAppend(&open, " (no target time)");
    } else if (target <= kOpenNowTargetMinutes) {
      absl::StrAppend(&open, " (", target_text,
                      " target: must be open now and not closing within 30 "
                      "minutes)");
    } else {
      absl::StrAppend(&open, " (", target_text,
                      " target: must open at least an hour before it)");
    }
    parts.push_back(std::move(open));
    std::string capacity =
        absl::StrCat("capacity ", CapacityName(chosen->capacity.capacity));
    if (chosen->capacity.live) {
      absl::StrAppend(&capacity, " until ",
                      When(chosen->capacity.expires_at, now));
    }
    parts.push_back(std::move(capacity));
    parts.push_back(absl::StrCat("rank ", s.rank()));
    std::string explanation =
        absl::StrCat(s.name(), " for ", pathway, " in ", where, ": ",
                     absl::StrJoin(parts, "; "), ".");
    if (candidates.size() > 1) {
      absl::StrAppend(&explanation, " Preferred over ", candidates.size() - 1,
                      " other service", candidates.size() > 2 ? "s" : "",
                      " (see not_chosen).");
    }
    match.set_service_id(s.id());
    match.set_service_name(s.name());
    match.set_catch_all(false);
    match.set_explanation(std::move(explanation));
    return match;
  }

  // The catch-all: the one covering the district (best rank, then file
  // order), else the first by rank and file order. Its hours and capacity
  // are not checked: it is the safe fallback.
  const Entry* fallback = nullptr;
  bool covers = false;
  auto better = [](const Entry* a, const Entry* b) {
    return b == nullptr || std::make_tuple(a->service.rank(), a->index) <
                               std::make_tuple(b->service.rank(), b->index);
  };
  for (const Entry& e : entries_) {
    if (!e.service.catch_all()) continue;
    const bool c = !district.empty() && e.catchment.contains(district);
    if (c && (!covers || better(&e, fallback))) {
      fallback = &e;
      covers = true;
    } else if (!covers && better(&e, fallback)) {
      fallback = &e;
    }
  }
  std::string explanation;
  if (candidates.empty()) {
    explanation = absl::StrCat("No service offers ", pathway, ".");
  } else {
    explanation =
        absl::StrCat("No ", pathway, " service can take this referral (",
                     target_text, " target): ", candidates.size(),
                     " considered, none fits (see "
                     "not_chosen).");
  }
  bool in_area = false;
  if (!district.empty()) {
    for (const Entry& e : entries_) {
      if (!e.service.catch_all() && e.catchment.contains(district)) {
        in_area = true;
        break;
      }
    }
  }
  if (!district.empty() && !in_area) {
    absl::StrAppend(&explanation, " ", district,
                    " is outside the area of every local service: redirect "
                    "to the patient's local equivalent service with the same "
                    "urgency.");
  }
  if (fallback == nullptr) {
    // Create() guarantees a catch-all; this is unreachable.
    return absl::InternalError("directory has no catch-all service");
  }
  absl::StrAppend(
      &explanation, " Catch-all: ", fallback->service.name(),
      covers ? absl::StrCat(", the emergency department for ", district)
             : absl::StrCat(", the first catch-all (none covers ", where, ")"),
      ".");
  match.set_service_id(fallback->service.id());
  match.set_service_name(fallback->service.name());
  match.set_catch_all(true);
  match.set_explanation(std::move(explanation));
  return match;
}

}  // namespace frontdoor::directory
