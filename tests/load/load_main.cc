// frontdoor-load: Frontdoor's closed-loop gRPC load generator.
//
// N callers (--concurrency) each keep exactly one call outstanding on the
// gRPC callback API: when a call completes, its caller records the latency
// and issues the next one. Calls issued during --warmup are not counted;
// then calls are measured for --duration (or exactly --requests calls).
//
//   frontdoor-load --target=127.0.0.1:50051 --rpc=submit --concurrency=64
//       --duration=5s --warmup=1s [--json]
//
// --rpc:
//   echo      frontdoor.echo.v1.EchoService/Echo (frontdoor-echo, the
//             baseline), --echo_bytes of payload
//   submit    ReferralService/SubmitReferral with referrals from the bench
//             corpus (tests/bench/corpus.h) moved to the last 24 hours, each
//             with a new request_id and a new test NHS number, so every call
//             stores a new referral (no replays, no duplicate linking).
//             Corpus referrals that the server's validation refuses are left
//             out (their number is printed on stderr).
//   get       ReferralService/GetReferral of --get_pool referrals that the
//             tool submits first
//
// Submit and get read only what they count of each reply (its status, its
// id: tests/load/reply_view.proto), as h2load does not parse replies at all;
// --parse_replies parses every reply into the full message instead.
//   worklist  ReferralService/GetWorklist, first page (--page_size) of
//             --worklist_pathway ("all" takes the pathways in turn)
//
// Output: a summary with qps, latency percentiles (microseconds, from a
// log-linear histogram accurate to 0.8%) and errors by status code, then one
// line
//   RESULT rpc=submit concurrency=64 qps=... p50_us=... p90_us=... p99_us=...
//   max_us=... errors=0
// (--json prints one JSON object instead of the summary; the RESULT line
// stays). Exit 0 when every measured call succeeded, 1 if any failed or none
// was measured, 2 for bad flags.
//
// Other modes:
//   --wait_serving   poll grpc.health.v1 Check on --target until
//                    --health_service is SERVING; prints
//                    "SERVING after_ms=... unix_ns=..." (exit 1 on --timeout)
//   --write_body=F   write one gRPC-framed request body for --rpc to F, for
//                    h2load (build-notes section 7): submit writes a
//                    SubmitReferralRequest (a fixed request_id, so every
//                    h2load request replays it); get submits one referral to
//                    --target and writes a GetReferralRequest for it; echo
//                    writes an EchoRequest.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "services/auth/client.h"
#include "services/referral/validation.h"
#include "tests/bench/corpus.h"
#include "tests/load/echo.grpc.pb.h"
#include "tests/load/histogram.h"
#include "tests/load/load_util.h"
#include "tests/load/reply_view.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "host:port of the server");
ABSL_FLAG(std::string, rpc, "echo", "echo, submit, get or worklist");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token sent with every call (default: the "
          "token in $FRONTDOOR_TOKEN, if set)");
ABSL_FLAG(int, concurrency, 1, "Callers, each with one call outstanding");
ABSL_FLAG(int, channels, 1, "gRPC channels (connections); caller i uses channel i % channels");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "How long to measure");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "Unmeasured load before measuring");
ABSL_FLAG(int64_t, requests, 0,
          "If > 0: measure exactly this many calls (after --warmup) instead of --duration");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(10), "Deadline of each call");
ABSL_FLAG(bool, json, false, "Print the result as one JSON object instead of the summary");
ABSL_FLAG(std::string, label, "", "Extra label=value text appended to the RESULT line");
ABSL_FLAG(int, echo_bytes, 32, "--rpc=echo: payload bytes");
ABSL_FLAG(
    bool, parse_replies, false,
    "--rpc=submit/get: parse each reply into the full message; by default only "
    "the fields counted are read (tests/load/reply_view.proto)");
ABSL_FLAG(int, get_pool, 1000, "--rpc=get: referrals to submit first and then read");
ABSL_FLAG(std::string, worklist_pathway, "all",
          "--rpc=worklist: a Pathway name (PATHWAY_UCR or UCR) or 'all' (in turn)");
ABSL_FLAG(int, page_size, 50, "--rpc=worklist: page size");
ABSL_FLAG(int, corpus_pool, 1024, "--rpc=submit/get: distinct corpus referrals to cycle through");
ABSL_FLAG(std::string, request_prefix, "",
          "Prefix of request_ids (default load-<unix ms>-<pid>); ids are PREFIX-<n>");
