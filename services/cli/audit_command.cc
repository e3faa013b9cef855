#include "services/cli/audit_command.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "frontdoor/v1/audit.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "services/common/grpc_status.h"
#include "services/common/proto_time.h"
#include "storage/referral_store.h"

namespace frontdoor::cli {
namespace {

namespace fs = std::filesystem;
using Kind = FlagSpec::Kind;

constexpr int kMaxPageSize = 1000;  // AuditService's largest page
constexpr int kDefaultLimit = 1000;

constexpr absl::string_view kUsage =
    R"(usage: frontdoor audit <command> [arguments]

  verify [--data_dir=DIR] [--expect_head=ENTRIES:HASH]
        walk the whole audit trail: each entry's hash, the links between
        entries, their order and times, and the indexes. Prints the entries
        checked and the head hash, or the first bad entry and what is wrong
        with it. The chain alone cannot show that entries were removed from
        its end, or that it was written again with every hash recomputed:
        keep the "keep:" line a verify prints somewhere else, and pass it
        to a later verify as --expect_head, which then also fails unless
        the trail still holds that many entries, the last with that hash.
        Through the server; with --data_dir, the store in DIR (the server's
        --data_dir, or a store restored from a backup) read directly, with
        no server running on it.
  query [--nhs_number=N | --principal=NAME | --referral=REF]
        [--from=TIME] [--to=TIME] [--limit=N]
        the entries for one patient, user or referral (or all), oldest
        first, from TIME (inclusive) to TIME (exclusive), both RFC 3339
        (2026-01-15T09:00:00Z); at most --limit entries (default 1000).
        One line per entry; with --json, one JSON object per line.

Common options: --server=HOST:PORT (default $FRONTDOOR_SERVER, else
127.0.0.1:50051), --json, --timeout=DURATION (default 10s; 10m for verify).
Exit status: 0 success (verify: the trail is intact), 1 tampering found or
an error, 2 usage errors.
)";

int Usage(const Io& io, absl::string_view verb, absl::string_view message) {
  io.err << "frontdoor audit " << verb << ": " << message << "\n\n" << kUsage;
  return kExitUsage;
}

int Fail(const Io& io, absl::string_view verb, const absl::Status& s,
         absl::string_view server) {
  io.err << "frontdoor audit " << verb << ": "
         << absl::StatusCodeToString(s.code()) << ": " << s.message();
  if (s.code() == absl::StatusCode::kUnavailable && !server.empty()) {
    io.err << " (is frontdoor-server running at " << server << "?)";
  }
  io.err << "\n";
  return kExitFindings;
}

// One line of JSON (proto field names), for line-oriented tools.
std::string JsonLine(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) {
    out = "{}";
  }
  return out + "\n";
}

std::string OrDash(absl::string_view s) {
  return s.empty() ? "-" : std::string(s);
}

// The referral store of a data directory (the server keeps it in
// referrals/), or DIR itself, e.g. a store restored from a backup.
std::string StoreIn(const std::string& dir) {
  std::error_code ec;
  const fs::path nested = fs::path(dir) / "referrals";
  return fs::exists(nested / "CURRENT", ec) ? nested.string() : dir;
}

class AuditClient {
 public:
  explicit AuditClient(const CommonOptions& opts)
      : opts_(opts),
        stub_(v1::AuditService::NewStub(
            OpenChannel(opts, grpc::ChannelArguments()))) {}

  absl::Status Verify(const v1::VerifyAuditRequest& request,
                      v1::VerifyAuditResponse* response) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return FromGrpcStatus(stub_->Verify(&ctx, request, response));
  }

  absl::Status Query(const v1::QueryAuditRequest& request,
                     v1::QueryAuditResponse* response) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return FromGrpcStatus(stub_->Query(&ctx, request, response));
  }

 private:
  void SetDeadline(grpc::ClientContext* ctx) const {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(opts_.timeout));
  }

  const CommonOptions& opts_;
  std::unique_ptr<v1::AuditService::Stub> stub_;
};

