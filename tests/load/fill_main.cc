// frontdoor-fill: writes N realistic referrals straight into a referral store
// (storage/referral_store.h), for scale checks of frontdoor-server.
//
//   frontdoor-fill --data_dir=DIR --count=1000000 [--days=365]
//       [--active_days=14] [--rules=triage-rules/community-spa]
//       [--directory=triage-rules/directory.yaml]
//
// The store is DIR/referrals, where frontdoor-server --data_dir=DIR looks.
// Referral i is bench corpus referral i (tests/bench/corpus.h) moved so that
// the referrals are spread evenly over the last --days days, up to now. Each
// is stored as the server stores a submission: triaged by the rule set (the
// engine in-process), matched to a service by the directory, with its
// SUBMITTED and TRIAGED events and its idempotency key (request_id
// "fill-<corpus index>"). Corpus referrals that the server's validation
// refuses are skipped (and counted), as the server would never store them.
// Referrals received in the last 2 days stay TRIAGED; older ones
// within --active_days were ACCEPTED 30 minutes after receipt; older ones
// were then CLOSED 3 days after receipt (ACCEPTED and CLOSED events). So the
// worklists hold the last --active_days days and the rest is history.
// Duplicate linking is not done (the corpus's NHS numbers rarely repeat).
//
// Writes are not synced (Options::sync = false) and go in large commit
// groups, with a 512 MiB block cache (--block_cache_mb); the store is flushed
// and closed at the end. Prints what it stored
// by pathway and status. Deterministic apart from the reference ids' random
// bits and "now".

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "openssl/sha.h"
#include "services/common/proto_time.h"
#include "services/common/records.h"
#include "services/common/reference.h"
#include "services/directory/directory.h"
#include "services/referral/lifecycle.h"
#include "services/referral/validation.h"
#include "services/triage/engine/loader.h"
#include "storage/referral_store.h"
#include "tests/bench/corpus.h"
#include "tests/load/load_util.h"

ABSL_FLAG(std::string, data_dir, "", "Data directory; the store is DATA_DIR/referrals (required)");
ABSL_FLAG(int64_t, count, 1000000, "Referrals to write");
ABSL_FLAG(int64_t, first, 0, "Corpus index of the first referral");
ABSL_FLAG(int, days, 365, "Spread the referrals over this many days up to now");
ABSL_FLAG(int, active_days, 14, "Referrals younger than this stay active (on worklists)");
ABSL_FLAG(std::string, rules, "triage-rules/community-spa", "Rule set directory");
ABSL_FLAG(std::string, directory, "triage-rules/directory.yaml", "Directory of services file");
ABSL_FLAG(int, group, 4096, "Mutations per commit group");
ABSL_FLAG(int, in_flight, 16384, "Commits queued at most");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the reference ids");
// The store's default 32 MiB block cache makes every filter probe of a big
// column family re-read its filter block from the file (docs/benchmarks.md,
// "RPCs"): the fill slows from ~4,000 to ~500 referrals/s on the way to
// 1,000,000. The files written are the same whatever the cache.
ABSL_FLAG(int, block_cache_mb, 512,
          "Block cache of the store while filling, in MiB (0: the store's default)");

namespace frontdoor::load {
namespace {


int AgeDays(const v1::Referral& r, absl::Time at) {
  const v1::Patient& p = r.patient();
  if (p.has_date_of_birth() && p.date_of_birth().year() > 0) {
    absl::CivilDay dob(p.date_of_birth().year(), p.date_of_birth().month(),
                       p.date_of_birth().day());
    return static_cast<int>(absl::ToCivilDay(at, absl::UTCTimeZone()) - dob);
  }
  if (p.has_stated_age_years()) return static_cast<int>(p.stated_age_years() * 365.25);
  return -1;
}

// What one referral adds to the store.
struct Item {
  v1::ReferralRecord record;
  std::vector<v1::ReferralEvent> events;
  std::string request_id;
  storage::IdempotencyEntry idempotency;
};

absl::Status Transition(v1::ReferralRecord* rec, absl::Time at,
                        void (*set)(v1::TransitionReferralRequest*), const std::string& actor,
                        std::vector<v1::ReferralEvent>* events) {
  v1::TransitionReferralRequest req;
  req.set_id(rec->id());
  req.set_expected_version(rec->version());
  req.set_actor(actor);
  set(&req);
  v1::ReferralEvent e;
  absl::Status s = referral::ApplyTransition(req, at, "", rec, &e);
  if (s.ok()) events->push_back(e);
  return s;
}

int Main() {
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const int64_t count = absl::GetFlag(FLAGS_count);
  const int64_t first = absl::GetFlag(FLAGS_first);
  if (data_dir.empty() || count < 1 || absl::GetFlag(FLAGS_days) < 1 ||
      absl::GetFlag(FLAGS_group) < 1 || absl::GetFlag(FLAGS_in_flight) < 1) {
    std::cerr << "frontdoor-fill: --data_dir is required; --count, --days, --group and "
                 "--in_flight must be >= 1\n";
    return 2;
  }

  rules::Diagnostics diags;
  rules::LoadOptions load_options;
  load_options.analyse = false;
  auto rule_set = rules::LoadRuleSet(absl::GetFlag(FLAGS_rules), load_options, &diags);
  if (rule_set == nullptr) {
    std::cerr << "frontdoor-fill: rule set " << absl::GetFlag(FLAGS_rules) << " has "
              << diags.error_count() << " error(s)\n";
    return 1;
  }
  auto directory =
      directory::Directory::Open(absl::GetFlag(FLAGS_directory), directory::Directory::Options());
  if (!directory.ok()) {
    std::cerr << "frontdoor-fill: " << directory.status() << "\n";
    return 1;
  }

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  storage::ReferralStore::Options store_options;
  store_options.path = (std::filesystem::path(data_dir) / "referrals").string();
  store_options.sync = false;
  store_options.max_group = absl::GetFlag(FLAGS_group);
  store_options.max_pending = absl::GetFlag(FLAGS_in_flight) + 1;
  if (absl::GetFlag(FLAGS_block_cache_mb) > 0) {
    store_options.block_cache_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_block_cache_mb)) << 20;
  }
  auto opened = storage::ReferralStore::Open(store_options);
  if (!opened.ok()) {
    std::cerr << "frontdoor-fill: " << opened.status() << "\n";
    return 1;
  }
  std::unique_ptr<storage::ReferralStore> store = *std::move(opened);

