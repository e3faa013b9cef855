// frontdoor-echo: the bare baseline for frontdoor-load. One unary Echo
// method on gRPC's callback API that answers at once, built with the same
// gRPC library, compiler flags and server settings as frontdoor-server
// (health service, no SO_REUSEPORT, 4 MiB message limit), so that
// `frontdoor-load --rpc=echo` measures what gRPC alone costs on this machine.
//
//   frontdoor-echo [--listen=127.0.0.1:0]
//
// Prints "frontdoor-echo listening on HOST:PORT" once serving; SIGTERM or
// SIGINT stops it (exit 0).

#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "tests/load/echo.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "gRPC listen address (host:port; port 0 picks one)");

namespace {

class EchoServiceImpl final : public frontdoor::echo::v1::EchoService::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx,
                                 const frontdoor::echo::v1::EchoRequest* request,
                                 frontdoor::echo::v1::EchoResponse* response) override {
    response->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

std::string HostOf(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  return colon == std::string::npos ? listen : listen.substr(0, colon);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Bare gRPC echo server, the baseline of frontdoor-load.\n"
                               "  frontdoor-echo [--listen=127.0.0.1:0]");
  absl::ParseCommandLine(argc, argv);
  // As in frontdoor-server (main.cc): no lock-graph bookkeeping under load.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  grpc::EnableDefaultHealthCheckService(true);
  EchoServiceImpl service;
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(4 << 20);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "frontdoor-echo: cannot listen on " << listen << "\n";
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus(
      frontdoor::echo::v1::EchoService::service_full_name(), true);
  std::cout << "frontdoor-echo listening on " << HostOf(listen) << ":" << port << std::endl;

  std::thread signal_thread([&server, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  });
  server->Wait();
  signal_thread.join();
  return 0;
}