ABSL_FLAG(int64_t, nhs_slot, -1,
          "First test NHS number slot (0..999999) for submitted referrals; -1 picks one at random");
ABSL_FLAG(bool, wait_serving, false, "Poll health until SERVING, then exit (see the file comment)");
ABSL_FLAG(std::string, health_service, "", "--wait_serving: the service name to check");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(120), "--wait_serving: give up after this long");
ABSL_FLAG(std::string, write_body, "", "Write one gRPC-framed request body for --rpc and exit");

namespace frontdoor::load {
namespace {

using Clock = std::chrono::steady_clock;

// CPU time (user + system) this process has used so far, in seconds.
double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

constexpr int kCodes = 17;

const char* CodeName(int code) {
  static const char* const kNames[kCodes] = {
      "OK",       "CANCELLED",          "UNKNOWN",          "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",   "ALREADY_EXISTS",   "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  return code >= 0 && code < kCodes ? kNames[code] : "?";
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}

// The token from --token_file, else $FRONTDOOR_TOKEN; "" for none (echo).
const std::string& BearerToken() {
  static const std::string* token = [] {
    std::string t;
    if (const std::string f = absl::GetFlag(FLAGS_token_file); !f.empty()) {
      absl::StatusOr<std::string> read = frontdoor::auth::ReadSmallFile(f);
      if (!read.ok()) {
        std::fprintf(stderr, "frontdoor-load: --token_file: %s\n",
                     std::string(read.status().message()).c_str());
        std::exit(2);
      }
      t = *read;
    } else if (const char* env = std::getenv("FRONTDOOR_TOKEN"); env != nullptr) {
      t = env;
    }
    return new std::string(absl::StripAsciiWhitespace(t));
  }();
  return *token;
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target) {
  grpc::ChannelArguments args;
  // Each channel its own connection, even to the same target.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Reconnect fast: --wait_serving polls a server that is still starting.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  args.SetMaxReceiveMessageSize(16 << 20);
  return frontdoor::auth::CreateChannelWithToken(target, grpc::InsecureChannelCredentials(), args,
                                                 BearerToken());
}

// --- what every caller shares ------------------------------------------------------

enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };

class Caller;

// Runs Issue() of callers whose completion arrived inline, several calls
// deep, on a thread of its own (a call that fails at once, e.g. on a
// channel in TRANSIENT_FAILURE, completes inside its own start).
class Trampoline {
 public:
  Trampoline() : thread_([this] { Loop(); }) {}
  ~Trampoline() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  void Post(Caller* c) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(c);
  }

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<Caller*> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

struct Shared {
  std::atomic<int> phase{kWarmup};
  std::atomic<int64_t> remaining{INT64_MAX};  // measured calls left to issue
  std::atomic<int64_t> last_done_ns{0};
  absl::Duration deadline;
  Trampoline* trampoline = nullptr;
  absl::Mutex mu;
  int running ABSL_GUARDED_BY(mu) = 0;
};

// One closed-loop caller: at most one call outstanding. Its counters are
// touched only by the thread completing its current call, so they need no
// lock; they are read after every caller has finished.
class Caller {
 public:
  explicit Caller(Shared* shared) : shared_(shared) {}
  virtual ~Caller() = default;

  void Start() {
    {
      absl::MutexLock lock(&shared_->mu);
      ++shared_->running;
    }
    Next();
  }

  void Issue() {
    const int phase = shared_->phase.load(std::memory_order_acquire);
    if (phase == kStop) return Finish();
    measured_ = phase == kMeasure;
    if (measured_ && shared_->remaining.fetch_sub(1, std::memory_order_relaxed) <= 0) {
      return Finish();
    }
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->set_deadline(absl::ToChronoTime(absl::Now() + shared_->deadline));
    start_ns_ = NowNanos();
    Call(ctx_.get(), [this](grpc::Status s) { OnDone(s); });
  }

  const LatencyHistogram& histogram() const { return histogram_; }
  const std::array<int64_t, kCodes>& codes() const { return codes_; }
  const std::map<int, std::string>& first_error() const { return first_error_; }
  int64_t warmup_errors() const { return warmup_errors_; }

 protected:
  // Starts one call on `ctx`; `done` must be called when it completes.
  virtual void Call(grpc::ClientContext* ctx, std::function<void(grpc::Status)> done) = 0;
  // Called for a measured call that succeeded, before the next is issued;
  // a reply it finds wrong makes the call count as failed with its status.
  virtual grpc::Status OnOk() { return grpc::Status::OK; }

