// Runs the built frontdoor-server binary (its path is compiled in) as a
// child process: start-up line, signals, exit codes, logs on stderr, and a
// graceful restart that keeps what was acknowledged.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/auth/test_identities.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// On shutdown the server sends GOAWAY and waits (at most the grace) for
// clients to close their connections. A gRPC client with no call in flight
// notices only on its backup poll, every 5 s by default; poll often here so
// the tests do not wait for it. Set before gRPC starts in this process.
const bool kFastClientPoll = [] {
  setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "50", 1);
  return true;
}();

std::string MakeTempDir() {
  std::string pattern =
      ::testing::TempDir() + "frontdoor_server_process_test.XXXXXX";
  EXPECT_NE(mkdtemp(pattern.data()), nullptr);
  return pattern;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A frontdoor-server child process: stdout through a pipe, stderr to a file.
class ServerProcess {
 public:
  ServerProcess(const std::vector<std::string>& args,
                const std::string& stderr_path) {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(err, STDERR_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      std::string bin = FRONTDOOR_SERVER_BIN;
      argv.push_back(bin.data());
      std::vector<std::string> copy = args;
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    close(out[1]);
    stdout_fd_ = out[0];
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  // The first line written to stdout (without its newline), or "" if none
  // came within `timeout`.
  std::string ReadLine(absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time give_up = absl::Now() + timeout;
    while (true) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const int ms =
          static_cast<int>(absl::ToInt64Milliseconds(give_up - absl::Now()));
      if (ms <= 0) return "";
      pollfd p{stdout_fd_, POLLIN, 0};
      if (poll(&p, 1, ms) <= 0) return "";
      char chunk[4096];
      ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
      if (n <= 0) return "";
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  void Signal(int sig) { kill(pid_, sig); }

  // The exit code, or -1 (killed by a signal, or still running after
  // `timeout`: then it is killed).
  int WaitForExit(absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time give_up = absl::Now() + timeout;
    int status = 0;
    while (absl::Now() < give_up) {
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool exited_ = false;
  std::string buffer_;
};

// "grpc://127.0.0.1:PORT" in the start-up line -> "127.0.0.1:PORT".
std::string GrpcAddress(const std::string& banner) {
  const std::string marker = "grpc://";
  size_t at = banner.find(marker);
  if (at == std::string::npos) return "";
  at += marker.size();
  return banner.substr(at, banner.find(' ', at) - at);
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(
    const std::string& address) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckResponse resp;
  if (!stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp).ok()) {
    return grpc::health::v1::HealthCheckResponse::UNKNOWN;
  }
  return resp.status();
}

class ServerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> Args(std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "--listen=127.0.0.1:0", "--http_listen=127.0.0.1:0",
        absl::StrCat("--data_dir=", dir_, "/data"),
        absl::StrCat("--tokens_file=",
                     frontdoor::testing::TestIdentities::Shared().file())};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::string StderrPath(const std::string& name) {
    return absl::StrCat(dir_, "/", name);
  }

  std::string dir_;
};

TEST_F(ServerProcessTest, SigtermDrainsAndExitsZero) {
  ServerProcess server(Args({}), StderrPath("stderr"));
  const std::string banner = server.ReadLine();
  ASSERT_THAT(banner,
              HasSubstr("frontdoor-server listening on grpc://127.0.0.1:"));
  EXPECT_THAT(
      banner,
      HasSubstr("roles=referral,triage,directory rules=community-spa@"));
  EXPECT_THAT(server.ReadLine(), HasSubstr("try: frontdoor"));
  const std::string address = GrpcAddress(banner);
  EXPECT_EQ(Health(address), grpc::health::v1::HealthCheckResponse::SERVING);

  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitForExit(), 0);

  const std::string log = ReadFile(StderrPath("stderr"));
  EXPECT_THAT(
      log, HasSubstr(
               "\"msg\":\"signal received; draining\",\"signal\":\"SIGTERM\""));
  EXPECT_THAT(log, HasSubstr("\"msg\":\"store closed\""));
  EXPECT_THAT(log, HasSubstr("\"msg\":\"stopped\""));
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":\"") &&
                absl::EndsWith(line, "}"))
        << line;
  }
}

