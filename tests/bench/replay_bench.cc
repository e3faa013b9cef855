// replay_bench: how long a rule replay (services/rulesets/replay.h) takes
// over 1,000,000 stored referrals, against the same replay over referrals
// held in memory (the cost of the store), and what shadow evaluation
// (services/rulesets/shadow.h) adds to a request: the cost of Offer.
//
//   replay_bench [--referrals=1000000] [--threads=2] [--store=DIR]
//                [--rules=triage-rules/community-spa] [--memory=true]
//                [--shadow_offers=200000]
//
// The store is filled once (bench corpus referrals 0..N-1, tests/bench/
// corpus.h, each stored as the server stores it: its decision by the active
// rule set with the explanation, pathway, urgency, received_at; ids are
// random references, so the store's order is not time order), with sync off
// and big commit groups, then closed and opened again. With --store=DIR an
// existing store of exactly N referrals is reused (and a new one kept
// there); without it the store goes in a temporary directory, removed at
// exit.
//
// The candidate is the active rule set with one NEWS2 threshold changed:
// news2_response/r30_news2_5_or_more reads "total >= 6" instead of ">= 5".
//
// Printed, each one run: ScanReferrals alone (whole records, and with
// omit_decision as replay reads them), Replay from the store, Replay of the
// same records from memory; wall-clock seconds, referrals per second and
// the process's CPU seconds (all threads), with the load average at the
// start (the machine may be shared: CPU time is the steadier figure). The
// store's files are in the page cache after the fill (a warm read). Then
// the shadow: a loop that triages corpus referrals (Evaluate + ToDecision,
// as SubmitReferral does) without and with an Offer of each to a running
// ShadowEvaluator, in this thread's CPU time.

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/reference.h"
#include "services/rulesets/replay.h"
#include "services/rulesets/shadow.h"
#include "services/triage/engine/loader.h"
#include "storage/referral_store.h"
#include "tests/bench/corpus.h"

ABSL_FLAG(int64_t, referrals, 1000000, "Stored referrals to replay");
ABSL_FLAG(int, threads, 2, "Replay evaluation threads");
ABSL_FLAG(std::string, store, "",
          "Store directory to reuse or create and keep (default: a temporary "
          "one, removed at exit)");
ABSL_FLAG(std::string, rules, "triage-rules/community-spa",
          "Active rule set directory");
ABSL_FLAG(bool, memory, true,
          "Also replay the same referrals from memory (the baseline)");
ABSL_FLAG(int64_t, shadow_offers, 200000,
          "Offers timed for the shadow cost (0: skip)");

