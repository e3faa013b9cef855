// Crash test: a child process commits referrals as fast as it can and
// reports every acknowledged id through a pipe; the parent SIGKILLs it at a
// random moment, then a fresh process reopens the database and checks that
// every acknowledged referral is there, whole (record, event, idempotency
// key, indexes) and that the indexes agree with the records.
//
// The parent never opens RocksDB itself: RocksDB's background threads would
// not survive a fork, so the writer and the checker are both children of a
// thread-free parent.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/referral_store.h"
#include "storage/store_test_util.h"

namespace frontdoor::storage {
namespace {

using ::frontdoor::storage::testing::MakeRecord;
using ::frontdoor::storage::testing::TempDir;

constexpr int kOutstanding = 64;

// One referral with its first event and idempotency key.
ReferralStore::Mutation SubmitMutation(const std::string& id, int64_t n) {
  return [id, n](Txn& txn) {
    txn.PutReferral(
        MakeRecord({.id = id,
                    .service_id = absl::StrCat("S", n % 7),
                    .nhs_number = absl::StrCat("999", 1000000 + n % 5000),
                    .received = absl::FromUnixSeconds(1700000000 + n),
                    .due = absl::FromUnixSeconds(1700003600 + n)}));
    v1::ReferralEvent e;
    e.set_referral_id(id);
    e.set_sequence(1);
    e.set_type(v1::EVENT_TYPE_SUBMITTED);
    txn.AppendEvent(e);
    txn.PutIdempotency("req-" + id, {"hash", id});
    return absl::OkStatus();
  };
}

// The child: keeps kOutstanding commits in flight; writes "id\n" to `fd`
// for each acknowledged one. Never returns.
[[noreturn]] void RunWriter(const std::string& path, int round, bool sync,
                            int fd) {
  ReferralStore::Options options;
  options.path = path;
  options.sync = sync;
  absl::StatusOr<std::unique_ptr<ReferralStore>> opened =
      ReferralStore::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "writer: open failed: %s\n",
                 opened.status().ToString().c_str());
    _exit(3);
  }
  ReferralStore* store = opened->release();  // killed, never closed
  std::atomic<int64_t> next{0};
  // Each completion submits the next commit (Commit may be called from done).
  struct Loop {
    ReferralStore* store;
    std::atomic<int64_t>* next;
    int round;
    int fd;
    void Submit() {
      const int64_t n = next->fetch_add(1);
      const std::string id = absl::StrCat("K", round, "-", n);
      store->Commit(SubmitMutation(id, n), [this, id](absl::Status s) {
        if (!s.ok()) {
          std::fprintf(stderr, "writer: commit failed: %s\n",
                       s.ToString().c_str());
          _exit(4);
        }
        const std::string line = id + "\n";  // < PIPE_BUF: written atomically
        if (write(fd, line.data(), line.size()) !=
            static_cast<ssize_t>(line.size()))
          _exit(5);
        Submit();
      });
    }
  };
  static Loop loop;
  loop = Loop{store, &next, round, fd};
  for (int i = 0; i < kOutstanding; ++i) loop.Submit();
  for (;;) pause();
}

// The checker: exit status 0 if every id in `acked` is present and whole
// and the indexes agree with the records.
[[noreturn]] void RunChecker(const std::string& path,
                             const std::set<std::string>& acked) {
  ReferralStore::Options options;
  options.path = path;
  absl::StatusOr<std::unique_ptr<ReferralStore>> opened =
      ReferralStore::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "checker: open failed: %s\n",
                 opened.status().ToString().c_str());
    _exit(10);
  }
  std::unique_ptr<ReferralStore> store = *std::move(opened);
  int missing = 0;
  for (const std::string& id : acked) {
    absl::StatusOr<std::optional<v1::ReferralRecord>> r =
        store->GetReferral(id);
    absl::StatusOr<std::vector<v1::ReferralEvent>> events =
        store->ListEvents(id);
    if (!r.ok() || !r->has_value() || !events.ok() || events->size() != 1) {
      if (++missing <= 10)
        std::fprintf(stderr, "checker: acknowledged %s is missing\n",
                     id.c_str());
    }
  }
  if (missing > 0) {
    std::fprintf(stderr, "checker: %d of %zu acknowledged referrals missing\n",
                 missing, acked.size());
    _exit(11);
  }
  // Indexes agree with the records: the counter, the time index, the
  // worklists and the idempotency keys.
  absl::StatusOr<int64_t> count = store->ApproximateReferralCount();
  absl::StatusOr<Page<v1::ReferralRecord>> all =
      store->ListReferrals({}, "", 10000000, 10000000);
  if (!count.ok() || !all.ok() ||
      static_cast<int64_t>(all->items.size()) != *count) {
    std::fprintf(stderr,
                 "checker: count %lld but %zu records in the time index\n",
                 count.ok() ? static_cast<long long>(*count) : -1LL,
                 all.ok() ? all->items.size() : 0);
    _exit(12);
  }
  size_t on_services = 0;
  for (int s = 0; s < 7; ++s) {
    absl::StatusOr<Page<v1::WorklistEntry>> wl = store->ScanWorklist(
        v1::PATHWAY_UNSPECIFIED, absl::StrCat("S", s), "", 10000000);
    if (!wl.ok()) _exit(13);
    on_services += wl->items.size();
  }
  absl::StatusOr<Page<v1::WorklistEntry>> pathway =
      store->ScanWorklist(v1::PATHWAY_UCR, "", "", 10000000);
  if (!pathway.ok() || pathway->items.size() != all->items.size() ||
      on_services != all->items.size()) {
    std::fprintf(
        stderr, "checker: worklists hold %zu and %zu entries for %zu records\n",
        pathway.ok() ? pathway->items.size() : 0, on_services,
        all->items.size());
    _exit(14);
  }
  for (const v1::ReferralRecord& r : all->items) {
    std::optional<IdempotencyEntry> idem;
    absl::Status s = store->CommitAndWait([&](Txn& txn) -> absl::Status {
      absl::StatusOr<std::optional<IdempotencyEntry>> e =
          txn.GetIdempotency("req-" + r.id());
      if (!e.ok()) return e.status();
      idem = *e;
      return absl::OkStatus();
    });
    if (!s.ok() || !idem || idem->referral_id != r.id()) {
      std::fprintf(stderr, "checker: %s has no idempotency key\n",
                   r.id().c_str());
      _exit(15);
    }
  }
  std::fprintf(stderr,
               "checker: %zu acknowledged present; %zu records in the store\n",
               acked.size(), all->items.size());
  store.reset();
  _exit(0);
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