  const absl::Time start = absl::Now();
  const absl::Time now = start;
  const absl::Duration span = absl::Hours(24) * absl::GetFlag(FLAGS_days);
  const absl::Duration active = absl::Hours(24) * absl::GetFlag(FLAGS_active_days);
  std::mt19937_64 ids(absl::GetFlag(FLAGS_seed));
  absl::flat_hash_set<std::string> used_ids;

  absl::Mutex mu;
  int64_t in_flight = 0;
  int64_t done = 0;
  absl::Status failure;
  const int64_t max_in_flight = absl::GetFlag(FLAGS_in_flight);

  std::map<std::string, int64_t> by_pathway_active, by_status;
  int64_t match_failures = 0, transition_failures = 0;
  rules::EvalResult scratch;
  int64_t next_report = 100000;

  int64_t corpus_index = first;
  int64_t skipped = 0;
  std::string first_skip;
  for (int64_t i = 0; i < count; ++i, ++corpus_index) {
    // Place referral i at its slot, keeping its local time of day.
    v1::Referral r = bench::GenerateReferral(static_cast<uint64_t>(corpus_index));
    const absl::Time slot = now - span + span * (static_cast<double>(i + 1) / count);
    const absl::Time received0 = absl::FromUnixSeconds(r.received_at().seconds());
    int64_t shift = absl::ToInt64Hours(absl::Floor(slot - received0, absl::Hours(24))) / 24;
    ShiftReferralDays(&r, shift);
    if (absl::FromUnixSeconds(r.received_at().seconds()) > now) ShiftReferralDays(&r, -1);
    const absl::Time received = FromProtoTime(r.received_at());
    {
      // What the server would refuse is never stored.
      std::vector<std::string> warnings;
      absl::Status valid = referral::ValidateReferral(r, received, "referral.", &warnings);
      if (!valid.ok()) {
        if (skipped++ == 0) {
          first_skip = absl::StrCat("corpus referral ", corpus_index, ": ", valid.message());
        }
        --i;
        continue;
      }
    }

    auto item = std::make_shared<Item>();
    item->request_id = absl::StrCat("fill-", corpus_index);
    v1::SubmitReferralRequest submitted;
    *submitted.mutable_referral() = r;
    // The same fingerprint the service computes, so a replay is recognised.
    item->idempotency.payload_hash =
        referral::SubmissionFingerprint(submitted, "frontdoor-fill");

    v1::ReferralRecord& rec = item->record;
    // As the service makes them, so the store's key order is a real one;
    // a reference already drawn is drawn again, as the service does.
    std::string id;
    do {
      id = TimeOrderedReference(received, ids());
    } while (!used_ids.insert(id).second);
    rec.set_id(std::move(id));
    item->idempotency.referral_id = rec.id();
    *rec.mutable_referral() = std::move(r);
    *rec.mutable_received_at() = rec.referral().received_at();
    *rec.mutable_updated_at() = rec.referral().received_at();
    rec.set_request_id(item->request_id);
    rec.set_submitted_by("frontdoor-fill");
    rec.set_version(1);
    rec.set_status(v1::REFERRAL_STATUS_RECEIVED);
    item->events.push_back(
        referral::NewEvent(&rec, v1::EVENT_TYPE_SUBMITTED, received, "frontdoor-fill"));

    // Triage and service matching, as SubmitReferral does through its stubs.
    v1::TriageDecision decision;
    rule_set->Evaluate(rec.referral(), &scratch);
    rule_set->ToDecision(scratch, &decision);
    v1::MatchServiceRequest m;
    m.set_pathway(decision.pathway());
    m.set_urgency(decision.urgency());
    m.set_target_minutes(decision.target_minutes());
    m.set_age_days(AgeDays(rec.referral(), received));
    m.set_sex(rec.referral().patient().sex());
    m.set_postcode_district(rec.referral().patient().postcode_district());
    *m.mutable_at() = ToProtoTime(received);
    auto match = (*directory)->MatchService(m);
    if (!match.ok()) ++match_failures;
    *rec.mutable_decision() = decision;
    rec.set_pathway(decision.pathway());
    rec.set_urgency(decision.urgency());
    if (match.ok()) *rec.mutable_service() = *match;
    if (decision.target_minutes() >= 0) {
      *rec.mutable_due_at() = ToProtoTime(received + absl::Minutes(decision.target_minutes()));
    }
    v1::ReferralEvent triaged =
        referral::NewEvent(&rec, v1::EVENT_TYPE_TRIAGED, received, "frontdoor");
    triaged.set_to_status(v1::REFERRAL_STATUS_TRIAGED);
    triaged.set_pathway(rec.pathway());
    triaged.set_urgency(rec.urgency());
    triaged.set_service_id(rec.service().service_id());
    triaged.set_rule_set_version(decision.rule_set_version());
    item->events.push_back(triaged);
    rec.set_status(v1::REFERRAL_STATUS_TRIAGED);
    referral::UpdateSla(received, &rec);

    // Its life since.
    const absl::Duration age = now - received;
    if (age >= absl::Hours(48)) {
      absl::Status s = Transition(
          &rec, received + absl::Minutes(30),
          [](v1::TransitionReferralRequest* t) { t->mutable_accept(); }, "service-team",
          &item->events);
      if (s.ok() && age >= active) {
        s = Transition(
            &rec, received + absl::Hours(72),
            [](v1::TransitionReferralRequest* t) { t->mutable_close()->set_note("discharged"); },
            "service-team", &item->events);
      }
      if (!s.ok()) ++transition_failures;
    }
    referral::UpdateSla(now, &rec);
    ++by_status[v1::ReferralStatus_Name(rec.status())];
    if (IsActiveReferral(rec.status())) ++by_pathway_active[v1::Pathway_Name(rec.pathway())];

    {
      absl::MutexLock lock(&mu);
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return in_flight < max_in_flight || !failure.ok();
      };
      mu.Await(absl::Condition(&room));
      if (!failure.ok()) break;
      ++in_flight;
    }
    store->Commit(
        [item](storage::Txn& txn) {
          txn.PutReferral(item->record);
          for (const auto& e : item->events) txn.AppendEvent(e);
          txn.PutIdempotency(item->request_id, item->idempotency);
          return absl::OkStatus();
        },
        [&mu, &in_flight, &done, &failure](absl::Status s) {
          absl::MutexLock lock(&mu);
          --in_flight;
          ++done;
          if (!s.ok() && failure.ok()) failure = s;
        });
    if (i + 1 == next_report) {
      next_report += 100000;
      const double secs = absl::ToDoubleSeconds(absl::Now() - start);
      std::cerr << absl::StrFormat("frontdoor-fill: %d referrals in %.1f s (%.0f/s)\n", i + 1,
                                   secs, (i + 1) / secs);
    }
  }
  {
    absl::MutexLock lock(&mu);
    auto drained = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return in_flight == 0; };
    mu.Await(absl::Condition(&drained));
  }
  const absl::Time written = absl::Now();
  store->Close();
  const absl::Time closed = absl::Now();
  if (!failure.ok()) {
    std::cerr << "frontdoor-fill: a commit failed: " << failure << "\n";
    return 1;
  }

  uintmax_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(store_options.path)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  const double secs = absl::ToDoubleSeconds(closed - start);
  std::cout << absl::StrFormat(
      "frontdoor-fill: stored %d referrals in %s in %.1f s (%.0f/s; close and flush %.1f s), "
      "%.1f MiB on disk\n",
      done, store_options.path, secs, done / secs, absl::ToDoubleSeconds(closed - written),
      bytes / 1048576.0);
  std::cout << "  by status:";
  for (const auto& [k, v] : by_status) std::cout << " " << k.substr(16) << "=" << v;
  std::cout << "\n  active by pathway:";
  for (const auto& [k, v] : by_pathway_active) std::cout << " " << k.substr(8) << "=" << v;
  std::cout << "\n";
  if (skipped > 0) {
    std::cout << "  left out " << skipped
              << " corpus referrals that the server's validation refuses (first: " << first_skip
              << ")\n";
  }
  if (match_failures > 0 || transition_failures > 0) {
    std::cout << "  service matching failed for " << match_failures
              << " (stored without a service); transitions failed for " << transition_failures
              << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace frontdoor::load

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Bulk-loads realistic referrals into a referral store.\n"
      "  frontdoor-fill --data_dir=DIR --count=1000000 [--days=365] [--active_days=14]");
  absl::ParseCommandLine(argc, argv);
  return frontdoor::load::Main();
}