namespace frontdoor::bench {
namespace {

using rules::CompiledRuleSet;

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

// CPU seconds used by the process so far (every thread, user + system).
double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec * 1e-6;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

// The active rule set with news2_response/r30 at ">= 6".
std::shared_ptr<const CompiledRuleSet> Candidate(
    const CompiledRuleSet& active) {
  v1::RuleSet proto = active.proto();
  int edited = 0;
  for (v1::Table& t : *proto.mutable_tables()) {
    if (t.id() != "news2_response") continue;
    for (v1::Row& r : *t.mutable_rows()) {
      if (r.id() != "r30_news2_5_or_more") continue;
      for (int c = 0; c < t.inputs_size(); ++c) {
        if (t.inputs(c).name() == "total" && r.inputs(c) == ">= 5") {
          r.set_inputs(c, ">= 6");
          ++edited;
        }
      }
    }
  }
  if (edited != 1) {
    std::cerr << "replay_bench: news2_response/r30 'total >= 5' not found\n";
    return nullptr;
  }
  rules::Diagnostics diags;
  return CompiledRuleSet::Compile(std::move(proto), nullptr, &diags);
}

absl::Status Fill(storage::ReferralStore& store, const CompiledRuleSet& active,
                  int64_t n) {
  constexpr int kPerMutation = 512;
  constexpr int kInFlight = 8;
  absl::Mutex mu;
  int in_flight = 0;
  absl::Status failure;
  rules::EvalResult scratch;
  const absl::Time start = absl::Now();
  std::vector<v1::ReferralRecord> group;
  auto send = [&] {
    auto records =
        std::make_shared<std::vector<v1::ReferralRecord>>(std::move(group));
    group.clear();
    {
      absl::MutexLock lock(&mu);
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return in_flight < kInFlight;
      };
      mu.Await(absl::Condition(&room));
      ++in_flight;
    }
    store.Commit(
        [records](storage::Txn& txn) {
          for (const auto& r : *records) txn.PutReferral(r);
          return absl::OkStatus();
        },
        [&](absl::Status s) {
          absl::MutexLock lock(&mu);
          --in_flight;
          if (!s.ok() && failure.ok()) failure = s;
        });
  };
  for (int64_t i = 0; i < n; ++i) {
    v1::ReferralRecord rec;
    rec.set_id(FormatReference(Mix(static_cast<uint64_t>(i))));
    *rec.mutable_referral() = GenerateReferral(static_cast<uint64_t>(i));
    *rec.mutable_received_at() = rec.referral().received_at();
    *rec.mutable_updated_at() = rec.referral().received_at();
    active.Evaluate(rec.referral(), &scratch);
    active.ToDecision(scratch, rec.mutable_decision());
    rec.set_pathway(rec.decision().pathway());
    rec.set_urgency(rec.decision().urgency());
    rec.set_status(v1::REFERRAL_STATUS_TRIAGED);
    rec.set_version(1);
    rec.set_request_id(absl::StrCat("bench-", i));
    rec.set_submitted_by("replay_bench");
    group.push_back(std::move(rec));
    if (group.size() == kPerMutation) send();
    if ((i + 1) % 200000 == 0) {
      std::cerr << absl::StrFormat("  filled %d in %.1f s\n", i + 1,
                                   absl::ToDoubleSeconds(absl::Now() - start));
    }
  }
  if (!group.empty()) send();
  absl::MutexLock lock(&mu);
  auto drained = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return in_flight == 0;
  };
  mu.Await(absl::Condition(&drained));
  return failure;
}

void PrintReport(const char* what, const v1::ReplayReport& r, double cpu) {
  std::cout << absl::StrFormat(
      "%-34s %9d referrals  %6.2f s  %9.0f referrals/s  CPU %6.2f s "
      "(%.1f us/referral)\n    changed %d (downgrades %d, upgrades %d), %d "
      "transitions, %d rows never hit\n",
      what, r.referrals(), r.seconds(), r.referrals() / r.seconds(), cpu,
      cpu * 1e6 / std::max<int64_t>(1, r.referrals()), r.changed(),
      r.downgrades(), r.upgrades(), r.transitions_size(),
      r.rows_never_hit_size());
}