// --expect_head=ENTRIES:HASH (64 hex digits), as a verify's "keep:" line
// prints it.
absl::Status ParseExpectHead(const std::string& text,
                             v1::VerifyAuditRequest* request) {
  const std::vector<std::string> parts = absl::StrSplit(text, ':');
  uint64_t entries = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &entries) ||
      entries == 0 || parts[1].size() != 64 ||
      !std::all_of(parts[1].begin(), parts[1].end(),
                   [](char c) { return absl::ascii_isxdigit(c); })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--expect_head: '", text,
        "' is not ENTRIES:HASH (a count, then 64 hex digits), as a verify's "
        "\"keep:\" line prints it"));
  }
  request->set_known_entries(entries);
  request->set_known_head_hash(absl::HexStringToBytes(parts[1]));
  return absl::OkStatus();
}

int Verify(const ParsedArgs& args, const CommonOptions& opts, const Io& io) {
  v1::VerifyAuditRequest request;
  if (args.Has("--expect_head")) {
    if (absl::Status s = ParseExpectHead(args.Get("--expect_head"), &request);
        !s.ok()) {
      return Usage(io, "verify", s.message());
    }
  }
  absl::StatusOr<v1::VerifyAuditResponse> result;
  std::string server;
  if (args.Has("--data_dir")) {
    result =
        storage::VerifyAuditOffline(StoreIn(args.Get("--data_dir")), request);
  } else {
    server = opts.server;
    v1::VerifyAuditResponse response;
    absl::Status s = AuditClient(opts).Verify(request, &response);
    result = s.ok() ? absl::StatusOr<v1::VerifyAuditResponse>(response) : s;
  }
  if (!result.ok()) return Fail(io, "verify", result.status(), server);
  io.out << (opts.json ? JsonLine(*result) : FormatVerifyResult(*result));
  return result->ok() ? kExitOk : kExitFindings;
}

// RFC 3339 (2026-01-15T09:00:00Z, or with an offset).
absl::StatusOr<google::protobuf::Timestamp> ParseTimeFlag(
    absl::string_view flag, const std::string& text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", text,
                     "' is not an RFC 3339 time (e.g. 2026-01-15T09:00:00Z)"));
  }
  return ToProtoTime(t);
}

int Query(const ParsedArgs& args, const CommonOptions& opts, const Io& io) {
  v1::QueryAuditRequest request;
  request.set_nhs_number(args.Get("--nhs_number"));
  request.set_principal(args.Get("--principal"));
  request.set_referral_id(args.Get("--referral"));
  if (args.Has("--nhs_number") + args.Has("--principal") +
          args.Has("--referral") >
      1) {
    return Usage(io, "query",
                 "give at most one of --nhs_number, --principal and "
                 "--referral");
  }
  if (args.Has("--from")) {
    absl::StatusOr<google::protobuf::Timestamp> from =
        ParseTimeFlag("--from", args.Get("--from"));
    if (!from.ok()) return Usage(io, "query", from.status().message());
    *request.mutable_from() = *from;
  }
  if (args.Has("--to")) {
    absl::StatusOr<google::protobuf::Timestamp> to =
        ParseTimeFlag("--to", args.Get("--to"));
    if (!to.ok()) return Usage(io, "query", to.status().message());
    *request.mutable_to() = *to;
  }
  int limit = kDefaultLimit;
  if (args.Has("--limit") &&
      (!absl::SimpleAtoi(args.Get("--limit"), &limit) || limit < 1)) {
    return Usage(io, "query", "--limit: expected a positive number");
  }

  AuditClient client(opts);
  std::vector<v1::AuditEntry> entries;
  do {
    request.set_page_size(
        std::min(kMaxPageSize, limit - static_cast<int>(entries.size())));
    v1::QueryAuditResponse page;
    if (absl::Status s = client.Query(request, &page); !s.ok()) {
      return Fail(io, "query", s, opts.server);
    }
    for (v1::AuditEntry& e : *page.mutable_entries()) {
      entries.push_back(std::move(e));
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty() &&
           entries.size() < static_cast<size_t>(limit));

  const bool more = !request.page_token().empty();
  if (opts.json) {
    for (const v1::AuditEntry& e : entries) io.out << JsonLine(e);
    // Keeps standard output all JSON.
    if (more) io.err << "(more: --limit=" << limit * 2 << ")\n";
    return kExitOk;
  }
  io.out << FormatAuditEntries(entries);
  if (more) io.out << "(more: --limit=" << limit * 2 << ")\n";
  return kExitOk;
}

}  // namespace