TEST_F(ServerProcessTest, SigintWithAFlagfileExitsZero) {
  const std::string flagfile = absl::StrCat(dir_, "/frontdoor.flags");
  {
    std::ofstream f(flagfile);
    f << "--roles=triage\n--listen=127.0.0.1:0\n--http_listen=\n--log_level="
         "warn\n--tokens_file="
      << frontdoor::testing::TestIdentities::Shared().file() << "\n";
  }
  ServerProcess server({absl::StrCat("--flagfile=", flagfile)},
                       StderrPath("stderr"));
  const std::string banner = server.ReadLine();
  ASSERT_THAT(banner, HasSubstr("roles=triage rules=community-spa@"));
  EXPECT_THAT(banner, Not(HasSubstr("http://")));
  EXPECT_EQ(Health(GrpcAddress(banner)),
            grpc::health::v1::HealthCheckResponse::SERVING);
  server.Signal(SIGINT);
  EXPECT_EQ(server.WaitForExit(), 0);
  // --log_level=warn: no INFO lines.
  EXPECT_THAT(ReadFile(StderrPath("stderr")),
              Not(HasSubstr("\"level\":\"INFO\"")));
}

TEST_F(ServerProcessTest, AcknowledgedReferralSurvivesAGracefulRestart) {
  std::string id;
  {
    ServerProcess server(Args({}), StderrPath("stderr1"));
    const std::string address = GrpcAddress(server.ReadLine());
    ASSERT_FALSE(address.empty());
    auto stub = frontdoor::v1::ReferralService::NewStub(
        frontdoor::testing::TestIdentities::Shared().Channel(
            address, frontdoor::v1::ROLE_CLINICIAN));
    frontdoor::v1::SubmitReferralRequest req;
    req.set_request_id("restart-1");
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(
            ReadFile("examples/referrals/news2-7-acute-deterioration.json"),
            req.mutable_referral())
            .ok());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    frontdoor::v1::SubmitReferralResponse resp;
    ASSERT_TRUE(stub->SubmitReferral(&ctx, req, &resp).ok());
    id = resp.record().id();
    server.Signal(SIGTERM);
    ASSERT_EQ(server.WaitForExit(), 0);
  }
  ServerProcess server(Args({}), StderrPath("stderr2"));
  const std::string address = GrpcAddress(server.ReadLine());
  auto stub = frontdoor::v1::ReferralService::NewStub(
      frontdoor::testing::TestIdentities::Shared().Channel(
          address, frontdoor::v1::ROLE_CLINICIAN));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  frontdoor::v1::GetReferralRequest req;
  req.set_id(id);
  frontdoor::v1::ReferralRecord record;
  EXPECT_TRUE(stub->GetReferral(&ctx, req, &record).ok());
  EXPECT_EQ(record.id(), id);
  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitForExit(), 0);
  // The NHS number of the example never reaches the logs.
  EXPECT_THAT(ReadFile(StderrPath("stderr1")) + ReadFile(StderrPath("stderr2")),
              Not(HasSubstr("9990000026")));
}

TEST_F(ServerProcessTest, BadFlagsExitTwo) {
  ServerProcess server(Args({"--roles=triage,portal"}), StderrPath("stderr"));
  EXPECT_EQ(server.WaitForExit(), 2);
  EXPECT_THAT(ReadFile(StderrPath("stderr")),
              HasSubstr("unknown role 'portal'"));
}

TEST_F(ServerProcessTest, WithoutATokensFileItRefusesToStart) {
  ServerProcess server({"--listen=127.0.0.1:0", "--http_listen=",
                        absl::StrCat("--data_dir=", dir_, "/data")},
                       StderrPath("stderr"));
  EXPECT_EQ(server.WaitForExit(), 2);
  EXPECT_THAT(ReadFile(StderrPath("stderr")),
              HasSubstr("--tokens_file is required"));
}

TEST_F(ServerProcessTest, ABrokenRuleSetExitsOne) {
  ServerProcess server(Args({absl::StrCat("--rules=", dir_, "/no-rules")}),
                       StderrPath("stderr"));
  EXPECT_EQ(server.WaitForExit(), 1);
  EXPECT_THAT(ReadFile(StderrPath("stderr")),
              HasSubstr("frontdoor rules lint"));
}

}  // namespace