 private:
  void OnDone(grpc::Status s) {
    const int64_t end = NowNanos();
    if (measured_) {
      histogram_.Record(end - start_ns_);
      if (s.ok()) s = OnOk();
      const int code = static_cast<int>(s.error_code());
      ++codes_[code >= 0 && code < kCodes ? code : 2];
      if (!s.ok() && first_error_.count(code) == 0)
        first_error_[code] = s.error_message();
      int64_t last = shared_->last_done_ns.load(std::memory_order_relaxed);
      while (last < end &&
             !shared_->last_done_ns.compare_exchange_weak(last, end, std::memory_order_relaxed)) {
      }
    } else if (!s.ok()) {
      ++warmup_errors_;
    }
    Next();
  }

  void Next() {
    thread_local int depth = 0;
    if (depth >= 4) {
      shared_->trampoline->Post(this);
      return;
    }
    ++depth;
    Issue();
    --depth;
  }

  void Finish() {
    absl::MutexLock lock(&shared_->mu);
    --shared_->running;
  }

  Shared* shared_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  int64_t start_ns_ = 0;
  bool measured_ = false;
  LatencyHistogram histogram_;
  std::array<int64_t, kCodes> codes_{};
  std::map<int, std::string> first_error_;
  int64_t warmup_errors_ = 0;
};

void Trampoline::Loop() {
  for (;;) {
    Caller* c = nullptr;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;
      c = queue_.front();
      queue_.pop_front();
    }
    c->Issue();
  }
}

// --- the RPCs --------------------------------------------------------------------

class EchoCaller final : public Caller {
 public:
  EchoCaller(Shared* shared, echo::v1::EchoService::Stub* stub, int bytes)
      : Caller(shared), stub_(stub) {
    req_.set_payload(std::string(bytes, 'x'));
  }

 private:
  void Call(grpc::ClientContext* ctx, std::function<void(grpc::Status)> done) override {
    resp_.Clear();
    stub_->async()->Echo(ctx, &req_, &resp_, std::move(done));
  }
  echo::v1::EchoService::Stub* stub_;
  echo::v1::EchoRequest req_;
  echo::v1::EchoResponse resp_;
};

// Referrals to submit: a pool of corpus referrals moved to the last day,
// each call with a new request_id and NHS number.
class SubmissionSource {
 public:
  // Corpus referrals that the server's own validation refuses are left out
  // (and counted), so that every call is a real submission.
  SubmissionSource(int pool, std::string prefix, uint64_t nhs_slot)
      : prefix_(std::move(prefix)), nhs_(nhs_slot) {
    const absl::Time now = absl::Now();
    for (uint64_t i = 0; static_cast<int>(pool_.size()) < pool; ++i) {
      v1::SubmitReferralRequest req;
      req.set_request_id("x");
      v1::Referral& r = *req.mutable_referral();
      r = bench::GenerateReferral(i);
      ShiftReferralDays(&r, DaysToRecent(r, now));
      std::vector<std::string> warnings;
      absl::Status valid = referral::ValidateSubmission(req, now, &warnings);
      if (!valid.ok()) {
        if (skipped_ == 0) first_skip_ = absl::StrCat("corpus referral ", i, ": ", valid.message());
        ++skipped_;
        continue;
      }
      pool_.push_back(std::move(r));
    }
  }
  // Referrals of the corpus left out, and why the first was.
  int skipped() const { return skipped_; }
  const std::string& first_skip() const { return first_skip_; }
  void Fill(v1::SubmitReferralRequest* req) {
    const uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
    req->set_request_id(absl::StrCat(prefix_, "-", n));
    *req->mutable_referral() = pool_[n % pool_.size()];
    req->mutable_referral()->mutable_patient()->set_nhs_number(nhs_.Next());
    req->set_submitted_by("frontdoor-load");
  }
  uint64_t issued() const { return next_.load(); }

 private:
  std::string prefix_;
  std::vector<v1::Referral> pool_;
  std::atomic<uint64_t> next_{0};
  UniqueNhsNumbers nhs_;
  int skipped_ = 0;
  std::string first_skip_;
};

// What a submit caller counts of its replies: the status each referral was
// stored with, and replays (there should be none: every request_id is new).
class SubmitCounts {
 public:
  const std::array<int64_t, 10>& statuses() const { return statuses_; }
  int64_t replayed() const { return replayed_; }

