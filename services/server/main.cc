// frontdoor-server: hosts Frontdoor's gRPC services (all of them by
// default, or the --roles given), health, reflection, /metrics and /healthz.
// Flags may also come from a file: --flagfile=frontdoor.flags (one
// --name=value per line). See docs/operations.md.

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/auth/client.h"
#include "services/common/log.h"
#include "services/server/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "gRPC listen address (host:port)");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:8080",
          "HTTP listen address for /metrics and /healthz (host:port); empty "
          "disables HTTP");
ABSL_FLAG(std::string, data_dir, "./data",
          "Directory of the stores (created if missing)");
ABSL_FLAG(std::string, rules, "triage-rules/community-spa",
          "Rule set directory (triage role)");
ABSL_FLAG(bool, watch_rules, true,
          "Hot reload: poll the --rules directory every second and activate "
          "a change that passes validation (triage role)");
ABSL_FLAG(bool, require_approval, false,
          "A change of the --rules directory is only proposed; it goes live "
          "after 'frontdoor rules approve' and 'frontdoor rules activate'");
ABSL_FLAG(std::string, directory, "triage-rules/directory.yaml",
          "Directory of services file (directory role)");
ABSL_FLAG(
    std::string, roles, "all",
    "Services to host: 'all' or a comma list of referral,triage,directory");
ABSL_FLAG(
    std::string, triage_target, "",
    "host:port of a TriageService when the triage role is not in this process");
ABSL_FLAG(std::string, directory_target, "",
          "host:port of a DirectoryService when the directory role is not in "
          "this process");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish");
ABSL_FLAG(std::string, tokens_file, "",
          "Identities file (tokens stored hashed, certificate names); "
          "required. Create it with 'frontdoor admin token create'");
ABSL_FLAG(std::string, service_token_file, "",
          "File holding the bearer token this process sends to the other "
          "roles (a ROLE_SERVICE identity in their tokens files); needed "
          "only when roles run in separate processes");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: serve gRPC and HTTP over TLS (with "
          "--tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA: callers must present a client certificate signed by it "
          "(mTLS)");
ABSL_FLAG(std::string, remote_tls_ca, "",
          "PEM CA: call --triage_target and --directory_target over TLS, "
          "verifying their certificates against it (plaintext without it)");
ABSL_FLAG(std::string, remote_tls_cert, "",
          "PEM client certificate presented to --triage_target and "
          "--directory_target (with --remote_tls_key and --remote_tls_ca), "
          "for peers that require one (--tls_client_ca)");
ABSL_FLAG(std::string, remote_tls_key, "",
          "PEM private key for --remote_tls_cert");
ABSL_FLAG(std::string, log_level, "info",
          "Minimum log level: info, warn or error");

namespace {

constexpr int kExitOk = 0;
constexpr int kExitStartFailed = 1;
constexpr int kExitUsage = 2;

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Frontdoor triage server.\n"
      "  frontdoor-server [--roles=all] [--listen=127.0.0.1:50051] "
      "[--data_dir=./data]\n"
      "  frontdoor-server --flagfile=frontdoor.flags\n"
      "See docs/operations.md.");
  // --help lists the flags defined here (absl matches by file name, and
  // this file is not named after the binary).
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "services/server/");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil with mutex deadlock detection on, which records
  // every lock acquisition in a global graph (a few percent of the server's
  // CPU under load). Tests keep it; the server does not need it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  frontdoor::log::Level level;
  if (!frontdoor::log::ParseLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::cerr << "frontdoor-server: --log_level must be info, warn or error\n";
    return kExitUsage;
  }
  frontdoor::log::SetMinLevel(level);

  absl::StatusOr<frontdoor::server::Roles> roles =
      frontdoor::server::ParseRoles(absl::GetFlag(FLAGS_roles));
  if (!roles.ok()) {
    std::cerr << "frontdoor-server: " << roles.status().message() << "\n";
    return kExitUsage;
  }

  frontdoor::server::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.http_listen = absl::GetFlag(FLAGS_http_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.rules_dir = absl::GetFlag(FLAGS_rules);
  options.watch_rules = absl::GetFlag(FLAGS_watch_rules);
  options.require_approval = absl::GetFlag(FLAGS_require_approval);
  options.directory_file = absl::GetFlag(FLAGS_directory);
  options.roles = *roles;
  options.triage_target = absl::GetFlag(FLAGS_triage_target);
  options.directory_target = absl::GetFlag(FLAGS_directory_target);
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  options.tokens_file = absl::GetFlag(FLAGS_tokens_file);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.remote_tls = {absl::GetFlag(FLAGS_remote_tls_ca),
                        absl::GetFlag(FLAGS_remote_tls_cert),
                        absl::GetFlag(FLAGS_remote_tls_key)};
  if (const std::string f = absl::GetFlag(FLAGS_service_token_file);
      !f.empty()) {
    absl::StatusOr<std::string> token = frontdoor::auth::ReadSmallFile(f);
    if (!token.ok()) {
      std::cerr << "frontdoor-server: --service_token_file: "
                << token.status().message() << "\n";
      return kExitUsage;
    }
    options.service_token = std::string(absl::StripAsciiWhitespace(*token));
  }
  if (options.shutdown_grace < absl::ZeroDuration()) {
    std::cerr << "frontdoor-server: --shutdown_grace must not be negative\n";
    return kExitUsage;
  }

  // SIGTERM and SIGINT are taken synchronously by one thread (sigwait), so
  // the shutdown runs as ordinary code, not in a signal handler. Block them
  // before any thread starts so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client closing its socket is not fatal

  absl::StatusOr<std::unique_ptr<frontdoor::server::FrontdoorServer>> server =
      frontdoor::server::FrontdoorServer::Start(options);
  if (!server.ok()) {
    std::cerr << "frontdoor-server: " << server.status().message() << "\n";
    return absl::IsInvalidArgument(server.status()) ? kExitUsage
                                                    : kExitStartFailed;
  }
  std::cout << (*server)->Banner() << std::endl;

  frontdoor::server::FrontdoorServer* s = server->get();
  std::thread signal_thread([s, stop_signals] {
    int sig = 0;
    if (sigwait(&stop_signals, &sig) != 0) return;
    frontdoor::log::Info("signal received; draining",
                         {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    s->Shutdown();
  });
  s->Wait();
  signal_thread.join();
  server->reset();
  return kExitOk;
}