TEST(StoreCrashTest, AcknowledgedWritesSurviveSigkill) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.Sub("db");
  const uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::set<std::string> acked;

  // Rounds 0-4: killed between 0 and 400 ms after the first acknowledgement,
  // alternating sync=true and sync=false (both must survive a process
  // crash). Round 5: killed during Open (WAL recovery) or just after.
  constexpr int kRounds = 6;
  for (int round = 0; round < kRounds; ++round) {
    const bool sync = round % 2 == 0;
    const bool during_open = round == kRounds - 1;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunWriter(path, round, sync, fds[1]);
    }
    close(fds[1]);

    const auto start = std::chrono::steady_clock::now();
    const int delay_ms = during_open ? static_cast<int>(rng() % 60)
                                     : static_cast<int>(rng() % 401);
    std::optional<std::chrono::steady_clock::time_point> kill_at;
    if (during_open) kill_at = start + std::chrono::milliseconds(delay_ms);
    size_t round_acks = 0;
    bool killed = false;
    std::string partial;
    char buf[65536];
    for (;;) {
      int timeout_ms = 100;
      if (kill_at && !killed) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        *kill_at - std::chrono::steady_clock::now())
                        .count();
        timeout_ms = static_cast<int>(std::max<int64_t>(0, left));
      }
      if (!killed &&
          std::chrono::steady_clock::now() - start > std::chrono::seconds(60)) {
        ADD_FAILURE() << "no acknowledgement from the writer within 60 s";
        kill_at = std::chrono::steady_clock::now();
      }
      pollfd p{fds[0], POLLIN, 0};
      const int ready = poll(&p, 1, timeout_ms);
      if (ready > 0) {
        const ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;  // EOF: the writer is gone
        partial.append(buf, static_cast<size_t>(n));
        size_t pos;
        while ((pos = partial.find('\n')) != std::string::npos) {
          acked.insert(partial.substr(0, pos));
          partial.erase(0, pos + 1);
          ++round_acks;
        }
        if (!kill_at && round_acks > 0) {
          kill_at = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(delay_ms);
        }
      }
      if (kill_at && !killed && std::chrono::steady_clock::now() >= *kill_at) {
        kill(pid, SIGKILL);
        killed =
            true;  // keep reading: acknowledgements still in the pipe count
      }
    }
    close(fds[0]);
    const int status = WaitExit(pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "writer exited on its own with status " << status;
    std::printf(
        "round %d (sync=%d): killed %d ms after %s; %zu acknowledged (%zu in "
        "total)\n",
        round, sync, delay_ms,
        during_open ? "fork" : "the first acknowledgement", round_acks,
        acked.size());
    if (!during_open) {
      EXPECT_GT(round_acks, 0u);
    }

    std::fflush(stdout);
    const pid_t checker = fork();
    ASSERT_GE(checker, 0);
    if (checker == 0) RunChecker(path, acked);
    const int checked = WaitExit(checker);
    ASSERT_TRUE(WIFEXITED(checked) && WEXITSTATUS(checked) == 0)
        << "checker failed in round " << round << " (status " << checked
        << "; seed " << seed << ")";
  }
}

}  // namespace
}  // namespace frontdoor::storage