 protected:
  void Count(int status, bool replayed) {
    ++statuses_[status >= 0 && status < 10 ? status : 0];
    if (replayed) ++replayed_;
  }

 private:
  std::array<int64_t, 10> statuses_{};
  int64_t replayed_ = 0;
};

// The methods of ReferralService that submit and get call, by name: they
// go through a generic stub so that the reply type can be a view.
constexpr char kSubmitMethod[] = "/frontdoor.v1.ReferralService/SubmitReferral";
constexpr char kGetMethod[] = "/frontdoor.v1.ReferralService/GetReferral";

// Reply is v1::SubmitReferralResponse (--parse_replies) or its view: both
// have record().status() and replayed().
template <typename Reply>
class SubmitCaller final : public Caller, public SubmitCounts {
 public:
  SubmitCaller(Shared* shared, std::shared_ptr<grpc::Channel> channel,
               SubmissionSource* source)
      : Caller(shared), stub_(std::move(channel)), source_(source) {}

 private:
  void Call(grpc::ClientContext* ctx, std::function<void(grpc::Status)> done) override {
    req_.Clear();
    resp_.Clear();
    source_->Fill(&req_);
    stub_.UnaryCall(ctx, kSubmitMethod, grpc::StubOptions(), &req_, &resp_,
                    std::move(done));
  }
  grpc::Status OnOk() override {
    Count(resp_.record().status(), resp_.replayed());
    return grpc::Status::OK;
  }
  grpc::TemplatedGenericStub<v1::SubmitReferralRequest, Reply> stub_;
  SubmissionSource* source_;
  v1::SubmitReferralRequest req_;
  Reply resp_;
};

// Reply is v1::ReferralRecord (--parse_replies) or its view.
template <typename Reply>
class GetCaller final : public Caller {
 public:
  GetCaller(Shared* shared, std::shared_ptr<grpc::Channel> channel,
            const std::vector<std::string>* ids, size_t first)
      : Caller(shared), stub_(std::move(channel)), ids_(ids), next_(first) {}

 private:
  void Call(grpc::ClientContext* ctx, std::function<void(grpc::Status)> done) override {
    req_.set_id((*ids_)[next_++ % ids_->size()]);
    resp_.Clear();
    stub_.UnaryCall(ctx, kGetMethod, grpc::StubOptions(), &req_, &resp_,
                    std::move(done));
  }
  // A reply without the record's id is counted as an error, not a read.
  grpc::Status OnOk() override {
    if (resp_.id().empty())
      return {grpc::StatusCode::INTERNAL, "GetReferral: reply without an id"};
    return grpc::Status::OK;
  }
  grpc::TemplatedGenericStub<v1::GetReferralRequest, Reply> stub_;
  const std::vector<std::string>* ids_;
  size_t next_;
  v1::GetReferralRequest req_;
  Reply resp_;
};

class WorklistCaller final : public Caller {
 public:
  WorklistCaller(Shared* shared, v1::ReferralService::Stub* stub,
                 std::vector<v1::Pathway> pathways, size_t first, int page_size)
      : Caller(shared), stub_(stub), pathways_(std::move(pathways)), next_(first) {
    req_.set_page_size(page_size);
  }
  int64_t entries() const { return entries_; }
  int64_t full_pages() const { return full_pages_; }

 private:
  void Call(grpc::ClientContext* ctx, std::function<void(grpc::Status)> done) override {
    req_.set_pathway(pathways_[next_++ % pathways_.size()]);
    resp_.Clear();
    stub_->async()->GetWorklist(ctx, &req_, &resp_, std::move(done));
  }
  grpc::Status OnOk() override {
    entries_ += resp_.entries_size();
    if (resp_.entries_size() == req_.page_size()) ++full_pages_;
    return grpc::Status::OK;
  }
  v1::ReferralService::Stub* stub_;
  std::vector<v1::Pathway> pathways_;
  size_t next_;
  v1::GetWorklistRequest req_;
  v1::GetWorklistResponse resp_;
  int64_t entries_ = 0;
  int64_t full_pages_ = 0;
};

// --- helpers ---------------------------------------------------------------------

std::string DefaultPrefix() {
  return absl::StrCat("load-", absl::ToUnixMillis(absl::Now()), "-", getpid());
}

uint64_t NhsSlot() {
  const int64_t flag = absl::GetFlag(FLAGS_nhs_slot);
  if (flag >= 0) return static_cast<uint64_t>(flag % 1000000);
  std::random_device rd;
  return rd() % 1000000;
}

// Submits `n` referrals with 16 threads of blocking calls; their ids.
absl::StatusOr<std::vector<std::string>> SubmitPool(v1::ReferralService::Stub* stub, int n,
                                                    SubmissionSource* source) {
  std::vector<std::string> ids(n);
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status failure;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        v1::SubmitReferralRequest req;
        source->Fill(&req);
        v1::SubmitReferralResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        grpc::Status s = stub->SubmitReferral(&ctx, req, &resp);
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          failure = absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                                 absl::StrCat("SubmitReferral: ", s.error_message()));
          return;
        }
        ids[i] = resp.record().id();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!failure.ok()) return failure;
  return ids;
}

