// Referral store write benchmarks: what group commit buys with sync on.
//
//   BM_StoreCommit/threads:N   N committer threads, each looping
//                              CommitAndWait of one submission (a record from
//                              the bench corpus with its indexes, its first
//                              event and its idempotency key), sync=true
//   BM_RawWriteBatchSync/threads:N
//                              baseline: the same keys and values written as
//                              one rocksdb::WriteBatch per record with
//                              WriteOptions::sync=true straight to a plain
//                              RocksDB (default options + LZ4); at N > 1
//                              RocksDB's own write grouping shares fsyncs
//
// Counters: items_per_second is acknowledged records/s; fsyncs/record counts
// Sync/Fsync calls that reached the file system (WAL, plus flushes) per
// record; wall_records/s is records/s by thread 0's clock. At the end the run
// prints the median records/s of each benchmark over its repetitions and the
// ratio of BM_StoreCommit at 64 committers to 1 (the group commit speed-up).
// fsync latency on a shared VM disk varies by 10x from minute to minute:
// interleave repetitions so that both sides of a ratio see the same disk.
//
//   build/storage/store_bench --benchmark_min_time=1
//       --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true
// Environment: TEST_TMPDIR (where the databases go, default /tmp);
// FRONTDOOR_STORE_BENCH_RECORDS=N adds BM_OpenLargeStore (see below).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "storage/fault_injection_fs.h"
#include "storage/referral_store.h"
#include "storage/store_keys.h"
#include "storage/store_test_util.h"
#include "tests/bench/corpus.h"

namespace frontdoor::storage {
namespace {

constexpr int kCorpus = 2048;

// Records built from the bench corpus once; ids are made unique per commit.
const std::vector<v1::ReferralRecord>& Records() {
  static const std::vector<v1::ReferralRecord>* records = [] {
    auto* out = new std::vector<v1::ReferralRecord>();
    for (int i = 0; i < kCorpus; ++i) {
      const absl::Time received = absl::FromUnixSeconds(1700000000 + i);
      v1::ReferralRecord r =
          testing::MakeRecord({.id = "",
                               .service_id = absl::StrCat("svc-", i % 40),
                               .received = received,
                               .due = received + absl::Hours(2),
                               .next_sla_check = received + absl::Minutes(84)});
      *r.mutable_referral() = bench::GenerateReferral(i);
      *r.mutable_referral()->mutable_received_at() = r.received_at();
      out->push_back(std::move(r));
    }
    return out;
  }();
  return *records;
}

std::atomic<int64_t> g_next_id{0};

v1::ReferralRecord NextRecord() {
  const int64_t n = g_next_id.fetch_add(1, std::memory_order_relaxed);
  v1::ReferralRecord r = Records()[n % kCorpus];
  r.set_id(absl::StrCat("B", 1000000000 + n));
  return r;
}

struct Shared {
  std::unique_ptr<testing::TempDir> dir;
  std::shared_ptr<FaultInjectionFileSystem> fs;  // counts fsyncs; no faults
  std::unique_ptr<rocksdb::Env> env;
  std::unique_ptr<ReferralStore> store;
  rocksdb::DB* raw = nullptr;
  std::atomic<int64_t> done{0};
  int64_t syncs_at_start = 0;
  std::chrono::steady_clock::time_point start;
};
Shared* g_shared = nullptr;

void Finish(benchmark::State& state) {
  const double seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - g_shared->start)
                             .count();
  const int64_t records = g_shared->done.load();
  state.counters["fsyncs/record"] =
      static_cast<double>(g_shared->fs->syncs() - g_shared->syncs_at_start) /
      static_cast<double>(std::max<int64_t>(records, 1));
  // Thread 0's own clock, as a check on items_per_second (which averages the
  // threads' times).
  state.counters["wall_records/s"] = records / seconds;
}

// Keeps items_per_second of every reported run (each repetition, no
// aggregates) for the summary printed at the end.
class RateCollector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    benchmark::ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      rates_[run.run_name.function_name][static_cast<int>(run.threads)]
          .push_back(it->second.value);
    }
  }

  // Median over the repetitions; 0 if the benchmark did not run.
  double Median(const std::string& name, int threads) const {
    auto by_name = rates_.find(name);
    if (by_name == rates_.end()) return 0;
    auto by_threads = by_name->second.find(threads);
    if (by_threads == by_name->second.end()) return 0;
    std::vector<double> v = by_threads->second;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }

  const std::map<std::string, std::map<int, std::vector<double>>>& rates()
      const {
    return rates_;
  }

 private:
  std::map<std::string, std::map<int, std::vector<double>>> rates_;
};

