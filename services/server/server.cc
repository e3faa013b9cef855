#include "services/server/server.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "frontdoor/v1/admin_service.grpc.pb.h"
#include "frontdoor/v1/audit.grpc.pb.h"
#include "frontdoor/v1/auth.grpc.pb.h"
#include "frontdoor/v1/directory_service.grpc.pb.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "frontdoor/v1/triage_service.grpc.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/support/server_interceptor.h"
#include "httplib.h"
#include "services/admin/admin_service.h"
#include "services/audit/audit_service.h"
#include "services/auth/auth_service.h"
#include "services/auth/authorizer.h"
#include "services/auth/client.h"
#include "services/auth/identities.h"
#include "services/common/log.h"
#include "services/directory/directory.h"
#include "services/directory/directory_service.h"
#include "services/gateway/http_gateway.h"
#include "services/portal/portal.h"
#include "services/referral/referral_service.h"
#include "services/server/local_peers.h"
#include "services/server/rpc_metrics.h"
#include "services/server/rule_set_wiring.h"
#include "services/triage/engine/diagnostic.h"
#include "services/triage/engine/loader.h"
#include "services/triage/rule_set_holder.h"
#include "services/triage/triage_service.h"
#include "storage/referral_store.h"

namespace frontdoor::server {
namespace {

constexpr char kStoreHealthyMetric[] = "frontdoor_store_healthy";
constexpr char kRuleSetInfoMetric[] = "frontdoor_rule_set_info";
constexpr char kServingMetric[] = "frontdoor_serving";
// Deadline of each call to a triage or directory role in another process.
constexpr absl::Duration kPeerCallDeadline = absl::Seconds(2);

referral::ReferralServiceImpl::Options ReferralOptions(
    const ServerOptions& options) {
  referral::ReferralServiceImpl::Options o;
  o.reference_random = options.reference_random;
  return o;
}

// Retries for calls to another role's server: only UNAVAILABLE (the call
// was not processed), at most 3 attempts. Each caller sets its own deadline.
constexpr char kRemoteServiceConfig[] = R"json({
  "methodConfig": [{
    "name": [{"service": "frontdoor.v1.TriageService"},
             {"service": "frontdoor.v1.DirectoryService"}],
    "retryPolicy": {
      "maxAttempts": 3,
      "initialBackoff": "0.1s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
})json";

// Live capacity kept in the referral store, so that a RED survives a
// restart. Put is a blocking write (SetCapacity is a rare call by service
// managers; the directory service accepts waiting for it).
class StoreCapacityStore final : public directory::CapacityStore {
 public:
  explicit StoreCapacityStore(storage::ReferralStore* store) : store_(store) {}
  absl::Status Put(const v1::ServiceState& state) override {
    return store_->PutCapacity(state);
  }
  absl::StatusOr<std::vector<v1::ServiceState>> List() override {
    return store_->ListCapacity();
  }

 private:
  storage::ReferralStore* const store_;
};

struct HostPort {
  std::string host;  // without IPv6 brackets
  int port = 0;
};

absl::StatusOr<HostPort> SplitHostPort(absl::string_view address,
                                       absl::string_view flag) {
  const size_t colon = address.rfind(':');
  HostPort hp;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &hp.port) || hp.port < 0 ||
      hp.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": '", address, "' is not host:port (e.g. 127.0.0.1:8080)"));
  }
  absl::string_view host = address.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  hp.host = std::string(host);
  return hp;
}

std::string JoinHostPort(absl::string_view listen, int port) {
  const size_t colon = listen.rfind(':');
  return absl::StrCat(listen.substr(0, colon), ":", port);
}

std::string FirstErrors(const rules::Diagnostics& diags, int max) {
  std::vector<std::string> lines;
  for (const rules::Diagnostic& d : diags.items()) {
    if (d.severity != rules::Diagnostic::Severity::kError) continue;
    if (static_cast<int>(lines.size()) == max) {
      lines.push_back("...");
      break;
    }
    lines.push_back(rules::FormatDiagnostic(d));
  }
  return absl::StrJoin(lines, "\n");
}

}  // namespace