absl::StatusOr<std::vector<v1::Pathway>> WorklistPathways(const std::string& flag) {
  std::vector<v1::Pathway> out;
  if (flag == "all") {
    for (int p = v1::Pathway_MIN + 1; p <= v1::Pathway_MAX; ++p) {
      if (v1::Pathway_IsValid(p)) out.push_back(static_cast<v1::Pathway>(p));
    }
    return out;
  }
  v1::Pathway p;
  if (v1::Pathway_Parse(flag, &p) || v1::Pathway_Parse("PATHWAY_" + flag, &p)) {
    if (p != v1::PATHWAY_UNSPECIFIED) return std::vector<v1::Pathway>{p};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--worklist_pathway: unknown pathway '", flag, "'"));
}

bool WaitConnected(const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  for (const auto& ch : channels) {
    if (!ch->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) return false;
  }
  return true;
}

// --- modes -----------------------------------------------------------------------

int WaitServing() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string service = absl::GetFlag(FLAGS_health_service);
  const int64_t start = NowNanos();
  const absl::Time give_up = absl::Now() + absl::GetFlag(FLAGS_timeout);
  auto channel = NewChannel(target);
  auto stub = grpc::health::v1::Health::NewStub(channel);
  std::string last = "no answer";
  while (absl::Now() < give_up) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = stub->Check(&ctx, req, &resp);
    if (s.ok() && resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      const int64_t now = NowNanos();
      std::cout << absl::StrFormat("SERVING service=\"%s\" after_ms=%.1f unix_ns=%d\n", service,
                                   (now - start) / 1e6, absl::GetCurrentTimeNanos());
      return 0;
    }
    last = s.ok() ? grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status())
                  : absl::StrCat(CodeName(s.error_code()), ": ", s.error_message());
    if (s.ok()) absl::SleepFor(absl::Milliseconds(2));
  }
  std::cerr << "frontdoor-load: " << target << " not SERVING after "
            << absl::FormatDuration(absl::GetFlag(FLAGS_timeout)) << " (last: " << last << ")\n";
  return 1;
}

