// The wiring of frontdoor-server: which services run in this process, how
// they reach each other, health, reflection, metrics, the HTTP endpoints and
// graceful shutdown. main.cc turns flags into ServerOptions; tests start a
// whole server in-process with FrontdoorServer::Start.

#ifndef FRONTDOOR_SERVICES_SERVER_SERVER_H_
#define FRONTDOOR_SERVICES_SERVER_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/auth/client.h"
#include "services/common/clock.h"
#include "services/common/metrics.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace frontdoor {
namespace triage {
class RuleSetHolder;
}  // namespace triage
namespace referral {
class ReferralServiceImpl;
}  // namespace referral

namespace server {

// The services this process hosts.
struct Roles {
  bool referral = false;
  bool triage = false;
  bool directory = false;

  static Roles All() { return Roles{true, true, true}; }
  bool any() const { return referral || triage || directory; }
  // "referral,triage,directory" (the selected ones, in that order).
  std::string ToString() const;
};

// "all", or a comma-separated list of referral, triage, directory (spaces
// around names allowed, duplicates harmless). INVALID_ARGUMENT for an
// unknown or empty list.
absl::StatusOr<Roles> ParseRoles(absl::string_view text);

struct ServerOptions {
  // gRPC listen address, host:port. Port 0 picks a free port (tests).
  std::string listen = "127.0.0.1:50051";
  // HTTP (/metrics, /healthz) listen address, host:port; "" disables it.
  std::string http_listen = "127.0.0.1:8080";
  // Directory for the stores (created if missing). The referral store lives
  // in <data_dir>/referrals. Used by the referral and directory roles.
  std::string data_dir = "./data";
  // Rule set directory, for the triage role.
  std::string rules_dir = "triage-rules/community-spa";
  // Rule set lifecycle (triage role; services/server/rule_set_wiring.h):
  // watch rules_dir (polled every rules_poll) and activate clean changes;
  // with require_approval a change is only proposed, to be approved and
  // activated through RuleSetService. Versions live in <data_dir>/rulesets.
  bool watch_rules = true;
  bool require_approval = false;
  absl::Duration rules_poll = absl::Seconds(1);
  // Directory file (services, catchments, sessions), for the directory role.
  std::string directory_file = "triage-rules/directory.yaml";
  Roles roles = Roles::All();
  // Authentication (services/auth): the identities file (tokens stored
  // hashed, certificate names), required. Re-read when it changes.
  std::string tokens_file;
  // The bearer token this process sends when its roles call roles in
  // another process (a ROLE_SERVICE identity); roles in one process call
  // each other directly. Empty: a random one, known only in memory;
  // separate processes need the same token, registered in their tokens
  // files.
  std::string service_token;
  // TLS for the gRPC and HTTP listeners, when both are set (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
  // With a client CA, callers must present a certificate signed by it
  // (mTLS); its common name identifies them unless they also send a token.
  std::string tls_client_ca_file;
  // host:port of TriageService / DirectoryService when that role is not in
  // this process (required then by the referral role).
  std::string triage_target;
  std::string directory_target;
  // TLS to those targets: with remote_tls.ca_file their certificates are
  // verified against it, and remote_tls.cert_file/key_file, if given, are
  // presented to them (for a peer started with tls_client_ca). Without a CA
  // the calls are plaintext, for a trusted network only.
  auth::ClientTlsFiles remote_tls;
  // How long Shutdown lets in-flight calls finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // How often the store's health is polled.
  absl::Duration health_poll = absl::Milliseconds(250);
  // Largest request message accepted (larger: RESOURCE_EXHAUSTED).
  int max_receive_message_bytes = 4 << 20;
  // Source of time for the services; null means the real clock. Not owned.
  Clock* clock = nullptr;
  // The random half of new references; unset, a random generator (see
  // ReferralServiceImpl::Options). Tests set it to make references clash.
  std::function<uint64_t()> reference_random;
  // The Env of the store's files; null means rocksdb::Env::Default(). Tests
  // pass a fault-injecting Env. Not owned; must outlive the server.
  rocksdb::Env* store_env = nullptr;
};

// A running frontdoor server. Thread-safe.
//
// Health (grpc.health.v1): the overall service "" and every hosted service
// are NOT_SERVING until everything is loaded and the port is up, SERVING
// while ready, and NOT_SERVING again when draining or when the store reports
// it is unhealthy (polled every health_poll; a failed store never recovers
// without a restart). /healthz mirrors the overall status.
class FrontdoorServer {
 public:
  // Loads the rule set, directory and store for the selected roles, starts
  // the gRPC server and the HTTP endpoints, and marks everything SERVING.
  // Any load error is returned (nothing is left running).
  static absl::StatusOr<std::unique_ptr<FrontdoorServer>> Start(
      const ServerOptions& options);

  FrontdoorServer(const FrontdoorServer&) = delete;
  FrontdoorServer& operator=(const FrontdoorServer&) = delete;
  // Shuts down (gracefully) if that has not happened yet.
  ~FrontdoorServer();

  // Graceful shutdown: NOT_SERVING, stop background work, stop accepting
  // calls and let in-flight ones finish (at most shutdown_grace, then they
  // are cancelled), stop HTTP, close the store (flushed). Blocks until done;
  // idempotent; later and concurrent calls wait for the first.
  void Shutdown();
  // Blocks until Shutdown has completed.
  void Wait();

  // The bound addresses ("127.0.0.1:50123"); http_address() is "" when HTTP
  // is disabled.
  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& http_address() const { return http_address_; }
  // The one-line start message and a line on how to try it.
  std::string Banner() const;
  // The overall health status ("" service).
  bool serving() const;

  grpc::Server* grpc_server();
  Metrics* metrics();
  // Null when the triage role is not in this process.
  triage::RuleSetHolder* rule_set_holder();
  // Null when the referral role is not in this process. For tests and tools
  // that drive its background work (SweepOnce) deterministically.
  referral::ReferralServiceImpl* referral_service();

 private:
  struct State;
  explicit FrontdoorServer(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
  std::string grpc_address_;
  std::string http_address_;
};

}  // namespace server
}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_SERVER_SERVER_H_