void BM_StoreCommit(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_shared = new Shared();
    g_shared->dir = std::make_unique<testing::TempDir>();
    g_shared->fs = std::make_shared<FaultInjectionFileSystem>();
    g_shared->env = NewFaultInjectionEnv(g_shared->fs);
    ReferralStore::Options options;
    options.path = g_shared->dir->Sub("db");
    options.sync = true;
    options.env = g_shared->env.get();
    absl::StatusOr<std::unique_ptr<ReferralStore>> store =
        ReferralStore::Open(options);
    if (!store.ok()) {
      state.SkipWithError(store.status().ToString().c_str());
    } else {
      g_shared->store = *std::move(store);
    }
    Records();
    g_shared->syncs_at_start = g_shared->fs->syncs();
  }
  bool first = true;
  for (auto _ : state) {
    if (first && state.thread_index() == 0) {
      g_shared->start = std::chrono::steady_clock::now();
    }
    first = false;
    if (g_shared->store == nullptr) break;
    v1::ReferralRecord record = NextRecord();
    absl::Status s =
        g_shared->store->CommitAndWait([&record](Txn& txn) -> absl::Status {
          absl::StatusOr<std::optional<IdempotencyEntry>> seen =
              txn.GetIdempotency(record.request_id());
          if (!seen.ok()) return seen.status();
          txn.PutReferral(record);
          v1::ReferralEvent e;
          e.set_referral_id(record.id());
          e.set_sequence(1);
          e.set_type(v1::EVENT_TYPE_SUBMITTED);
          txn.AppendEvent(e);
          txn.PutIdempotency(record.id(), {std::string(32, 'h'), record.id()});
          return absl::OkStatus();
        });
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    g_shared->done.fetch_add(1, std::memory_order_relaxed);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    Finish(state);
    g_shared->store.reset();
    delete g_shared;
    g_shared = nullptr;
  }
}

// The keys a submission writes, as the store would write them.
void AddSubmission(rocksdb::WriteBatch* batch, const v1::ReferralRecord& r) {
  const uint64_t received = keys::Micros(r.received_at());
  const std::string& nhs = r.referral().patient().nhs_number();
  const std::string entry = r.SerializeAsString();
  batch->Put(r.id(), entry);
  batch->Put(keys::EventKey(r.id(), 1), std::string(60, 'e'));
  batch->Put("idem" + r.id(),
             keys::EncodeIdempotency(std::string(32, 'h'), r.id()));
  batch->Put(keys::TimeKey(received, r.id()), "");
  batch->Put(keys::NhsKey(nhs, received, r.id()), "");
  batch->Put(keys::WorklistKey(keys::PathwayScope(r.pathway()),
                               keys::DueSeconds(r), r.id()),
             std::string(120, 'w'));
  batch->Put(keys::WorklistKey(keys::ServiceScope(r.service().service_id()),
                               keys::DueSeconds(r), r.id()),
             std::string(120, 'w'));
  batch->Put(keys::SlaKey(keys::Micros(r.next_sla_check()), r.id()), "");
  batch->Put("meta-count", keys::U64(1));
}

void BM_RawWriteBatchSync(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_shared = new Shared();
    g_shared->dir = std::make_unique<testing::TempDir>();
    g_shared->fs = std::make_shared<FaultInjectionFileSystem>();
    g_shared->env = NewFaultInjectionEnv(g_shared->fs);
    rocksdb::Options options;
    options.create_if_missing = true;
    options.compression = rocksdb::kLZ4Compression;
    options.env = g_shared->env.get();
    rocksdb::Status s =
        rocksdb::DB::Open(options, g_shared->dir->Sub("raw"), &g_shared->raw);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
    Records();
    g_shared->syncs_at_start = g_shared->fs->syncs();
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  bool first = true;
  for (auto _ : state) {
    if (first && state.thread_index() == 0) {
      g_shared->start = std::chrono::steady_clock::now();
    }
    first = false;
    if (g_shared->raw == nullptr) break;
    rocksdb::WriteBatch batch;
    AddSubmission(&batch, NextRecord());
    rocksdb::Status s = g_shared->raw->Write(write_options, &batch);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    g_shared->done.fetch_add(1, std::memory_order_relaxed);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    Finish(state);
    delete g_shared->raw;
    delete g_shared;
    g_shared = nullptr;
  }
}

// Opening a large store (opt-in: FRONTDOOR_STORE_BENCH_RECORDS=N, e.g.
// 1000000). The store is filled once with N referrals (sync off, async
// commits), closed, then each iteration opens it, reads one referral and the
// first worklist page, and closes it. Counters: rss_fill_MB is the growth of
// the resident set while filling (RocksDB's memtables, block cache, table
// readers and the writer's queue), rss_open_MB after opening and reading.
int64_t RssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0, resident = 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<int64_t>(resident) * 4096;
}