bool IsAuditCommand(const std::vector<std::string>& args) {
  return !args.empty() && args[0] == "audit";
}

int RunAudit(const std::vector<std::string>& args, const Io& io,
             const ClientEnv& env) {
  if (args.size() < 2) {
    io.err << "frontdoor audit: missing command\n\n" << kUsage;
    return kExitUsage;
  }
  const std::string& verb = args[1];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    io.out << kUsage;
    return kExitOk;
  }
  std::vector<FlagSpec> flags = ConnectionFlags();
  if (verb == "verify") {
    flags.push_back({"--data_dir", Kind::kValue});
    flags.push_back({"--expect_head", Kind::kValue});
  } else if (verb == "query") {
    for (const char* name : {"--nhs_number", "--principal", "--referral",
                             "--from", "--to", "--limit"}) {
      flags.push_back({name, Kind::kValue});
    }
  } else {
    io.err << "frontdoor audit: unknown command '" << verb << "'\n\n" << kUsage;
    return kExitUsage;
  }
  absl::StatusOr<ParsedArgs> parsed = ParseFlags(args, 2, flags);
  if (!parsed.ok()) return Usage(io, verb, parsed.status().message());
  if (parsed->help) {
    io.out << kUsage;
    return kExitOk;
  }
  if (!parsed->positional.empty()) {
    return Usage(
        io, verb,
        absl::StrCat("unexpected argument '", parsed->positional[0], "'"));
  }
  // A walk of a long trail takes minutes.
  if (verb == "verify" && !parsed->Has("--timeout")) {
    parsed->flags["--timeout"] = {"10m"};
  }
  absl::StatusOr<CommonOptions> opts = ResolveCommonOptions(*parsed, env);
  if (!opts.ok()) return Usage(io, verb, opts.status().message());
  return verb == "verify" ? Verify(*parsed, *opts, io)
                          : Query(*parsed, *opts, io);
}

std::string FormatVerifyResult(const v1::VerifyAuditResponse& result) {
  const std::string head = result.head_hash().empty()
                               ? std::string("- (no entries)")
                               : absl::BytesToHexString(result.head_hash());
  if (result.ok()) {
    std::string out = absl::StrCat("audit trail intact\nentries checked: ",
                                   result.entries(), "\nhead hash: ", head,
                                   "\n");
    if (result.entries() > 0) {
      absl::StrAppend(&out, "keep: --expect_head=", result.entries(), ":",
                      absl::BytesToHexString(result.head_hash()), "\n");
    }
    return out;
  }
  return absl::StrCat(
      "audit trail TAMPERED WITH\nfirst bad entry: ", result.first_bad_seq(),
      "\nproblem: ", result.problem(), "\nentries checked: ", result.entries(),
      " (intact before the first bad entry)\nhead hash: ", head,
      " (of the last intact entry)\n");
}

std::string FormatAuditEntries(const std::vector<v1::AuditEntry>& entries) {
  if (entries.empty()) return "no audit entries\n";
  std::vector<std::vector<std::string>> rows = {{"SEQ", "TIME", "PRINCIPAL",
                                                 "ROLE", "ACTION", "REFERRAL",
                                                 "OUTCOME", "REQUEST ID"}};
  for (const v1::AuditEntry& e : entries) {
    absl::string_view role = e.role();
    absl::ConsumePrefix(&role, "ROLE_");
    absl::string_view action = e.action();
    absl::ConsumePrefix(&action, "/frontdoor.v1.");
    rows.push_back(
        {absl::StrCat(e.seq()),
         absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", FromProtoTime(e.time()),
                          absl::UTCTimeZone()),
         OrDash(e.principal()), OrDash(role), OrDash(action),
         OrDash(e.referral_id()), OrDash(e.outcome()), OrDash(e.request_id())});
  }
  return FormatTable(rows);
}

}  // namespace frontdoor::cli