int WriteBody(const std::string& rpc) {
  const std::string path = absl::GetFlag(FLAGS_write_body);
  std::string frame;
  std::string note;
  if (rpc == "echo") {
    echo::v1::EchoRequest req;
    req.set_payload(std::string(absl::GetFlag(FLAGS_echo_bytes), 'x'));
    frame = GrpcFrame(req);
  } else if (rpc == "submit") {
    // One fixed request: every h2load request replays the first one.
    std::string prefix = absl::GetFlag(FLAGS_request_prefix);
    if (prefix.empty()) prefix = "h2load-replay";
    SubmissionSource source(1, prefix, NhsSlot());
    v1::SubmitReferralRequest req;
    source.Fill(&req);
    frame = GrpcFrame(req);
    note = absl::StrCat(" request_id=", req.request_id());
  } else if (rpc == "get") {
    auto channel = NewChannel(absl::GetFlag(FLAGS_target));
    auto stub = v1::ReferralService::NewStub(channel);
    SubmissionSource source(1, DefaultPrefix(), NhsSlot());
    auto ids = SubmitPool(stub.get(), 1, &source);
    if (!ids.ok()) {
      std::cerr << "frontdoor-load: " << ids.status() << "\n";
      return 1;
    }
    v1::GetReferralRequest req;
    req.set_id((*ids)[0]);
    frame = GrpcFrame(req);
    note = absl::StrCat(" id=", req.id());
  } else {
    std::cerr << "frontdoor-load: --write_body supports --rpc=echo, submit or get\n";
    return 2;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(frame.data(), static_cast<std::streamsize>(frame.size()));
  out.close();
  if (!out) {
    std::cerr << "frontdoor-load: cannot write " << path << "\n";
    return 1;
  }
  std::cout << "wrote " << path << " bytes=" << frame.size() << note << "\n";
  return 0;
}

int Run(const std::string& rpc) {
  const std::string target = absl::GetFlag(FLAGS_target);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int n_channels = absl::GetFlag(FLAGS_channels);
  const int64_t requests = absl::GetFlag(FLAGS_requests);
  if (concurrency < 1 || n_channels < 1 || absl::GetFlag(FLAGS_duration) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_warmup) < absl::ZeroDuration() || requests < 0) {
    std::cerr << "frontdoor-load: --concurrency and --channels must be >= 1, --duration > 0, "
                 "--warmup and --requests >= 0\n";
    return 2;
  }
  std::vector<v1::Pathway> pathways;
  if (rpc == "worklist") {
    auto p = WorklistPathways(absl::GetFlag(FLAGS_worklist_pathway));
    if (!p.ok()) {
      std::cerr << "frontdoor-load: " << p.status().message() << "\n";
      return 2;
    }
    pathways = *p;
  } else if (rpc != "echo" && rpc != "submit" && rpc != "get") {
    std::cerr << "frontdoor-load: --rpc must be echo, submit, get or worklist\n";
    return 2;
  }

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<echo::v1::EchoService::Stub>> echo_stubs;
  std::vector<std::unique_ptr<v1::ReferralService::Stub>> referral_stubs;
  for (int i = 0; i < n_channels; ++i) {
    channels.push_back(NewChannel(target));
    echo_stubs.push_back(echo::v1::EchoService::NewStub(channels.back()));
    referral_stubs.push_back(v1::ReferralService::NewStub(channels.back()));
  }
  if (!WaitConnected(channels)) {
    std::cerr << "frontdoor-load: cannot connect to " << target << "\n";
    return 1;
  }

  std::string prefix = absl::GetFlag(FLAGS_request_prefix);
  if (prefix.empty()) prefix = DefaultPrefix();
  std::unique_ptr<SubmissionSource> source;
  std::vector<std::string> ids;
  if (rpc == "submit" || rpc == "get") {
    source = std::make_unique<SubmissionSource>(std::max(1, absl::GetFlag(FLAGS_corpus_pool)),
                                                prefix, NhsSlot());
  }
  if (source != nullptr && source->skipped() > 0) {
    std::cerr << "frontdoor-load: left out " << source->skipped()
              << " corpus referrals that the server's validation refuses (first: "
              << source->first_skip() << ")\n";
  }
  if (rpc == "get") {
    const int n = std::max(1, absl::GetFlag(FLAGS_get_pool));
    auto made = SubmitPool(referral_stubs[0].get(), n, source.get());
    if (!made.ok()) {
      std::cerr << "frontdoor-load: creating the referrals to read: " << made.status() << "\n";
      return 1;
    }
    ids = *std::move(made);
  }

  // The shared state and the callers are deliberately never freed: the last
  // completion callbacks may still be returning through gRPC (and through
  // shared.mu) when the main thread sees that every caller has finished.
  // They stay reachable from this static, so leak checkers do not report
  // them.
  struct KeptUntilExit {
    Trampoline trampoline;
    Shared shared;
    std::vector<Caller*> callers;
  };
  static KeptUntilExit* const kept = new KeptUntilExit;
  Trampoline& trampoline = kept->trampoline;
  Shared& shared = kept->shared;
  shared.deadline = absl::GetFlag(FLAGS_deadline);
  shared.trampoline = &trampoline;
  if (requests > 0) shared.remaining = requests;
  const bool parse_replies = absl::GetFlag(FLAGS_parse_replies);
  std::vector<Caller*>& callers = kept->callers;
  for (int i = 0; i < concurrency; ++i) {
    const int ch = i % n_channels;
    if (rpc == "echo") {
      callers.push_back(new EchoCaller(&shared, echo_stubs[ch].get(),
                                                     absl::GetFlag(FLAGS_echo_bytes)));
    } else if (rpc == "submit" && parse_replies) {
      callers.push_back(new SubmitCaller<v1::SubmitReferralResponse>(
          &shared, channels[ch], source.get()));
    } else if (rpc == "submit") {
      callers.push_back(new SubmitCaller<load_view::SubmitReferralResponseView>(
          &shared, channels[ch], source.get()));
    } else if (rpc == "get" && parse_replies) {
      callers.push_back(new GetCaller<v1::ReferralRecord>(
          &shared, channels[ch], &ids, i * ids.size() / concurrency));
    } else if (rpc == "get") {
      callers.push_back(new GetCaller<load_view::ReferralRecordView>(
          &shared, channels[ch], &ids, i * ids.size() / concurrency));
    } else {
      callers.push_back(new WorklistCaller(
          &shared, referral_stubs[ch].get(), pathways, static_cast<size_t>(i),
          absl::GetFlag(FLAGS_page_size)));
    }
  }

  for (auto& c : callers) c->Start();
  absl::SleepFor(absl::GetFlag(FLAGS_warmup));
  const int64_t measure_start = NowNanos();
  const double cpu_start = CpuSeconds();
  shared.phase.store(kMeasure, std::memory_order_release);
  if (requests == 0) {
    absl::SleepFor(absl::GetFlag(FLAGS_duration));
    shared.phase.store(kStop, std::memory_order_release);
  }
  {
    absl::MutexLock lock(&shared.mu);
    auto done = [&shared]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared.mu) {
      return shared.running == 0;
    };
    shared.mu.Await(absl::Condition(&done));
  }
  shared.phase.store(kStop, std::memory_order_release);
  const double cpu_measured = CpuSeconds() - cpu_start;

  // Totals.
  LatencyHistogram hist;
  std::array<int64_t, kCodes> codes{};
  std::map<int, std::string> first_error;
  int64_t warmup_errors = 0;
  std::array<int64_t, 10> statuses{};
  int64_t replayed = 0, entries = 0, full_pages = 0;
  for (const auto& c : callers) {
    hist.Merge(c->histogram());
    for (int i = 0; i < kCodes; ++i) codes[i] += c->codes()[i];
    for (const auto& [code, msg] : c->first_error()) first_error.emplace(code, msg);
    warmup_errors += c->warmup_errors();
    if (auto* s = dynamic_cast<SubmitCounts*>(c)) {
      for (int i = 0; i < 10; ++i) statuses[i] += s->statuses()[i];
      replayed += s->replayed();
    }
    if (auto* w = dynamic_cast<WorklistCaller*>(c)) {
      entries += w->entries();
      full_pages += w->full_pages();
    }
  }
  const int64_t calls = static_cast<int64_t>(hist.count());
  const int64_t errors = calls - codes[0];
  const int64_t end = std::max(shared.last_done_ns.load(), measure_start + 1);
  const double seconds = (end - measure_start) / 1e9;
  const double qps = calls / seconds;
  // Cores this client kept busy while measuring: on a shared machine, what
  // the server could not use.
  const double client_cores = cpu_measured / seconds;
  auto us = [](int64_t ns) { return ns / 1000.0; };
  const double p50 = us(hist.Percentile(0.50)), p90 = us(hist.Percentile(0.90)),
               p99 = us(hist.Percentile(0.99)), p999 = us(hist.Percentile(0.999)),
               max = us(hist.max()), min = us(hist.min()), mean = hist.mean() / 1000.0;

  std::vector<std::string> error_parts;
  for (int i = 1; i < kCodes; ++i) {
    if (codes[i] > 0) error_parts.push_back(absl::StrCat(CodeName(i), "=", codes[i]));
  }
  std::vector<std::string> status_parts;
  for (int i = 0; i < 10; ++i) {
    if (statuses[i] > 0) {
      status_parts.push_back(absl::StrCat(
          v1::ReferralStatus_Name(static_cast<v1::ReferralStatus>(i)).substr(16), "=", statuses[i]));
    }
  }

  if (absl::GetFlag(FLAGS_json)) {
    std::string j = absl::StrFormat(
        "{\"rpc\":\"%s\",\"target\":\"%s\",\"concurrency\":%d,\"channels\":%d,"
        "\"measured_s\":%.3f,\"calls\":%d,\"ok\":%d,\"errors\":%d,\"qps\":%.1f,"
        "\"latency_us\":{\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
        "\"max\":%.1f,\"mean\":%.1f},\"client_cores\":%.2f,\"errors_by_code\":{",
        rpc, JsonEscape(target), concurrency, n_channels, seconds, calls, codes[0], errors, qps,
        min, p50, p90, p99, p999, max, mean, client_cores);
    bool first = true;
    for (int i = 1; i < kCodes; ++i) {
      if (codes[i] == 0) continue;
      absl::StrAppend(&j, first ? "" : ",", "\"", CodeName(i), "\":{\"count\":", codes[i],
                      ",\"first_message\":\"", JsonEscape(first_error[i]), "\"}");
      first = false;
    }
    absl::StrAppend(&j, "},\"warmup_errors\":", warmup_errors);
    if (rpc == "submit" || rpc == "get") {
      absl::StrAppend(&j, ",\"replies\":\"", parse_replies ? "parsed" : "view",
                      "\"");
    }
    if (rpc == "submit") {
      absl::StrAppend(&j, ",\"submitted_status\":{");
      first = true;
      for (int i = 0; i < 10; ++i) {
        if (statuses[i] == 0) continue;
        absl::StrAppend(&j, first ? "" : ",", "\"",
                        v1::ReferralStatus_Name(static_cast<v1::ReferralStatus>(i)),
                        "\":", statuses[i]);
        first = false;
      }
      absl::StrAppend(&j, "},\"replayed\":", replayed);
    }
    if (rpc == "worklist") {
      absl::StrAppend(&j, ",\"entries\":", entries, ",\"full_pages\":", full_pages);
    }
    absl::StrAppend(&j, "}");
    std::cout << j << "\n";
  } else {
    std::cout << absl::StrFormat(
        "frontdoor-load rpc=%s target=%s concurrency=%d channels=%d measured=%.2fs calls=%d "
        "ok=%d errors=%d%s\n",
        rpc, target, concurrency, n_channels, seconds, calls, codes[0], errors,
        warmup_errors > 0 ? absl::StrCat(" (warm-up errors ", warmup_errors, ")") : "");
    std::cout << absl::StrFormat("  qps       %.1f (this client used %.2f cores)\n", qps,
                                 client_cores);
    std::cout << absl::StrFormat(
        "  latency   min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f us\n",
        min, p50, p90, p99, p999, max, mean);
    for (int i = 1; i < kCodes; ++i) {
      if (codes[i] == 0) continue;
      std::cout << absl::StrFormat("  error     %s x%d (first: %s)\n", CodeName(i), codes[i],
                                   first_error[i]);
    }
    if (rpc == "submit") {
      std::cout << "  stored as " << absl::StrJoin(status_parts, ", ")
                << (replayed > 0 ? absl::StrCat("; replayed ", replayed) : "") << "\n";
    }
    if (rpc == "worklist") {
      std::cout << absl::StrFormat("  entries   %.1f per page (%d full pages of %d)\n",
                                   codes[0] > 0 ? double(entries) / codes[0] : 0.0, full_pages,
                                   codes[0]);
    }
  }
  std::string label = absl::GetFlag(FLAGS_label);
  std::cout << absl::StrFormat(
                   "RESULT rpc=%s concurrency=%d qps=%.1f p50_us=%.1f "
                   "p90_us=%.1f p99_us=%.1f "
                   "max_us=%.1f calls=%d errors=%d client_cores=%.2f "
                   "cpu_total_s=%.2f",
                   rpc, concurrency, qps, p50, p90, p99, max, calls, errors,
                   client_cores, CpuSeconds())
            << (rpc == "submit" || rpc == "get"
                    ? (parse_replies ? " replies=parsed" : " replies=view")
                    : "")
            << (error_parts.empty()
                    ? ""
                    : absl::StrCat(" ", absl::StrJoin(error_parts, " ")))
            << (label.empty() ? "" : absl::StrCat(" ", label)) << std::endl;
  return (calls > 0 && errors == 0) ? 0 : 1;
}

}  // namespace
}  // namespace frontdoor::load

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Closed-loop gRPC load for Frontdoor.\n"
      "  frontdoor-load --target=HOST:PORT --rpc=echo|submit|get|worklist --concurrency=N\n"
      "      [--duration=5s --warmup=1s | --requests=N] [--json]\n"
      "  frontdoor-load --target=HOST:PORT --wait_serving [--timeout=120s]\n"
      "  frontdoor-load --rpc=submit|get|echo --write_body=FILE [--target=HOST:PORT]");
  absl::ParseCommandLine(argc, argv);
  // As in frontdoor-server (main.cc): no lock-graph bookkeeping under load.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string rpc = absl::GetFlag(FLAGS_rpc);
  if (absl::GetFlag(FLAGS_wait_serving)) return frontdoor::load::WaitServing();
  if (!absl::GetFlag(FLAGS_write_body).empty()) return frontdoor::load::WriteBody(rpc);
  return frontdoor::load::Run(rpc);
}