std::string Roles::ToString() const {
  std::vector<absl::string_view> names;
  if (referral) names.push_back("referral");
  if (triage) names.push_back("triage");
  if (directory) names.push_back("directory");
  return absl::StrJoin(names, ",");
}

absl::StatusOr<Roles> ParseRoles(absl::string_view text) {
  Roles roles;
  if (absl::StripAsciiWhitespace(text) == "all") return Roles::All();
  for (absl::string_view name : absl::StrSplit(text, ',')) {
    name = absl::StripAsciiWhitespace(name);
    if (name == "referral") {
      roles.referral = true;
    } else if (name == "triage") {
      roles.triage = true;
    } else if (name == "directory") {
      roles.directory = true;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--roles: unknown role '", name,
          "'; use 'all' or a comma list of referral, triage, directory"));
    }
  }
  if (!roles.any())
    return absl::InvalidArgumentError("--roles: no role selected");
  return roles;
}

// Plaintext, TLS, or TLS requiring a client certificate from the given CA.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const ServerOptions& options) {
  if (options.tls_cert_file.empty() && options.tls_key_file.empty()) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca needs --tls_cert and --tls_key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty())
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  absl::StatusOr<std::string> cert = auth::ReadSmallFile(options.tls_cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = auth::ReadSmallFile(options.tls_key_file);
  if (!key.ok()) return key.status();
  pair.cert_chain = *std::move(cert);
  pair.private_key = *std::move(key);
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!options.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        auth::ReadSmallFile(options.tls_client_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

// Everything a running server owns. Members are destroyed in reverse order:
// the gRPC server before the services registered on it, the services before
// the store and rule set they use.
struct FrontdoorServer::State {
  ServerOptions options;
  Clock* clock = nullptr;
  Metrics metrics;

  // Constant after Start.
  std::shared_ptr<const rules::CompiledRuleSet> initial_rules;
  std::unique_ptr<triage::RuleSetHolder> rules;
  std::unique_ptr<storage::ReferralStore> store;
  std::unique_ptr<StoreCapacityStore> capacity_store;
  std::shared_ptr<directory::Directory> directory;
  std::unique_ptr<triage::TriageServiceImpl> triage_service;
  std::unique_ptr<referral::ReferralServiceImpl> referral_service;
  std::unique_ptr<directory::DirectoryServiceImpl> directory_service;
  std::unique_ptr<admin::AdminServiceImpl> admin_service;
  std::unique_ptr<audit::AuditServiceImpl> audit_service;  // referral role
  // Authentication: constant after Start; outlive every service.
  std::unique_ptr<auth::IdentityStore> identities;
  std::unique_ptr<auth::Authorizer> authorizer;
  std::unique_ptr<auth::AuthServiceImpl> auth_service;
  std::string service_token;  // sent when this process's roles call others
  std::string gateway_secret;  // auth::Authorizer::Options::gateway_secret
  // Of the channels to roles in other processes (options.remote_tls).
  std::shared_ptr<grpc::ChannelCredentials> remote_credentials;
  std::unique_ptr<RuleSetWiring> rule_sets;  // with the triage role
  std::vector<std::string> service_names;  // full names of hosted services
  std::string store_path;

  // The gRPC server; assigned under the lock so that an in-process channel
  // asked for while BuildAndStart runs waits for it.
  absl::Mutex server_mu;
  std::unique_ptr<grpc::Server> server ABSL_GUARDED_BY(server_mu);

  // The JSON API under /api/; outlives `http`, whose handlers call it.
  std::unique_ptr<gateway::HttpGateway> gateway;
  std::unique_ptr<httplib::Server> http;
  std::thread http_thread;
  std::atomic<bool> http_done{false};  // listen_after_bind returned

  // Health.
  mutable absl::Mutex health_mu;
  bool ready ABSL_GUARDED_BY(health_mu) = false;
  bool draining ABSL_GUARDED_BY(health_mu) = false;
  bool store_ok ABSL_GUARDED_BY(health_mu) = true;
  // The last status sent to the health service.
  bool published ABSL_GUARDED_BY(health_mu) = false;
  bool stop_watcher ABSL_GUARDED_BY(health_mu) = false;
  std::thread watcher;

  // Shutdown.
  absl::Mutex shutdown_mu;
  bool shutdown_started ABSL_GUARDED_BY(shutdown_mu) = false;
  bool shutdown_done ABSL_GUARDED_BY(shutdown_mu) = false;

  grpc::Server* GetServer() {
    absl::MutexLock lock(&server_mu);
    return server.get();
  }

  bool Serving() const {
    absl::MutexLock lock(&health_mu);
    return ready && !draining && store_ok;
  }

  // Sends the current status to the health service if it changed.
  void PublishHealth() ABSL_EXCLUSIVE_LOCKS_REQUIRED(health_mu) {
    const bool serving = ready && !draining && store_ok;
    metrics.Set(kServingMetric, {}, serving ? 1 : 0);
    if (serving == published) return;
    grpc::Server* s = GetServer();
    if (s == nullptr || s->GetHealthCheckService() == nullptr) return;
    grpc::HealthCheckServiceInterface* health = s->GetHealthCheckService();
    health->SetServingStatus("", serving);
    for (const std::string& name : service_names)
      health->SetServingStatus(name, serving);
    published = serving;
    if (serving) {
      log::Info("serving", {{"services", absl::StrJoin(service_names, ",")}});
    } else if (draining) {
      log::Info("not serving: draining");
    } else {
      log::Warn("not serving", {{"store_healthy", store_ok}});
    }
  }

  void SetNotServingInitially() {
    grpc::Server* s = GetServer();
    grpc::HealthCheckServiceInterface* health = s->GetHealthCheckService();
    if (health == nullptr) return;
    health->SetServingStatus("", false);
    for (const std::string& name : service_names)
      health->SetServingStatus(name, false);
  }

  void PollStore() ABSL_EXCLUSIVE_LOCKS_REQUIRED(health_mu) {
    if (store == nullptr) return;
    const bool ok = store->healthy();
    metrics.Set(kStoreHealthyMetric, {}, ok ? 1 : 0);
    if (store_ok && !ok) {
      log::Error("store unhealthy; refusing writes until restart",
                 {{"path", store_path}, {"error", store->failure()}});
    }
    store_ok = ok;
  }

  void WatchLoop() {
    absl::MutexLock lock(&health_mu);
    while (!stop_watcher) {
      PollStore();
      PublishHealth();
      health_mu.AwaitWithTimeout(absl::Condition(&stop_watcher),
                                 options.health_poll);
    }
  }

  // A channel to another role's server, carrying this process's service
  // token.
  std::shared_ptr<grpc::Channel> Remote(const std::string& target) {
    grpc::ChannelArguments args;
    args.SetServiceConfigJSON(kRemoteServiceConfig);
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
    return auth::CreateChannelWithToken(target, remote_credentials, args,
                                        service_token);
  }

  // The credentials of Remote(): TLS when options.remote_tls names a CA.
  absl::Status OpenRemoteCredentials() {
    auth::ClientTlsFiles files = options.remote_tls;
    files.flag_prefix = "--remote_tls_";
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
        auth::ClientCredentials(files);
    if (!creds.ok()) return creds.status();
    remote_credentials = *std::move(creds);
    return absl::OkStatus();
  }

  // The identities file, and this process's own service identity.
  absl::Status OpenIdentities() {
    if (options.tokens_file.empty()) {
      return absl::InvalidArgumentError(
          "--tokens_file is required (create one with 'frontdoor admin token "
          "create --tokens_file=FILE --role=admin --principal=NAME')");
    }
    absl::StatusOr<std::unique_ptr<auth::IdentityStore>> opened =
        auth::IdentityStore::Open(options.tokens_file);
    if (!opened.ok()) return opened.status();
    identities = *std::move(opened);
    service_token = options.service_token;
    if (service_token.empty()) {
      absl::StatusOr<auth::NewToken> token = auth::GenerateToken();
      if (!token.ok()) return token.status();
      service_token = token->token;
    }
    const std::string hash = auth::HashToken(service_token);
    if (std::optional<v1::Identity> known = identities->FindByTokenHash(hash)) {
      if (known->role() != v1::ROLE_SERVICE) {
        return absl::InvalidArgumentError(
            "--service_token_file: that token belongs to a principal whose "
            "role is not ROLE_SERVICE");
      }
    } else {
      v1::Identity self;
      self.set_principal("frontdoor-server");
      self.set_role(v1::ROLE_SERVICE);
      self.set_token_sha256(hash);
      if (absl::Status s = identities->AddInMemory(self); !s.ok()) return s;
    }
    // The HTTP gateway's secret: marks its calls as coming over HTTP, and
    // vouches for HTTPS client certificates; never leaves this process.
    absl::StatusOr<auth::NewToken> gateway = auth::GenerateToken();
    if (!gateway.ok()) return gateway.status();
    gateway_secret = gateway->token;
    auth::Authorizer::Options authorizer_options;
    authorizer_options.gateway_secret = gateway_secret;
    authorizer = std::make_unique<auth::Authorizer>(identities.get(), clock,
                                                    authorizer_options);
    auth_service = std::make_unique<auth::AuthServiceImpl>(authorizer.get());
    log::Info("identities loaded", {{"tokens_file", options.tokens_file},
                                    {"identities", identities->size()}});
    return absl::OkStatus();
  }

  // How the referral role reaches triage and the directory: directly when
  // the role is in this process (no serialising, no executor hop, no second
  // validation), otherwise over gRPC with a deadline per call.
  std::unique_ptr<referral::TriageClient> TriageClient() {
    if (triage_service != nullptr)
      return std::make_unique<LocalTriageClient>(triage_service.get());
    return referral::NewGrpcTriageClient(
        [this] { return Remote(options.triage_target); }, kPeerCallDeadline);
  }

  std::unique_ptr<referral::DirectoryClient> DirectoryClient() {
    if (directory != nullptr)
      return std::make_unique<LocalDirectoryClient>(directory);
    return referral::NewGrpcDirectoryClient(
        [this] { return Remote(options.directory_target); }, kPeerCallDeadline);
  }

  absl::Status LoadRules() {
    rules::Diagnostics diags;
    initial_rules =
        rules::LoadRuleSet(options.rules_dir, rules::LoadOptions(), &diags);
    if (initial_rules == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rule set ", options.rules_dir, " has ", diags.error_count(),
          " error(s); see 'frontdoor rules lint ", options.rules_dir, "':\n",
          FirstErrors(diags, 5)));
    }
    const v1::RuleSet& proto = initial_rules->proto();
    int rows = 0;
    for (const v1::Table& t : proto.tables()) rows += t.rows_size();
    log::Info("rule set loaded", {{"rules", options.rules_dir},
                                  {"name", proto.name()},
                                  {"version", initial_rules->version()},
                                  {"tables", proto.tables_size()},
                                  {"rows", rows}});
    rules = std::make_unique<triage::RuleSetHolder>(initial_rules);
    return absl::OkStatus();
  }

  absl::Status OpenStore() {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--data_dir ", options.data_dir, ": cannot create: ", ec.message()));
    }
    store_path =
        (std::filesystem::path(options.data_dir) / "referrals").string();
    storage::ReferralStore::Options store_options;
    store_options.path = store_path;
    store_options.env = options.store_env;
    store_options.clock = clock;  // audit entry times
    absl::StatusOr<std::unique_ptr<storage::ReferralStore>> opened =
        storage::ReferralStore::Open(store_options);
    if (!opened.ok()) {
      return absl::Status(
          opened.status().code(),
          absl::StrCat("store ", store_path, ": ", opened.status().message()));
    }
    store = *std::move(opened);
    log::Info("store opened", {{"path", store_path}});
    return absl::OkStatus();
  }

  absl::Status LoadDirectory() {
    capacity_store = std::make_unique<StoreCapacityStore>(store.get());
    directory::Directory::Options directory_options;
    directory_options.clock = clock;
    directory_options.capacity_store = capacity_store.get();
    absl::StatusOr<std::unique_ptr<directory::Directory>> opened =
        directory::Directory::Open(options.directory_file, directory_options);
    if (!opened.ok()) {
      return absl::Status(opened.status().code(),
                          absl::StrCat("directory ", options.directory_file,
                                       ": ", opened.status().message()));
    }
    directory = std::shared_ptr<directory::Directory>(*std::move(opened));
    log::Info("directory loaded", {{"directory", options.directory_file},
                                   {"name", directory->name()}});
    return absl::OkStatus();
  }

  void DeclareMetrics() {
    metrics.Declare(
        kStoreHealthyMetric, Metrics::Type::kGauge,
        "1 while the referral store accepts writes, 0 once it has failed.", {});
    metrics.Declare(kServingMetric, Metrics::Type::kGauge,
                    "1 while the server reports SERVING on its health service.",
                    {});
    metrics.Declare(kRuleSetInfoMetric, Metrics::Type::kGauge,
                    "The active rule set (value 1; earlier sets 0).",
                    {"name", "version"});
    if (rules != nullptr) {
      // Follows the holder, so a swapped rule set shows up at the next scrape.
      struct Last {
        absl::Mutex mu;
        LabelValues labels ABSL_GUARDED_BY(mu);
      };
      auto last = std::make_shared<Last>();
      triage::RuleSetHolder* holder = rules.get();
      metrics.AddCollector([holder, last](Metrics& m) {
        auto rs = holder->Get();
        LabelValues now = {rs->proto().name(), rs->version()};
        absl::MutexLock lock(&last->mu);
        if (now == last->labels) return;
        if (!last->labels.empty()) m.Set(kRuleSetInfoMetric, last->labels, 0);
        m.Set(kRuleSetInfoMetric, now, 1);
        last->labels = std::move(now);
      });
    }
  }

  absl::Status StartHttp(std::string* bound) {
    if (options.http_listen.empty()) return absl::OkStatus();
    absl::StatusOr<HostPort> hp =
        SplitHostPort(options.http_listen, "--http_listen");
    if (!hp.ok()) return hp.status();
    // HTTPS whenever any TLS file is given (a missing one makes the server
    // invalid, refused below), requiring client certificates with a CA.
    if (!options.tls_cert_file.empty() || !options.tls_key_file.empty() ||
        !options.tls_client_ca_file.empty()) {
      http = std::make_unique<httplib::SSLServer>(
          options.tls_cert_file.c_str(), options.tls_key_file.c_str(),
          options.tls_client_ca_file.empty()
              ? nullptr
              : options.tls_client_ca_file.c_str());
    } else {
      http = std::make_unique<httplib::Server>();
    }
    if (!http->is_valid()) {
      http.reset();
      return absl::InvalidArgumentError(
          "--tls_cert, --tls_key, --tls_client_ca: cannot load them for "
          "HTTPS (PEM files; cert and key go together)");
    }
    // API calls wait for the services; httplib's default pool is small.
    http->new_task_queue = [] { return new httplib::ThreadPool(16); };
    http->set_read_timeout(5, 0);
    http->set_write_timeout(5, 0);
    http->Get("/metrics",
              [this](const httplib::Request&, httplib::Response& res) {
                res.set_content(metrics.Render(), "text/plain; version=0.0.4");
              });
    http->Get("/healthz", [this](const httplib::Request&,
                                 httplib::Response& res) {
      const bool serving = Serving();
      res.status = serving ? 200 : 503;
      res.set_content(serving ? "SERVING\n" : "NOT_SERVING\n", "text/plain");
    });
    portal::RegisterPortal(*http);
    // The gateway forwards each call with the HTTP caller's credentials
    // only, never with this process's service token (which would let an
    // anonymous HTTP caller act as ROLE_SERVICE). HTTP starts before gRPC,
    // so the channel is made on first use.
    gateway::HttpGatewayOptions gateway_options;
    gateway_options.services = service_names;
    gateway_options.gateway_secret = gateway_secret;
    gateway = std::make_unique<gateway::HttpGateway>(
        [this]() -> std::shared_ptr<grpc::Channel> {
          absl::MutexLock lock(&server_mu);
          if (server == nullptr) return nullptr;
          return server->InProcessChannel(grpc::ChannelArguments());
        },
        std::move(gateway_options));
    gateway->Register(*http);
    int port = hp->port;
    if (port == 0) {
      port = http->bind_to_any_port(hp->host);
    } else if (!http->bind_to_port(hp->host, port)) {
      port = -1;
    }
    if (port <= 0) {
      http.reset();
      return absl::UnavailableError(absl::StrCat(
          "--http_listen: cannot listen on ", options.http_listen));
    }
    *bound = JoinHostPort(options.http_listen, port);
    http_thread = std::thread([this] {
      http->listen_after_bind();
      http_done.store(true);
    });
    // httplib's stop() does nothing until the server loop is running, so a
    // stop() racing with the start would leave the thread running forever.
    while (!http->is_running() && !http_done.load())
      absl::SleepFor(absl::Milliseconds(1));
    return absl::OkStatus();
  }

  absl::Status StartGrpc(std::string* bound) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    int port = 0;
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        GrpcServerCredentials(options);
    if (!credentials.ok()) return credentials.status();
    builder.AddListeningPort(options.listen, *credentials, &port);
    builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
    // gRPC sets SO_REUSEPORT by default, which would let a second server
    // bind the same port and silently share its traffic. Fail instead.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        creators;
    creators.push_back(NewRpcMetricsInterceptorFactory(&metrics));
    builder.experimental().SetInterceptorCreators(std::move(creators));
    if (triage_service != nullptr)
      builder.RegisterService(triage_service.get());
    if (referral_service != nullptr)
      builder.RegisterService(referral_service.get());
    if (directory_service != nullptr)
      builder.RegisterService(directory_service.get());
    if (admin_service != nullptr) builder.RegisterService(admin_service.get());
    if (audit_service != nullptr) builder.RegisterService(audit_service.get());
    builder.RegisterService(auth_service.get());
    if (rule_sets != nullptr) builder.RegisterService(rule_sets->service());
    {
      absl::MutexLock lock(&server_mu);
      server = builder.BuildAndStart();
      if (server == nullptr || port == 0) {
        server.reset();
        return absl::UnavailableError(
            absl::StrCat("--listen: cannot listen on ", options.listen));
      }
    }
    *bound = JoinHostPort(options.listen, port);
    return absl::OkStatus();
  }

  // Stops whatever has been started, in the shutdown order. Safe on a
  // partially started server.
  void Teardown() {
    {
      absl::MutexLock lock(&health_mu);
      draining = true;
      PublishHealth();
    }
    if (rule_sets != nullptr) rule_sets->Stop();  // no more hot reloads
    if (referral_service != nullptr) {
      referral_service->StopBackground();
      log::Info("referral background stopped");
    }
    if (grpc::Server* s = GetServer(); s != nullptr) {
      const absl::Time start = absl::Now();
      const auto deadline = std::chrono::system_clock::now() +
                            absl::ToChronoMilliseconds(options.shutdown_grace);
      s->Shutdown(deadline);
      s->Wait();
      log::Info("grpc server stopped",
                {{"drain_seconds", absl::Now() - start}});
    }
    {
      absl::MutexLock lock(&health_mu);
      stop_watcher = true;
    }
    if (watcher.joinable()) watcher.join();
    if (http != nullptr) {
      http->stop();
      if (http_thread.joinable()) http_thread.join();
    }
    if (store != nullptr) {
      store->Close();
      log::Info("store closed", {{"path", store_path}});
    }
  }
};