int Main() {
  const int64_t n = absl::GetFlag(FLAGS_referrals);
  rules::Diagnostics diags;
  rules::LoadOptions load_options;
  load_options.analyse = false;
  std::shared_ptr<const CompiledRuleSet> active =
      rules::LoadRuleSet(absl::GetFlag(FLAGS_rules), load_options, &diags);
  if (active == nullptr) {
    std::cerr << "replay_bench: " << absl::GetFlag(FLAGS_rules) << " has "
              << diags.error_count() << " error(s)\n";
    return 1;
  }
  std::shared_ptr<const CompiledRuleSet> candidate = Candidate(*active);
  if (candidate == nullptr) return 1;

  std::string dir = absl::GetFlag(FLAGS_store);
  bool temporary = dir.empty();
  if (temporary) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") +
                        "/frontdoor_replay_bench_XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      std::cerr << "replay_bench: cannot create a temporary directory\n";
      return 1;
    }
    dir = templ;
  }
  struct Cleanup {
    std::string dir;
    bool remove;
    ~Cleanup() {
      std::error_code ec;
      if (remove) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir, temporary};

  std::cout << absl::StrFormat(
      "replay_bench: %d referrals, %d threads, load average %s\n", n,
      absl::GetFlag(FLAGS_threads), LoadAverage());
  storage::ReferralStore::Options options;
  options.path = dir + "/referrals";
  options.sync = false;
  options.max_group = 64;
  {
    auto store = storage::ReferralStore::Open(options);
    if (!store.ok()) {
      std::cerr << "replay_bench: " << store.status() << "\n";
      return 1;
    }
    absl::StatusOr<int64_t> count = (*store)->ApproximateReferralCount();
    if (!count.ok()) {
      std::cerr << "replay_bench: " << count.status() << "\n";
      return 1;
    }
    if (*count == 0) {
      const absl::Time t0 = absl::Now();
      absl::Status s = Fill(**store, *active, n);
      (*store)->Close();
      if (!s.ok()) {
        std::cerr << "replay_bench: fill failed: " << s << "\n";
        return 1;
      }
      std::cout << absl::StrFormat("filled the store in %.1f s\n",
                                   absl::ToDoubleSeconds(absl::Now() - t0));
    } else if (*count != n) {
      std::cerr << "replay_bench: " << options.path << " holds " << *count
                << " referrals, not " << n << "\n";
      return 1;
    } else {
      std::cout << "reusing the store in " << options.path << "\n";
    }
  }
  uintmax_t bytes = 0;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(options.path)) {
    if (e.is_regular_file()) bytes += e.file_size();
  }
  auto opened = storage::ReferralStore::Open(options);
  if (!opened.ok()) {
    std::cerr << "replay_bench: " << opened.status() << "\n";
    return 1;
  }
  std::unique_ptr<storage::ReferralStore> store = *std::move(opened);
  std::cout << absl::StrFormat("store: %s, %.0f MiB on disk\n", options.path,
                               bytes / 1048576.0);

  // The store alone: read and parse every record, with and without the
  // stored decisions (replay reads them without).
  for (bool omit : {false, true}) {
    storage::ReferralStore::ScanOptions scan;
    scan.omit_decision = omit;
    int64_t seen = 0;
    const absl::Time t0 = absl::Now();
    const double c0 = CpuSeconds();
    absl::Status s =
        store->ScanReferrals({}, scan, [&](const v1::ReferralRecord&) {
          ++seen;
          return true;
        });
    const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
    const double cpu = CpuSeconds() - c0;
    if (!s.ok()) {
      std::cerr << "replay_bench: scan: " << s << "\n";
      return 1;
    }
    std::cout << absl::StrFormat(
        "%-34s %9d referrals  %6.2f s  %9.0f referrals/s  CPU %6.2f s "
        "(%.1f us/referral)\n",
        omit ? "ScanReferrals, omit_decision" : "ScanReferrals, whole records",
        seen, secs, seen / secs, cpu, cpu * 1e6 / std::max<int64_t>(1, seen));
  }

  rulesets::ReplayOptions replay_options;
  replay_options.threads = absl::GetFlag(FLAGS_threads);
  replay_options.expected_total = n;
  int progress_calls = 0;
  replay_options.progress = [&](int64_t, int64_t) {
    ++progress_calls;
    return true;
  };
  storage::ReferralStore::ScanOptions scan;
  scan.omit_decision = true;
  rulesets::ReplaySource source = [&](const rulesets::ReplayVisitor& visit) {
    return store->ScanReferrals({}, scan, visit);
  };
  double c0 = CpuSeconds();
  absl::StatusOr<v1::ReplayReport> from_store =
      rulesets::Replay(*active, *candidate, source, replay_options);
  const double store_cpu = CpuSeconds() - c0;
  if (!from_store.ok()) {
    std::cerr << "replay_bench: replay: " << from_store.status() << "\n";
    return 1;
  }
  PrintReport("Replay from the store", *from_store, store_cpu);
  std::cout << "  progress callbacks: " << progress_calls << "\n";

  if (absl::GetFlag(FLAGS_memory)) {
    // The same referrals in memory (without their stored decisions, which
    // replay does not read).
    std::vector<v1::ReferralRecord> records;
    records.reserve(static_cast<size_t>(n));
    absl::Status s = store->ScanReferrals({}, [&](const v1::ReferralRecord& r) {
      records.push_back(r);
      records.back().clear_decision();
      return true;
    });
    if (!s.ok()) {
      std::cerr << "replay_bench: " << s << "\n";
      return 1;
    }
    replay_options.progress = nullptr;
    c0 = CpuSeconds();
    absl::StatusOr<v1::ReplayReport> from_memory = rulesets::Replay(
        *active, *candidate, rulesets::RecordsSource(&records), replay_options);
    const double memory_cpu = CpuSeconds() - c0;
    if (!from_memory.ok()) {
      std::cerr << "replay_bench: " << from_memory.status() << "\n";
      return 1;
    }
    PrintReport("Replay from memory (baseline)", *from_memory, memory_cpu);
    std::cout << absl::StrFormat(
        "  store / memory: %.2fx\n",
        from_store->seconds() / from_memory->seconds());
  }
  store->Close();

  const int64_t offers = absl::GetFlag(FLAGS_shadow_offers);
  if (offers > 0) {
    // What a request pays with shadow mode on: SubmitReferral triages the
    // referral (Evaluate + ToDecision), then offers it with the decision's
    // summary to the shadow evaluator, whose worker evaluates the candidate
    // on its own thread. Both loops triage; the second also offers.
    std::vector<v1::Referral> corpus = GenerateCorpus(1000);
    rules::EvalResult result;
    v1::TriageDecision decision;
    // Per-request costs in this thread's CPU time (what the request itself
    // spends, not what the worker or other processes take from the cores)
    // and in wall-clock time.
    struct Cost {
      double wall_us = 0, cpu_us = 0, offer_cpu_us = 0;
    };
    auto triage_loop = [&](rulesets::ShadowEvaluator* shadow) {
      Cost cost;
      double in_offer = 0;
      const absl::Time t0 = absl::Now();
      const double c0 = ThreadCpuSeconds();
      for (int64_t i = 0; i < offers; ++i) {
        const v1::Referral& r = corpus[i % corpus.size()];
        active->Evaluate(r, &result);
        active->ToDecision(result, &decision);
        if (shadow != nullptr) {
          const double o0 = ThreadCpuSeconds();
          shadow->Offer(r, rulesets::ShadowEvaluator::Summarize(
                               absl::StrCat("R", i), decision));
          in_offer += ThreadCpuSeconds() - o0;
        }
      }
      cost.cpu_us = (ThreadCpuSeconds() - c0) * 1e6 / offers;
      cost.wall_us = absl::ToDoubleMicroseconds(absl::Now() - t0) / offers;
      cost.offer_cpu_us = in_offer * 1e6 / offers;
      return cost;
    };
    const Cost plain = triage_loop(nullptr);
    rulesets::ShadowEvaluator shadow(candidate);
    shadow.Start();
    const Cost with = triage_loop(&shadow);
    shadow.Stop();
    v1::ShadowReport report = shadow.Report();
    std::cout << absl::StrFormat(
        "Shadow, per referral: triage %.2f us CPU (%.2f us wall); triage + "
        "Offer %.2f us CPU (%.2f us wall); Offer alone %.2f us CPU\n"
        "    evaluated %d, dropped %d (queue full), differed %d (downgrades "
        "%d)\n",
        plain.cpu_us, plain.wall_us, with.cpu_us, with.wall_us,
        with.offer_cpu_us, report.evaluated(), report.dropped(),
        report.differed(), report.downgrades());
  }
  return 0;
}

}  // namespace
}  // namespace frontdoor::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Times a rule replay over stored referrals.\n"
      "  replay_bench [--referrals=1000000] [--threads=2] [--store=DIR]");
  absl::ParseCommandLine(argc, argv);
  return frontdoor::bench::Main();
}
