// Rule engine benchmarks (docs/benchmarks.md).
//
// Over a corpus of generated referrals (tests/bench/corpus.h, 100,000 by
// default) and the default rule set:
// - BM_HandWritten: the same rules written by hand in C++, the baseline
//   every ratio is measured against;
// - BM_Engine_Evaluate: CompiledRuleSet::Evaluate into a warm EvalResult
//   (the full result, with what explanations need);
// - BM_Engine_EvaluateAndDecision: Evaluate + ToDecision into a reused
//   TriageDecision.
// Over a generated decision table of 10,000 rows x 10 input columns
// (argument 0: `first` policy, 1: `priority`):
// - BM_BigTable_Load: read + compile + analyse, once per repetition;
// - BM_BigTable_Evaluate: Evaluate over the same corpus.
//
// Counters: items_per_second is decisions/s; allocs/decision counts calls of
// operator new in the timed loop (this binary replaces the global operator
// new/delete with counting versions); vs_handwritten is this benchmark's CPU
// time per decision over BM_HandWritten's, measured earlier in the same run.
//
// Run from the source root (the rule set is read by relative path):
//   build/tests/bench/engine_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
// Environment: FRONTDOOR_RULESET (rule set directory, default
// triage-rules/community-spa), FRONTDOOR_BENCH_REFERRALS (corpus size,
// default 100000).

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "frontdoor/v1/referral.pb.h"
#include "frontdoor/v1/triage.pb.h"
#include "services/triage/engine/analysis.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/loader.h"
#include "tests/bench/corpus.h"
#include "tests/bench/handwritten_triage.h"

// --- Allocation counting
// ------------------------------------------------------
//
// Every global allocation function is replaced; each adds 1 to a counter of
// the calling thread (a thread_local with constant initialisation, so that
// using it never allocates).