absl::StatusOr<std::unique_ptr<FrontdoorServer>> FrontdoorServer::Start(
    const ServerOptions& options) {
  if (!options.roles.any())
    return absl::InvalidArgumentError("--roles: no role selected");
  if (options.roles.referral && !options.roles.triage &&
      options.triage_target.empty()) {
    return absl::InvalidArgumentError(
        "--triage_target is required when the referral role runs without the "
        "triage role");
  }
  if (options.roles.referral && !options.roles.directory &&
      options.directory_target.empty()) {
    return absl::InvalidArgumentError(
        "--directory_target is required when the referral role runs without "
        "the directory role");
  }
  if (options.max_receive_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        "max_receive_message_bytes must be positive");
  }
  {
    absl::StatusOr<HostPort> hp = SplitHostPort(options.listen, "--listen");
    if (!hp.ok()) return hp.status();
  }

  auto state = std::make_unique<State>();
  State& st = *state;
  st.options = options;
  st.clock = options.clock != nullptr ? options.clock : RealClock::Get();
  log::Info("starting", {{"roles", options.roles.ToString()},
                         {"listen", options.listen},
                         {"http_listen", options.http_listen},
                         {"data_dir", options.data_dir}});

  std::unique_ptr<FrontdoorServer> server(
      new FrontdoorServer(std::move(state)));
  auto fail =
      [&server](
          absl::Status s) -> absl::StatusOr<std::unique_ptr<FrontdoorServer>> {
    log::Error("start failed", {{"error", s}});
    server->state_->Teardown();
    {
      absl::MutexLock lock(&server->state_->shutdown_mu);
      server->state_->shutdown_started = server->state_->shutdown_done = true;
    }
    return s;
  };

  if (absl::Status s = st.OpenIdentities(); !s.ok()) return fail(s);
  if (absl::Status s = st.OpenRemoteCredentials(); !s.ok()) return fail(s);
  // Load everything the selected roles need before listening.
  if (options.roles.triage) {
    if (absl::Status s = st.LoadRules(); !s.ok()) return fail(s);
    st.triage_service = std::make_unique<triage::TriageServiceImpl>(
        st.rules.get(), st.clock, &st.metrics, st.authorizer.get());
    st.service_names.push_back(v1::TriageService::service_full_name());
    RuleSetWiring::Deps deps{st.rules.get(), st.triage_service.get(),
                             [&st] { return st.store.get(); }, st.clock,
                             &st.metrics, st.authorizer.get()};
    if (absl::Status s =
            StartRuleSets(options, deps, &st.rule_sets, &st.service_names);
        !s.ok()) {
      return fail(s);
    }
  }
  if (options.roles.referral || options.roles.directory) {
    if (absl::Status s = st.OpenStore(); !s.ok()) return fail(s);
    // Operations on the store (online backup) go with the store.
    st.admin_service =
        std::make_unique<admin::AdminServiceImpl>(st.store.get(),
                                                  st.authorizer.get());
    st.service_names.push_back(v1::AdminService::service_full_name());
  }
  if (options.roles.directory) {
    if (absl::Status s = st.LoadDirectory(); !s.ok()) return fail(s);
    st.directory_service =
        directory::NewDirectoryService(st.directory, st.authorizer.get());
    st.service_names.push_back(v1::DirectoryService::service_full_name());
  }
  if (options.roles.referral) {
    st.referral_service = std::make_unique<referral::ReferralServiceImpl>(
        st.store.get(), st.TriageClient(), st.DirectoryClient(), st.clock,
        &st.metrics, st.authorizer.get(), ReferralOptions(options));
    st.service_names.push_back(v1::ReferralService::service_full_name());
    // The audit trail records the referral role's reads and writes.
    st.audit_service =
        std::make_unique<audit::AuditServiceImpl>(st.store.get(),
                                                  st.authorizer.get());
    st.service_names.push_back(v1::AuditService::service_full_name());
  }
  st.service_names.push_back(v1::AuthService::service_full_name());
  // A hosted RPC without a declared permission must not ship.
  if (absl::Status s = auth::CheckDeclared(st.service_names); !s.ok())
    return fail(s);
  st.DeclareMetrics();

  if (absl::Status s = st.StartHttp(&server->http_address_); !s.ok())
    return fail(s);
  if (absl::Status s = st.StartGrpc(&server->grpc_address_); !s.ok())
    return fail(s);
  st.SetNotServingInitially();
  log::Info("listening",
            {{"grpc", server->grpc_address_}, {"http", server->http_address_}});

  if (st.referral_service != nullptr) st.referral_service->StartBackground();
  {
    absl::MutexLock lock(&st.health_mu);
    st.ready = true;
    st.PollStore();
    st.PublishHealth();
  }
  st.watcher = std::thread([&st] { st.WatchLoop(); });
  return server;
}