void BM_OpenLargeStore(benchmark::State& state) {
  const int64_t n = state.range(0);
  static testing::TempDir dir;
  static double fill_mb = -1;
  ReferralStore::Options options;
  options.path = dir.Sub("large");
  if (fill_mb < 0) {
    Records();
    const int64_t before = RssBytes();
    int64_t peak = before;
    options.sync = false;
    absl::StatusOr<std::unique_ptr<ReferralStore>> store =
        ReferralStore::Open(options);
    if (!store.ok()) {
      state.SkipWithError(store.status().ToString().c_str());
      return;
    }
    // At most kWindow commits in flight, so the queue never fills.
    constexpr int64_t kWindow = 8192;
    struct Progress {
      absl::Mutex mu;
      int64_t acked ABSL_GUARDED_BY(mu) = 0;
      int64_t wanted ABSL_GUARDED_BY(mu) = 0;
      absl::Status error ABSL_GUARDED_BY(mu);
      bool Reached() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return acked >= wanted;
      }
    } progress;
    for (int64_t i = 0; i < n; ++i) {
      if (i >= kWindow) {
        absl::MutexLock lock(&progress.mu);
        progress.wanted = i - kWindow + 1;
        progress.mu.Await(absl::Condition(&progress, &Progress::Reached));
      }
      v1::ReferralRecord record = NextRecord();
      (*store)->Commit(
          [record = std::move(record)](Txn& txn) {
            txn.PutReferral(record);
            return absl::OkStatus();
          },
          [&progress](absl::Status s) {
            absl::MutexLock lock(&progress.mu);
            if (!s.ok() && progress.error.ok()) progress.error = s;
            ++progress.acked;
          });
      if (i % 10000 == 0) peak = std::max(peak, RssBytes());
    }
    {
      absl::MutexLock lock(&progress.mu);
      progress.wanted = n;
      progress.mu.Await(absl::Condition(&progress, &Progress::Reached));
      if (!progress.error.ok()) {
        state.SkipWithError(progress.error.ToString().c_str());
        return;
      }
    }
    peak = std::max(peak, RssBytes());
    (*store)->Close();
    fill_mb = static_cast<double>(peak - before) / (1 << 20);
  }
  options.sync = true;
  const int64_t before = RssBytes();
  double rss_open_mb = 0;
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<ReferralStore>> store =
        ReferralStore::Open(options);
    if (!store.ok()) {
      state.SkipWithError(store.status().ToString().c_str());
      return;
    }
    absl::StatusOr<int64_t> count = (*store)->ApproximateReferralCount();
    if (!count.ok() || *count < n) {
      state.SkipWithError("wrong count");
      return;
    }
    benchmark::DoNotOptimize((*store)->GetReferral("B1000000000"));
    benchmark::DoNotOptimize(
        (*store)->ScanWorklist(v1::PATHWAY_UNSPECIFIED, "svc-1", "", 50));
    rss_open_mb = static_cast<double>(RssBytes() - before) / (1 << 20);
    (*store)->Close();
  }
  state.counters["rss_fill_MB"] = fill_mb;
  state.counters["rss_open_MB"] = rss_open_mb;
}

BENCHMARK(BM_RawWriteBatchSync)
    ->Threads(1)
    ->Threads(64)
    ->UseRealTime()
    ->MeasureProcessCPUTime();
BENCHMARK(BM_StoreCommit)
    ->Threads(1)
    ->Threads(8)
    ->Threads(64)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

}  // namespace
}  // namespace frontdoor::storage

int main(int argc, char** argv) {
  if (const char* n = std::getenv("FRONTDOOR_STORE_BENCH_RECORDS");
      n != nullptr && std::atoll(n) > 0) {
    benchmark::RegisterBenchmark("BM_OpenLargeStore",
                                 frontdoor::storage::BM_OpenLargeStore)
        ->Arg(std::atoll(n))
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  frontdoor::storage::RateCollector reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  for (const auto& [name, by_threads] : reporter.rates()) {
    for (const auto& [threads, rates] : by_threads) {
      std::printf("%s threads=%d records/s median=%.0f (%zu runs)\n",
                  name.c_str(), threads, reporter.Median(name, threads),
                  rates.size());
    }
  }
  const double store1 = reporter.Median("BM_StoreCommit", 1);
  const double store64 = reporter.Median("BM_StoreCommit", 64);
  const double raw1 = reporter.Median("BM_RawWriteBatchSync", 1);
  if (store1 > 0 && store64 > 0) {
    std::printf("group commit speed-up (BM_StoreCommit 64 / 1): %.1fx\n",
                store64 / store1);
  }
  if (raw1 > 0 && store64 > 0) {
    std::printf(
        "BM_StoreCommit at 64 / raw sync WriteBatch at 1 committer: %.1fx\n",
        store64 / raw1);
  }
  return 0;
}