namespace {
thread_local uint64_t t_allocations = 0;

void* CountedAlloc(std::size_t n) {
  ++t_allocations;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* CountedAlignedAlloc(std::size_t n, std::align_val_t al) {
  ++t_allocations;
  const std::size_t a = static_cast<std::size_t>(al);
  const std::size_t size = (n + a - 1) / a * a;
  void* p = std::aligned_alloc(a, size == 0 ? a : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return CountedAlloc(n); }
void* operator new[](std::size_t n) { return CountedAlloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return CountedAlloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return CountedAlloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t al) {
  return CountedAlignedAlloc(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al) {
  return CountedAlignedAlloc(n, al);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace frontdoor::bench {
namespace {

namespace fs = std::filesystem;
using rules::CompiledRuleSet;
using rules::Diagnostics;
using rules::EvalResult;
using rules::LoadOptions;

// CPU time of the calling thread, in nanoseconds: the ratios use it, so that
// time the thread spends preempted on a shared machine does not count.
double ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// --- Shared inputs
// ---------------------------------------------------------------

std::string RuleSetDir() {
  const char* env = std::getenv("FRONTDOOR_RULESET");
  return env != nullptr && *env != '\0' ? env : "triage-rules/community-spa";
}

size_t CorpusSize() {
  const char* env = std::getenv("FRONTDOOR_BENCH_REFERRALS");
  if (env != nullptr && *env != '\0') return std::strtoul(env, nullptr, 10);
  return 100000;
}

const std::vector<v1::Referral>& Corpus() {
  static const auto* corpus =
      new std::vector<v1::Referral>(GenerateCorpus(CorpusSize()));
  return *corpus;
}

void PrintDiagnostics(const Diagnostics& diags) {
  for (const auto& d : diags.items()) {
    if (d.severity == rules::Diagnostic::Severity::kError) {
      std::fprintf(stderr, "%s\n", rules::FormatDiagnostic(d).c_str());
    }
  }
}

// The default rule set, loaded once; null (with the errors printed) if it
// does not load.
const CompiledRuleSet* DefaultRuleSet() {
  static const std::shared_ptr<const CompiledRuleSet>* rs = [] {
    Diagnostics diags;
    auto* p = new std::shared_ptr<const CompiledRuleSet>(
        rules::LoadRuleSet(RuleSetDir(), LoadOptions(), &diags));
    if (*p == nullptr) PrintDiagnostics(diags);
    return p;
  }();
  return rs->get();
}

const HandWrittenTriage& HandWritten() {
  static const auto* h = new HandWrittenTriage();
  return *h;
}

// Nanoseconds per decision of the latest BM_HandWritten run (0: none yet).
double g_handwritten_ns = 0;

double HandWrittenNsPerDecision() {
  if (g_handwritten_ns == 0) {
    // BM_HandWritten was filtered out: measure one pass here.
    const auto& corpus = Corpus();
    const auto& hand = HandWritten();
    const double t0 = ThreadCpuNs();
    for (const auto& r : corpus) benchmark::DoNotOptimize(hand.Triage(r));
    g_handwritten_ns =
        (ThreadCpuNs() - t0) / static_cast<double>(corpus.size());
  }
  return g_handwritten_ns;
}

// Measures what a benchmark loop costs per decision (thread CPU time, like
// the hand-written baseline) and how often it allocates.
class LoopMeter {
 public:
  LoopMeter() : allocs0_(t_allocations), t0_(ThreadCpuNs()) {}
  void Report(benchmark::State& state, bool ratio) {
    const double ns = ThreadCpuNs() - t0_;
    const uint64_t allocs = t_allocations - allocs0_;
    const double n = static_cast<double>(state.iterations());
    state.SetItemsProcessed(state.iterations());
    state.counters["allocs/decision"] = static_cast<double>(allocs) / n;
    if (ratio)
      state.counters["vs_handwritten"] = ns / n / HandWrittenNsPerDecision();
  }
  double ns_per_iteration(const benchmark::State& state) const {
    return (ThreadCpuNs() - t0_) / static_cast<double>(state.iterations());
  }

 private:
  uint64_t allocs0_;
  double t0_;
};

// --- Default rule set
// ------------------------------------------------------------------

void BM_HandWritten(benchmark::State& state) {
  const auto& corpus = Corpus();
  const auto& hand = HandWritten();
  const size_t n = corpus.size();
  size_t i = 0;
  LoopMeter meter;
  for (auto _ : state) {
    benchmark::DoNotOptimize(hand.Triage(corpus[i]));
    if (++i == n) i = 0;
  }
  g_handwritten_ns = meter.ns_per_iteration(state);
  meter.Report(state, /*ratio=*/false);
}

// One EvalResult and one TriageDecision per thread, warmed over the whole
// corpus before the first timed loop, so that every buffer has its
// steady-state size. Reports what the warm-up pass allocated.
struct Warm {
  EvalResult result;
  v1::TriageDecision decision;
  double review_fraction = 0;        // referrals sent to missing-data review
  double first_evaluate_allocs = 0;  // a fresh EvalResult's first Evaluate
  double warmup_evaluate_allocs =
      0;  // Evaluate over the whole corpus, from fresh
};
Warm& WarmState(const CompiledRuleSet& rs) {
  thread_local Warm w;
  thread_local bool warm = false;
  if (!warm) {
    const auto& corpus = Corpus();
    size_t md = 0;
    const uint64_t a0 = t_allocations;
    rs.Evaluate(corpus[0], &w.result);
    w.first_evaluate_allocs = static_cast<double>(t_allocations - a0);
    for (const auto& r : corpus) {
      rs.Evaluate(r, &w.result);
      md += w.result.missing_data_review();
    }
    w.warmup_evaluate_allocs = static_cast<double>(t_allocations - a0);
    for (const auto& r : corpus) {
      rs.Evaluate(r, &w.result);
      rs.ToDecision(w.result, &w.decision);
    }
    w.review_fraction =
        static_cast<double>(md) / static_cast<double>(corpus.size());
    warm = true;
  }
  return w;
}

void BM_Engine_Evaluate(benchmark::State& state) {
  const CompiledRuleSet* rs = DefaultRuleSet();
  if (rs == nullptr) {
    state.SkipWithError("the default rule set does not load");
    return;
  }
  const auto& corpus = Corpus();
  Warm& warm = WarmState(*rs);
  EvalResult& result = warm.result;
  const size_t n = corpus.size();
  size_t i = 0;
  LoopMeter meter;
  for (auto _ : state) {
    rs->Evaluate(corpus[i], &result);
    benchmark::DoNotOptimize(result.urgency());
    if (++i == n) i = 0;
  }
  meter.Report(state, /*ratio=*/true);
  state.counters["missing_data_review"] = warm.review_fraction;
  state.counters["first_evaluate_allocs"] = warm.first_evaluate_allocs;
  state.counters["warmup_allocs"] = warm.warmup_evaluate_allocs;
}

void BM_Engine_EvaluateAndDecision(benchmark::State& state) {
  const CompiledRuleSet* rs = DefaultRuleSet();
  if (rs == nullptr) {
    state.SkipWithError("the default rule set does not load");
    return;
  }
  const auto& corpus = Corpus();
  Warm& warm = WarmState(*rs);
  EvalResult& result = warm.result;
  v1::TriageDecision& decision = warm.decision;
  const size_t n = corpus.size();
  size_t i = 0;
  LoopMeter meter;
  for (auto _ : state) {
    rs->Evaluate(corpus[i], &result);
    rs->ToDecision(result, &decision);
    benchmark::DoNotOptimize(decision.urgency());
    if (++i == n) i = 0;
  }
  meter.Report(state, /*ratio=*/true);
}

// --- A big generated table
// ------------------------------------------------------------------

// Deterministic draws for the table generator (raw mt19937_64 output).
class TableRng {
 public:
  explicit TableRng(uint64_t seed) : e_(seed) {}
  int Int(int lo, int hi) {
    return lo + static_cast<int>((static_cast<unsigned __int128>(e_()) *
                                  static_cast<unsigned>(hi - lo + 1)) >>
                                 64);
  }
  bool Chance(double p) {
    return static_cast<double>(e_() >> 11) * 0x1.0p-53 < p;
  }

 private:
  std::mt19937_64 e_;
};

// One input column of the big table.
struct BigColumn {
  const char* name;
  const char* ref;
  // Integer columns: thresholds in the clinical domain, and the field's range.
  std::vector<int> thresholds;
  int lo = 0, hi = 0;
  // Enum columns: the names a cell may list.
  std::vector<std::string> values;
};

std::vector<std::string> EnumNames(const google::protobuf::EnumDescriptor* e,
                                   const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 1; i < e->value_count(); ++i)
    out.push_back(e->value(i)->name().substr(prefix.size()));
  return out;
}

std::vector<BigColumn> BigColumns() {
  std::vector<BigColumn> c;
  c.push_back(
      {"problem",
       "problem",
       {},
       0,
       0,
       EnumNames(v1::PresentingProblem_descriptor(), "PRESENTING_PROBLEM_")});
  c.push_back({"referrer",
               "referrer.type",
               {},
               0,
               0,
               EnumNames(v1::ReferrerType_descriptor(), "REFERRER_TYPE_")});
  c.push_back({"sex",
               "patient.sex",
               {},
               0,
               0,
               EnumNames(v1::Sex_descriptor(), "SEX_")});
  c.push_back({"rr",
               "observations.respiratory_rate",
               {8, 9, 11, 12, 20, 21, 24, 25, 30},
               0,
               80,
               {}});
  c.push_back({"spo2",
               "observations.spo2_percent",
               {83, 84, 85, 86, 87, 88, 91, 92, 93, 94, 95, 96, 97},
               50,
               100,
               {}});
  c.push_back({"sbp",
               "observations.systolic_bp",
               {90, 91, 100, 101, 110, 111, 219, 220},
               40,
               300,
               {}});
  c.push_back({"pulse",
               "observations.pulse",
               {40, 41, 50, 51, 90, 91, 110, 111, 130, 131},
               20,
               250,
               {}});
  c.push_back({"acvpu",
               "observations.consciousness",
               {},
               0,
               0,
               EnumNames(v1::Consciousness_descriptor(), "CONSCIOUSNESS_")});
  c.push_back({"cfs",
               "findings.clinical_frailty_scale",
               {1, 2, 3, 4, 5, 6, 7, 8, 9},
               1,
               9,
               {}});
  c.push_back(
      {"mh_risk",
       "findings.mental_health_risk",
       {},
       0,
       0,
       EnumNames(v1::MentalHealthRisk_descriptor(), "MENTAL_HEALTH_RISK_")});
  return c;
}

// A cell as a set, to keep rows from being masked by earlier ones.
struct CellSet {
  bool any = true;
  int lo = 0, hi = 0;  // integer columns: [lo, hi]
  uint64_t enums = 0;  // enum columns: bit per value
  std::string text;
  bool Contains(const CellSet& o) const {
    if (any) return true;
    if (o.any) return false;
    return lo <= o.lo && o.hi <= hi && (enums & o.enums) == o.enums;
  }
};

CellSet DrawCell(TableRng& rng, const BigColumn& col) {
  CellSet c;
  c.any = false;
  if (!col.values.empty()) {
    const int k = rng.Chance(0.6) ? 1 : rng.Int(2, 3);
    for (int j = 0; j < k; ++j)
      c.enums |= uint64_t{1} << rng.Int(0, col.values.size() - 1);
    for (size_t v = 0; v < col.values.size(); ++v) {
      if (c.enums >> v & 1)
        absl::StrAppend(&c.text, c.text.empty() ? "" : ", ", col.values[v]);
    }
    c.lo = c.hi = 0;
    return c;
  }
  const auto& t = col.thresholds;
  const int a = t[rng.Int(0, t.size() - 1)];
  switch (rng.Int(0, 5)) {
    case 0:
      c.lo = col.lo;
      c.hi = a;
      c.text = absl::StrCat("<= ", a);
      break;
    case 1:
      c.lo = a;
      c.hi = col.hi;
      c.text = absl::StrCat(">= ", a);
      break;
    case 2:
      c.lo = col.lo;
      c.hi = a - 1;
      c.text = absl::StrCat("< ", a);
      break;
    case 3:
      c.lo = a + 1;
      c.hi = col.hi;
      c.text = absl::StrCat("> ", a);
      break;
    default: {
      int b = t[rng.Int(0, t.size() - 1)];
      if (b == a) {
        c.lo = c.hi = a;
        c.text = absl::StrCat(a);
      } else {
        c.lo = std::min(a, b);
        c.hi = std::max(a, b);
        c.text = absl::StrCat("[", c.lo, "..", c.hi, "]");
      }
      break;
    }
  }
  return c;
}

constexpr int kBigRows = 10000;

// Writes a rule set of one decision table with kBigRows rows (the last a
// catch-all) and 10 input columns, about half of the cells '-', to `dir`.
// Rows are ordered most specific first, and no row is contained in an
// earlier one, so that a `first` table has no masked rows.
void WriteBigTable(const fs::path& dir, bool priority) {
  fs::create_directories(dir);
  {
    std::ofstream out(dir / "ruleset.yaml");
    out << "ruleset: big-table\n"
           "title: A generated 10,000-row decision table\n"
           "owner: Benchmarks\n"
           "timezone: Europe/London\n"
           "pathway_order: [EMERGENCY_SERVICES, ACUTE, CLINICAL_REVIEW, "
           "MATERNITY, PAEDIATRIC, "
           "MENTAL_HEALTH_CRISIS, PALLIATIVE, UCR, VIRTUAL_WARD, "
           "COMMUNITY_NURSING, PRIMARY_CARE, "
           "MENTAL_HEALTH_COMMUNITY, SOCIAL_CARE, ADVICE_ONLY]\n"
           "targets:\n"
           "  IMMEDIATE: 0m\n  WITHIN_1H: 1h\n  WITHIN_2H: 2h\n  WITHIN_4H: "
           "4h\n"
           "  WITHIN_12H: 12h\n  WITHIN_24H: 24h\n  WITHIN_48H: 48h\n  "
           "WITHIN_72H: 72h\n"
           "  WITHIN_2W: 14d\n  WITHIN_4W: 28d\n  NONE: \"-\"\n"
           "missing_data: {pathway: CLINICAL_REVIEW, urgency: WITHIN_1H}\n"
           "fallback: {pathway: CLINICAL_REVIEW, urgency: WITHIN_4H}\n";
  }
  const std::vector<BigColumn> cols = BigColumns();
  const int ncols = static_cast<int>(cols.size());
  struct Outcome {
    const char* pathway;
    const char* urgency;
    int weight;
  };
  const std::vector<Outcome> outcomes = {
      {"ACUTE", "IMMEDIATE", 2},
      {"ACUTE", "WITHIN_1H", 3},
      {"CLINICAL_REVIEW", "WITHIN_1H", 5},
      {"UCR", "WITHIN_2H", 8},
      {"VIRTUAL_WARD", "WITHIN_4H", 5},
      {"MENTAL_HEALTH_CRISIS", "WITHIN_4H", 3},
      {"COMMUNITY_NURSING", "WITHIN_48H", 10},
      {"PRIMARY_CARE", "WITHIN_12H", 10},
      {"PRIMARY_CARE", "WITHIN_24H", 15},
      {"PRIMARY_CARE", "WITHIN_2W", 15},
      {"SOCIAL_CARE", "WITHIN_48H", 8},
      {"ADVICE_ONLY", "NONE", 6}};
  int total_weight = 0;
  for (const auto& o : outcomes) total_weight += o.weight;

  TableRng rng(priority ? 0xB16B00B5 : 0xF1257);
  struct Row {
    uint32_t mask;
    int specific;
    std::vector<CellSet> cells;
    int outcome;
  };
  std::vector<Row> rows(kBigRows - 1);
  for (Row& row : rows) {
    do {
      row.mask = 0;
      for (int c = 0; c < ncols; ++c) {
        if (rng.Chance(0.5)) row.mask |= 1u << c;
      }
    } while (__builtin_popcount(row.mask) < 2);
    row.specific = __builtin_popcount(row.mask);
    int u = rng.Int(0, total_weight - 1);
    row.outcome = 0;
    while (u >= outcomes[row.outcome].weight)
      u -= outcomes[row.outcome++].weight;
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.specific > b.specific;
  });
  // Only an earlier row with the same specific columns can contain a row
  // (an earlier row has at least as many), so check those.
  std::vector<std::vector<int>> by_mask(1u << ncols);
  for (int i = 0; i < static_cast<int>(rows.size()); ++i) {
    Row& row = rows[i];
    for (int attempt = 0;; ++attempt) {
      row.cells.assign(ncols, CellSet());
      for (int c = 0; c < ncols; ++c) {
        if (row.mask >> c & 1) row.cells[c] = DrawCell(rng, cols[c]);
      }
      bool masked = false;
      for (int j : by_mask[row.mask]) {
        bool all = true;
        for (int c = 0; c < ncols && all; ++c)
          all = rows[j].cells[c].Contains(row.cells[c]);
        if (all) {
          masked = true;
          break;
        }
      }
      if (!masked) break;
      if (attempt > 100) std::abort();
    }
    by_mask[row.mask].push_back(i);
  }

  std::ofstream out(dir / "big.rules.yaml");
  out << "tables:\n"
         "  - id: big\n"
         "    title: Generated table\n"
      << "    hit_policy: " << (priority ? "priority" : "first") << "\n"
      << "    inputs:\n";
  for (const auto& c : cols) out << "      " << c.name << ": " << c.ref << "\n";
  out << "    outputs:\n"
         "      pathway: decision\n"
         "      urgency: decision\n"
         "    rows: |\n"
         "      | id     |";
  for (const auto& c : cols) out << " " << c.name << " |";
  out << " pathway | urgency | source |\n";
  for (int i = 0; i < static_cast<int>(rows.size()); ++i) {
    const Row& row = rows[i];
    out << absl::StrFormat("      | r%05d |", i + 1);
    for (int c = 0; c < ncols; ++c) {
      out << " " << (row.cells[c].any ? std::string("-") : row.cells[c].text)
          << " |";
    }
    out << " " << outcomes[row.outcome].pathway << " | "
        << outcomes[row.outcome].urgency << " | generated |\n";
  }
  out << "      | catch_all |";
  for (int c = 0; c < ncols; ++c) out << " - |";
  out << " PRIMARY_CARE | WITHIN_2W | generated |\n";
}

struct BigTable {
  std::shared_ptr<const CompiledRuleSet> rs;
  double read_ms = 0, compile_ms = 0, analyse_ms = 0;
  int warnings = 0;  // analysis findings that are not errors
};

double Ms(double a_ns, double b_ns) { return (b_ns - a_ns) / 1e6; }

// Reads, compiles and analyses the generated table, timing each step in
// thread CPU time.
BigTable LoadBigTable(const fs::path& dir) {
  BigTable bt;
  Diagnostics diags;
  v1::RuleSet proto;
  rules::SourceMap sources;
  const double t0 = ThreadCpuNs();
  if (!rules::ReadRuleSetFiles(dir.string(), LoadOptions(), &proto, &sources,
                               &diags)) {
    PrintDiagnostics(diags);
    return bt;
  }
  const double t1 = ThreadCpuNs();
  auto rs = CompiledRuleSet::Compile(std::move(proto), &sources, &diags);
  const double t2 = ThreadCpuNs();
  if (rs == nullptr) {
    PrintDiagnostics(diags);
    return bt;
  }
  rules::Analyse(*rs, &diags);
  const double t3 = ThreadCpuNs();
  if (diags.has_errors()) {
    PrintDiagnostics(diags);
    return bt;
  }
  bt.rs = std::move(rs);
  bt.read_ms = Ms(t0, t1);
  bt.compile_ms = Ms(t1, t2);
  bt.analyse_ms = Ms(t2, t3);
  for (const auto& d : diags.items()) {
    bt.warnings += d.severity != rules::Diagnostic::Severity::kError;
  }
  return bt;
}

// The generated rule set directory for a policy, written once per process
// and removed at exit.
const fs::path& BigTableDir(bool priority) {
  struct Dir {
    fs::path path;
    explicit Dir(bool priority) {
      path = fs::temp_directory_path() /
             absl::StrCat("frontdoor_big_table_", getpid(),
                          priority ? "_priority" : "_first");
      fs::remove_all(path);
      WriteBigTable(path, priority);
    }
    ~Dir() {
      // FRONTDOOR_BENCH_KEEP_TABLES=1 keeps the generated rule sets to look at.
      const char* keep = std::getenv("FRONTDOOR_BENCH_KEEP_TABLES");
      if (keep != nullptr && *keep == '1') {
        std::fprintf(stderr, "kept %s\n", path.c_str());
        return;
      }
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static Dir first(false), prio(true);
  return priority ? prio.path : first.path;
}

void SetLoadCounters(benchmark::State& state, const BigTable& bt) {
  state.counters["load_ms"] = bt.read_ms + bt.compile_ms + bt.analyse_ms;
  state.counters["read_ms"] = bt.read_ms;
  state.counters["compile_ms"] = bt.compile_ms;
  state.counters["analyse_ms"] = bt.analyse_ms;
  state.counters["warnings"] = bt.warnings;
}

// Arg: 0 = first, 1 = priority. One iteration: load + compile + analyse.
void BM_BigTable_Load(benchmark::State& state) {
  const fs::path& dir = BigTableDir(state.range(0) == 1);
  BigTable bt;
  for (auto _ : state) {
    bt = LoadBigTable(dir);
    if (bt.rs == nullptr) {
      state.SkipWithError("the generated table does not load");
      return;
    }
  }
  state.SetLabel(state.range(0) == 1 ? "priority" : "first");
  SetLoadCounters(state, bt);
}

void BM_BigTable_Evaluate(benchmark::State& state) {
  const bool priority = state.range(0) == 1;
  // Loaded once per process per policy; the one-shot load time is reported
  // with every run.
  static BigTable tables[2];
  BigTable& bt = tables[priority];
  if (bt.rs == nullptr) bt = LoadBigTable(BigTableDir(priority));
  if (bt.rs == nullptr) {
    state.SkipWithError("the generated table does not load");
    return;
  }
  const auto& corpus = Corpus();
  thread_local EvalResult results[2];
  thread_local bool warm[2] = {false, false};
  EvalResult& result = results[priority];
  if (!warm[priority]) {
    for (const auto& r : corpus) bt.rs->Evaluate(r, &result);
    warm[priority] = true;
  }
  const size_t n = corpus.size();
  size_t i = 0;
  LoopMeter meter;
  for (auto _ : state) {
    bt.rs->Evaluate(corpus[i], &result);
    benchmark::DoNotOptimize(result.urgency());
    if (++i == n) i = 0;
  }
  meter.Report(state, /*ratio=*/false);
  state.SetLabel(priority ? "priority" : "first");
  SetLoadCounters(state, bt);
}

// BM_HandWritten first: the engine benchmarks' ratios use its figure.
BENCHMARK(BM_HandWritten);
BENCHMARK(BM_Engine_Evaluate);
BENCHMARK(BM_Engine_EvaluateAndDecision);
BENCHMARK(BM_BigTable_Load)
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BigTable_Evaluate)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace frontdoor::bench

BENCHMARK_MAIN();