FrontdoorServer::FrontdoorServer(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

FrontdoorServer::~FrontdoorServer() { Shutdown(); }

void FrontdoorServer::Shutdown() {
  State& st = *state_;
  {
    absl::MutexLock lock(&st.shutdown_mu);
    if (st.shutdown_started) {
      st.shutdown_mu.Await(absl::Condition(&st.shutdown_done));
      return;
    }
    st.shutdown_started = true;
  }
  log::Info("shutting down", {{"grace", st.options.shutdown_grace}});
  st.Teardown();
  log::Info("stopped");
  absl::MutexLock lock(&st.shutdown_mu);
  st.shutdown_done = true;
}

void FrontdoorServer::Wait() {
  absl::MutexLock lock(&state_->shutdown_mu);
  state_->shutdown_mu.Await(absl::Condition(&state_->shutdown_done));
}

std::string FrontdoorServer::Banner() const {
  const State& st = *state_;
  std::string rules = "remote";
  if (st.initial_rules != nullptr) {
    auto rs = st.rules->Get();
    rules = absl::StrCat(rs->proto().name(), "@", rs->version().substr(0, 12));
  } else if (!st.options.triage_target.empty()) {
    rules = absl::StrCat(
        "remote(", st.options.remote_tls.ca_file.empty() ? "" : "grpcs://",
        st.options.triage_target, ")");
  }
  // With --tls_cert both ports speak TLS only; the banner says so, and how
  // to reach them.
  const bool tls = !st.options.tls_cert_file.empty();
  const char* grpc_scheme = tls ? "grpcs://" : "grpc://";
  const char* http_scheme = tls ? "https://" : "http://";
  std::string line = absl::StrCat(
      "frontdoor-server listening on ", grpc_scheme, grpc_address_,
      http_address_.empty()
          ? ""
          : absl::StrCat(" (", http_scheme, http_address_, ")"),
      " roles=", st.options.roles.ToString(), " rules=", rules,
      " data=", st.store != nullptr ? st.options.data_dir : "none");
  absl::StrAppend(&line,
                  "\n  try: frontdoor submit "
                  "examples/referrals/news2-7-acute-deterioration.json"
                  " --server=",
                  grpc_address_, tls ? " --tls_ca=CA.pem" : "",
                  " (with FRONTDOOR_TOKEN_FILE set)");
  if (!http_address_.empty()) {
    absl::StrAppend(&line, "\n       curl ", tls ? "--cacert CA.pem " : "",
                    http_scheme, http_address_, "/metrics");
  }
  return line;
}

bool FrontdoorServer::serving() const { return state_->Serving(); }

grpc::Server* FrontdoorServer::grpc_server() { return state_->GetServer(); }

Metrics* FrontdoorServer::metrics() { return &state_->metrics; }

triage::RuleSetHolder* FrontdoorServer::rule_set_holder() {
  return state_->rules.get();
}

referral::ReferralServiceImpl* FrontdoorServer::referral_service() {
  return state_->referral_service.get();
}

}  // namespace frontdoor::server
