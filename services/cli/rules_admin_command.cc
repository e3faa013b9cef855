#include "services/cli/rules_admin_command.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "frontdoor/v1/rule_set_service.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "services/common/grpc_status.h"
#include "services/common/proto_time.h"
#include "services/rulesets/replay.h"
#include "services/rulesets/region_diff.h"
#include "services/rulesets/row_diff.h"
#include "services/rulesets/rule_files.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/diagnostic.h"
#include "services/triage/engine/loader.h"

namespace frontdoor::cli {
namespace {

namespace fs = std::filesystem;
using Kind = FlagSpec::Kind;

// Rule sets with their files can be larger than gRPC's 4 MiB default.
constexpr int kMaxResponseBytes = 64 << 20;

constexpr absl::string_view kUsage =
    R"(usage: frontdoor rules <command> [arguments]   (rule set versions on the server)

  versions [--limit=N]        the stored versions, newest first (default 20)
  show VERSION                a version: state, who/when, validation, history
  active                      the version in force
  validate DIR                validate a local directory on the server (lint,
                              analysis, tests); nothing is stored
  propose DIR [--comment=TEXT] [--commit=SHA]
                              store DIR's rule set as a version waiting for
                              approval (stored INVALID if it fails validation)
  approve VERSION [--comment=TEXT]
                              approve a proposed version (someone other than
                              its proposer)
  activate VERSION --reason=TEXT [--acknowledge-downgrades]
                              put an approved version in force, atomically
  rollback VERSION --reason=TEXT
                              go back to an earlier active version
  diff OLD NEW [--regions]    rows added, removed and changed; OLD and NEW are
                              versions, "active", or local directories (two
                              directories need no server); --regions: also
                              the input regions whose decision changes, each
                              with an example referral
  replay VERSION [--after=RFC3339] [--before=RFC3339] [--pathway=P] [--limit=N]
                              re-decide the stored referrals with a candidate:
                              what would change, downgrades first (progress
                              on stderr; nothing is changed but the
                              candidate's count of known downgrades)
  shadow start VERSION        also decide live referrals with a candidate
                              (the active version still decides)
  shadow stop                 stop shadowing
  shadow report               what the shadowed candidate would have changed

VERSION is a version id or a unique prefix of at least 8 hex digits.
Changes are recorded as made by the caller your token names.
Common options: --server=HOST:PORT (default $FRONTDOOR_SERVER, else
127.0.0.1:50051), --json, --timeout=DURATION (default 10s).
Exit status: 0 success, 1 an error from the server or a rule set that fails
validation, 2 usage errors.
)";

// Verb::positionals for a verb that checks its own arguments.
constexpr int kPositionalsChecked = -1;

struct Verb {
  const char* name;
  std::vector<FlagSpec> flags;
  bool changes;      // takes --actor
  int positionals;   // exact number, or kPositionalsChecked
  const char* args;  // for messages: "VERSION", "DIR", ...
};

const std::vector<Verb>& Verbs() {
  static const std::vector<Verb>* verbs = new std::vector<Verb>{
      {"versions", {{"--limit", Kind::kValue}}, false, 0, ""},
      {"show", {}, false, 1, "VERSION"},
      {"active", {}, false, 0, ""},
      {"validate", {}, false, 1, "DIR"},
      {"propose",
       {{"--comment", Kind::kValue}, {"--commit", Kind::kValue}},
       true,
       1,
       "DIR"},
      {"approve", {{"--comment", Kind::kValue}}, true, 1, "VERSION"},
      {"activate",
       {{"--reason", Kind::kValue}, {"--acknowledge-downgrades", Kind::kBool}},
       true,
       1,
       "VERSION"},
      {"rollback", {{"--reason", Kind::kValue}}, true, 1, "VERSION"},
      {"diff", {{"--regions", Kind::kBool}}, false, 2, "OLD NEW"},
      {"replay",
       {{"--after", Kind::kValue},
        {"--before", Kind::kValue},
        {"--pathway", Kind::kValue},
        {"--limit", Kind::kValue}},
       false,
       1,
       "VERSION"},
      // start/stop take --actor; checked by the verb, as are its arguments.
      {"shadow",
       {{"--actor", Kind::kValue}},
       false,
       kPositionalsChecked,
       "start VERSION | stop | report"},
  };
  return *verbs;
}

int Usage(const Io& io, absl::string_view verb, absl::string_view message) {
  io.err << "frontdoor rules " << verb << ": " << message << "\n\n" << kUsage;
  return kExitUsage;
}

std::string Json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) {
    return "{}\n";
  }
  if (out.empty() || out.back() != '\n') out += "\n";
  return out;
}

std::string Short(absl::string_view id) {
  return std::string(id.substr(0, 12));
}

std::string OrDash(absl::string_view s) {
  return s.empty() ? "-" : std::string(s);
}

std::string When(const google::protobuf::Timestamp& ts) {
  return ts.seconds() == 0 && ts.nanos() == 0 ? "-" : FormatLocalTime(ts, true);
}

// One call's plumbing: the stub, deadlines, and error printing.
class Client {
 public:
  explicit Client(const CommonOptions& opts) : opts_(opts) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxResponseBytes);
    channel_ = OpenChannel(opts, args);
    stub_ = v1::RuleSetService::NewStub(channel_);
  }

  template <typename Req, typename Resp>
  absl::Status Call(grpc::Status (v1::RuleSetService::Stub::*method)(
                        grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     absl::ToChronoMilliseconds(opts_.timeout));
    return Finish(((*stub_).*method)(&ctx, req, resp));
  }

  // Replay: `on_progress` for each message as it arrives. A deadline only
  // when `deadline` (--timeout given): a replay of a large store can take
  // minutes, and it streams progress meanwhile.
  template <typename F>
  absl::Status Replay(const v1::ReplayRequest& req, bool deadline,
                      F on_progress) {
    grpc::ClientContext ctx;
    if (deadline) {
      ctx.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(opts_.timeout));
    }
    std::unique_ptr<grpc::ClientReader<v1::ReplayProgress>> reader =
        stub_->Replay(&ctx, req);
    v1::ReplayProgress progress;
    while (reader->Read(&progress)) on_progress(progress);
    return Finish(reader->Finish());
  }

  // Prints a failed call's error; returns kExitFindings.
  int Fail(const absl::Status& s, const Io& io) const {
    const std::string code = absl::StatusCodeToString(s.code());
    if (unreachable_) {
      io.err << "frontdoor: " << code << ": cannot reach frontdoor-server at "
             << opts_.server << " (is it running?)\n";
    } else {
      io.err << "frontdoor: " << code << ": "
             << (s.message().empty() ? "(no message from the server)"
                                     : s.message())
             << "\n";
    }
    return kExitFindings;
  }

 private:
  const CommonOptions& opts_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RuleSetService::Stub> stub_;
  bool unreachable_ = false;

  absl::Status Finish(const grpc::Status& s) {
    unreachable_ = !s.ok() &&
                   (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                    s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) &&
                   channel_->GetState(false) != GRPC_CHANNEL_READY;
    return FromGrpcStatus(s);
  }
};

struct Run {
  const Verb& verb;
  const ParsedArgs& args;
  const CommonOptions& opts;
  const Io& io;
  Client& client;

  const std::string& arg(int i) const { return args.positional[i]; }
};

int PrintVersionOrJson(const Run& r, const v1::RuleSetVersion& v) {
  r.io.out << (r.opts.json ? Json(v) : FormatVersion(v));
  return kExitOk;
}

// The files of a local directory, or a usage error printed.
std::optional<std::vector<v1::RuleFile>> LocalFiles(const Run& r,
                                                    const std::string& dir) {
  absl::StatusOr<std::vector<v1::RuleFile>> files =
      rulesets::ReadRuleFiles(dir);
  if (!files.ok()) {
    Usage(r.io, r.verb.name, files.status().message());
    return std::nullopt;
  }
  if (files->empty()) {
    Usage(r.io, r.verb.name,
          absl::StrCat(dir, ": no rule files (*.yaml) in the directory"));
    return std::nullopt;
  }
  return *std::move(files);
}

// --- The verbs ---------------------------------------------------------------

int Versions(const Run& r) {
  int limit = 20;
  if (r.args.Has("--limit")) {
    if (!absl::SimpleAtoi(r.args.Get("--limit"), &limit) || limit < 1) {
      return Usage(r.io, "versions", "--limit: expected a positive number");
    }
  }
  v1::ListRuleSetVersionsResponse all;
  v1::ListRuleSetVersionsRequest req;
  do {
    req.set_page_size(std::min(100, limit - all.versions_size()));
    v1::ListRuleSetVersionsResponse page;
    if (absl::Status s =
            r.client.Call(&v1::RuleSetService::Stub::ListVersions, req, &page);
        !s.ok()) {
      return r.client.Fail(s, r.io);
    }
    for (v1::RuleSetVersion& v : *page.mutable_versions()) {
      *all.add_versions() = std::move(v);
    }
    req.set_page_token(page.next_page_token());
    all.set_next_page_token(page.next_page_token());
  } while (!req.page_token().empty() && all.versions_size() < limit);
  if (r.opts.json) {
    r.io.out << Json(all);
    return kExitOk;
  }
  r.io.out << FormatVersionList(std::vector<v1::RuleSetVersion>(
      all.versions().begin(), all.versions().end()));
  if (!all.next_page_token().empty()) {
    r.io.out << "(more: --limit=" << limit * 2 << ")\n";
  }
  return kExitOk;
}

int Show(const Run& r) {
  v1::GetRuleSetVersionRequest req;
  req.set_version(r.arg(0));
  v1::RuleSetVersion v;
  if (absl::Status s =
          r.client.Call(&v1::RuleSetService::Stub::GetVersion, req, &v);
      !s.ok()) {
    return r.client.Fail(s, r.io);
  }
  return PrintVersionOrJson(r, v);
}

int Active(const Run& r) {
  v1::RuleSetVersion v;
  if (absl::Status s = r.client.Call(&v1::RuleSetService::Stub::GetActive,
                                     v1::GetActiveRuleSetRequest(), &v);
      !s.ok()) {
    return r.client.Fail(s, r.io);
  }
  return PrintVersionOrJson(r, v);
}

int Validate(const Run& r) {
  std::optional<std::vector<v1::RuleFile>> files = LocalFiles(r, r.arg(0));
  if (!files.has_value()) return kExitUsage;
  v1::ValidateRuleSetRequest req;
  for (v1::RuleFile& f : *files) *req.add_files() = std::move(f);
  v1::ValidationReport report;
  if (absl::Status s =
          r.client.Call(&v1::RuleSetService::Stub::Validate, req, &report);
      !s.ok()) {
    return r.client.Fail(s, r.io);
  }
  r.io.out << (r.opts.json ? Json(report) : FormatValidation(report));
  return report.ok() ? kExitOk : kExitFindings;
}

// The 64-digit version id in `text`, or "".
std::string FindVersionId(absl::string_view text) {
  int run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    run = (absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f')) ? run + 1 : 0;
    if (run == 64 &&
        (i + 1 == text.size() || !absl::ascii_isxdigit(text[i + 1]))) {
      return std::string(text.substr(i + 1 - 64, 64));
    }
  }
  return "";
}

int Propose(const Run& r) {
  std::optional<std::vector<v1::RuleFile>> files = LocalFiles(r, r.arg(0));
  if (!files.has_value()) return kExitUsage;
  v1::ProposeRuleSetRequest req;
  for (v1::RuleFile& f : *files) *req.add_files() = std::move(f);
  req.set_author(r.opts.actor);
  req.set_comment(r.args.Get("--comment"));
  req.set_source_commit(r.args.Get("--commit"));
  v1::RuleSetVersion v;
  absl::Status s = r.client.Call(&v1::RuleSetService::Stub::Propose, req, &v);
  if (absl::IsFailedPrecondition(s)) {
    // Stored INVALID: show why.
    r.client.Fail(s, r.io);
    const std::string id = FindVersionId(s.message());
    v1::GetRuleSetVersionRequest get;
    get.set_version(id);
    v1::RuleSetVersion invalid;
    if (!id.empty() &&
        r.client.Call(&v1::RuleSetService::Stub::GetVersion, get, &invalid)
            .ok()) {
      r.io.out << (r.opts.json ? Json(invalid.validation())
                               : FormatValidation(invalid.validation()));
    }
    return kExitFindings;
  }
  if (!s.ok()) return r.client.Fail(s, r.io);
  if (r.opts.json) {
    r.io.out << Json(v);
    return kExitOk;
  }
  r.io.out << "proposed " << v.name() << " version " << v.version() << "\n"
           << "next: a second person approves it:  frontdoor rules approve "
           << Short(v.version()) << "\n";
  return kExitOk;
}

int Approve(const Run& r) {
  v1::ApproveRuleSetRequest req;
  req.set_version(r.arg(0));
  req.set_approver(r.opts.actor);
  req.set_comment(r.args.Get("--comment"));
  v1::RuleSetVersion v;
  if (absl::Status s =
          r.client.Call(&v1::RuleSetService::Stub::Approve, req, &v);
      !s.ok()) {
    return r.client.Fail(s, r.io);
  }
  if (r.opts.json) {
    r.io.out << Json(v);
    return kExitOk;
  }
  r.io.out << "approved " << v.name() << " version " << v.version() << " as "
           << v.approved_by() << "\n"
           << "next: frontdoor rules activate " << Short(v.version())
           << " --reason=...\n";
  return kExitOk;
}

int ActivateOrRollback(const Run& r, bool rollback) {
  const std::string reason = r.args.Get("--reason");
  if (absl::StripAsciiWhitespace(reason).empty()) {
    return Usage(r.io, r.verb.name,
                 "--reason is required (why, for the record)");
  }
  v1::RuleSetVersion v;
  absl::Status s;
  if (rollback) {
    v1::RollbackRuleSetRequest req;
    req.set_to_version(r.arg(0));
    req.set_actor(r.opts.actor);
    req.set_reason(reason);
    s = r.client.Call(&v1::RuleSetService::Stub::Rollback, req, &v);
  } else {
    v1::ActivateRuleSetRequest req;
    req.set_version(r.arg(0));
    req.set_actor(r.opts.actor);
    req.set_reason(reason);
    req.set_acknowledge_downgrades(r.args.Has("--acknowledge-downgrades"));
    s = r.client.Call(&v1::RuleSetService::Stub::Activate, req, &v);
  }
  if (!s.ok()) return r.client.Fail(s, r.io);
  if (r.opts.json) {
    r.io.out << Json(v);
    return kExitOk;
  }
  r.io.out << (rollback ? "rolled back to " : "activated ") << v.name()
           << " version " << v.version() << "\n";
  return kExitOk;
}

int Activate(const Run& r) { return ActivateOrRollback(r, false); }
int Rollback(const Run& r) { return ActivateOrRollback(r, true); }

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// The canonical RuleSet of a local directory; errors printed.
std::optional<v1::RuleSet> CompileLocal(const Run& r, const std::string& dir) {
  rules::Diagnostics diags;
  v1::RuleSet proto;
  rules::SourceMap sources;
  const bool read_ok = rules::ReadRuleSetFiles(dir, rules::LoadOptions(),
                                               &proto, &sources, &diags);
  auto compiled =
      rules::CompiledRuleSet::Compile(std::move(proto), &sources, &diags);
  if (!read_ok || compiled == nullptr) {
    r.io.err << "frontdoor rules diff: " << dir << " does not compile:\n";
    int shown = 0;
    for (const rules::Diagnostic& d : diags.items()) {
      if (d.severity != rules::Diagnostic::Severity::kError) continue;
      if (++shown > 10) break;
      r.io.err << "  " << dir << "/" << rules::FormatDiagnostic(d) << "\n";
    }
    r.io.err << "(see frontdoor rules lint " << dir << ")\n";
    return std::nullopt;
  }
  return compiled->proto();
}

int Diff(const Run& r) {
  std::string from = r.arg(0);
  std::string to = r.arg(1);
  // "active" names the version in force (unless a directory is so named).
  for (std::string* side : {&from, &to}) {
    if (*side != "active" || IsDirectory(*side)) continue;
    v1::RuleSetVersion active;
    if (absl::Status s = r.client.Call(&v1::RuleSetService::Stub::GetActive,
                                       v1::GetActiveRuleSetRequest(), &active);
        !s.ok()) {
      return r.client.Fail(s, r.io);
    }
    *side = active.version();
  }
  const bool from_dir = IsDirectory(from);
  const bool to_dir = IsDirectory(to);
  const bool regions = r.args.Has("--regions");
  v1::RuleSetDiff diff;
  if (!from_dir && !to_dir) {
    v1::DiffRuleSetsRequest req;
    req.set_from_version(from);
    req.set_to_version(to);
    req.set_regions(regions);
    if (absl::Status s =
            r.client.Call(&v1::RuleSetService::Stub::Diff, req, &diff);
        !s.ok()) {
      return r.client.Fail(s, r.io);
    }
  } else {
    // At least one side is local: compile it here; fetch a version side.
    v1::RuleSet sides[2];
    const std::string* names[2] = {&from, &to};
    const bool dirs[2] = {from_dir, to_dir};
    for (int i = 0; i < 2; ++i) {
      if (dirs[i]) {
        std::optional<v1::RuleSet> rs = CompileLocal(r, *names[i]);
        if (!rs.has_value()) return kExitFindings;
        sides[i] = *std::move(rs);
        continue;
      }
      v1::GetRuleSetVersionRequest get;
      get.set_version(*names[i]);
      v1::RuleSetVersion v;
      if (absl::Status s =
              r.client.Call(&v1::RuleSetService::Stub::GetVersion, get, &v);
          !s.ok()) {
        return r.client.Fail(s, r.io);
      }
      sides[i] = v.rule_set();
    }
    diff.set_from_version(from);
    diff.set_to_version(to);
    for (v1::RowChange& c : rulesets::DiffRows(sides[0], sides[1])) {
      *diff.add_rows() = std::move(c);
    }
    if (regions) {
      // The same search the server runs, here on the compiled sides.
      std::shared_ptr<const rules::CompiledRuleSet> compiled[2];
      for (int i = 0; i < 2; ++i) {
        rules::Diagnostics diags;
        compiled[i] = rules::CompiledRuleSet::Compile(sides[i], nullptr, &diags);
        if (compiled[i] == nullptr) {
          r.io.err << "frontdoor: " << *names[i] << " does not compile\n";
          return kExitFindings;
        }
      }
      if (absl::Status s = rulesets::FillRegions(*compiled[0], *compiled[1], &diff); !s.ok()) {
        r.io.err << "frontdoor: " << s << "\n";
        return kExitFindings;
      }
    }
  }
  r.io.out << (r.opts.json ? Json(diff) : FormatRuleSetDiff(diff));
  return kExitOk;
}

// An RFC 3339 time flag, if given, into `ts`; false (usage printed) if bad.
bool TimeFlag(const Run& r, absl::string_view flag,
              google::protobuf::Timestamp* ts) {
  if (!r.args.Has(flag)) return true;
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, r.args.Get(flag), &t, &error)) {
    Usage(r.io, r.verb.name,
          absl::StrCat(flag, ": expected an RFC 3339 time such as "
                             "2026-01-31T09:00:00Z (",
                       error, ")"));
    return false;
  }
  *ts = ToProtoTime(t);
  return true;
}

// Whether `stream` is the process's stderr and that is a terminal.
bool IsTerminal(const std::ostream& stream) {
  return &stream == &std::cerr && ::isatty(STDERR_FILENO) == 1;
}

// Shows replay progress on stderr: a bar redrawn in place on a terminal,
// otherwise a line at each further 10%.
class ReplayProgressView {
 public:
  explicit ReplayProgressView(std::ostream& err)
      : err_(err), terminal_(IsTerminal(err)) {}

  void Update(int64_t done, int64_t total) {
    total = std::max(total, done);
    if (terminal_) {
      const absl::Time now = absl::Now();
      if (now - last_draw_ < absl::Milliseconds(100) && done < total) return;
      last_draw_ = now;
      err_ << "\r" << FormatReplayProgress(done, total) << std::flush;
      drawn_ = true;
      return;
    }
    const int64_t tenth = total > 0 ? done * 10 / total : 0;
    if (total == 0 || tenth <= last_tenth_) return;
    last_tenth_ = tenth;
    err_ << "replay: " << tenth * 10 << "% " << GroupThousands(done) << "/"
         << GroupThousands(total) << "\n";
  }

  // Ends the redrawn line.
  void Done() {
    if (drawn_) err_ << "\n" << std::flush;
    drawn_ = false;
  }

 private:
  std::ostream& err_;
  const bool terminal_;
  bool drawn_ = false;
  absl::Time last_draw_ = absl::InfinitePast();
  int64_t last_tenth_ = 0;
};

int Replay(const Run& r) {
  v1::ReplayRequest req;
  req.set_candidate_version(r.arg(0));
  // Only a given flag may set its field: an empty Timestamp is still "set"
  // (the epoch) and would filter out every referral.
  google::protobuf::Timestamp after, before;
  if (!TimeFlag(r, "--after", &after) || !TimeFlag(r, "--before", &before)) {
    return kExitUsage;
  }
  if (r.args.Has("--after")) *req.mutable_received_after() = after;
  if (r.args.Has("--before")) *req.mutable_received_before() = before;
  if (r.args.Has("--pathway")) {
    absl::StatusOr<int> p =
        ParseEnum(v1::Pathway_descriptor(), r.args.Get("--pathway"),
                  "--pathway");
    if (!p.ok()) return Usage(r.io, "replay", p.status().message());
    req.set_pathway(static_cast<v1::Pathway>(*p));
  }
  if (r.args.Has("--limit")) {
    int64_t limit = 0;
    if (!absl::SimpleAtoi(r.args.Get("--limit"), &limit) || limit < 1) {
      return Usage(r.io, "replay", "--limit: expected a positive number");
    }
    req.set_limit(limit);
  }
  ReplayProgressView view(r.io.err);
  std::optional<v1::ReplayReport> report;
  absl::Status s = r.client.Replay(
      req, r.args.Has("--timeout"), [&](const v1::ReplayProgress& p) {
        view.Update(p.done(), p.total());
        if (p.has_report()) report = p.report();
      });
  view.Done();
  if (!s.ok()) return r.client.Fail(s, r.io);
  if (!report.has_value()) {
    return r.client.Fail(
        absl::InternalError("the replay ended without its report"), r.io);
  }
  r.io.out << (r.opts.json ? Json(*report) : FormatReplayReport(*report));
  return kExitOk;
}

int Shadow(const Run& r) {
  const std::vector<std::string>& pos = r.args.positional;
  const std::string what = pos.empty() ? "" : pos[0];
  const size_t expected = what == "start" ? 2 : 1;
  if ((what != "start" && what != "stop" && what != "report") ||
      pos.size() != expected) {
    return Usage(r.io, "shadow",
                 absl::StrCat("expected ", r.verb.args,
                              pos.empty() ? "" : absl::StrCat(", not ",
                                                              absl::StrJoin(
                                                                  pos, " "))));
  }
  v1::ShadowReport report;
  absl::Status s;
  if (what == "report") {
    s = r.client.Call(&v1::RuleSetService::Stub::GetShadowReport,
                      v1::GetShadowReportRequest(), &report);
  } else {
    if (absl::StripAsciiWhitespace(r.opts.actor).empty()) {
      return Usage(r.io, "shadow",
                   "--actor is required (who makes the change)");
    }
    v1::SetShadowRequest req;
    if (what == "start") req.set_candidate_version(pos[1]);
    req.set_actor(r.opts.actor);
    s = r.client.Call(&v1::RuleSetService::Stub::SetShadow, req, &report);
  }
  if (!s.ok()) return r.client.Fail(s, r.io);
  if (r.opts.json) {
    r.io.out << Json(report);
    return kExitOk;
  }
  if (what == "start") {
    r.io.out << "shadowing candidate " << Short(report.candidate_version())
             << " (the active version still decides)\n"
             << "see: frontdoor rules shadow report\n";
  } else {
    if (what == "stop") r.io.out << "stopped shadowing\n";
    r.io.out << FormatShadowReport(report);
  }
  return kExitOk;
}

int Dispatch(const Run& r) {
  const std::string name = r.verb.name;
  if (name == "versions") return Versions(r);
  if (name == "show") return Show(r);
  if (name == "active") return Active(r);
  if (name == "validate") return Validate(r);
  if (name == "propose") return Propose(r);
  if (name == "approve") return Approve(r);
  if (name == "activate") return Activate(r);
  if (name == "rollback") return Rollback(r);
  if (name == "replay") return Replay(r);
  if (name == "shadow") return Shadow(r);
  return Diff(r);
}

std::string Cells(const v1::RowChange& c, bool after) {
  std::vector<std::string> parts;
  const auto& cells = after ? c.after() : c.before();
  for (int i = 0; i < c.columns_size() && i < cells.size(); ++i) {
    parts.push_back(absl::StrCat(c.columns(i), ": ", cells[i]));
  }
  return absl::StrJoin(parts, " | ");
}

// "ACUTE IMMEDIATE".
std::string Outcome(v1::Pathway pathway, v1::Urgency urgency) {
  return absl::StrCat(ShortName(v1::Pathway_descriptor(), pathway), " ",
                      ShortName(v1::Urgency_descriptor(), urgency));
}

// Each line of `text` indented by two spaces.
std::string Indent(absl::string_view text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
  return out;
}

// `n` right-aligned in `width`.
std::string RightAlign(absl::string_view text, size_t width) {
  return text.size() >= width
             ? std::string(text)
             : absl::StrCat(std::string(width - text.size(), ' '), text);
}

// Replay or shadow differences: reference, from -> to, the rows responsible;
// `mark`: a first column saying DOWNGRADE.
std::string ChangeTable(const std::vector<const v1::ReplayChange*>& changes,
                        bool mark) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"REFERENCE", "FROM", "", "TO", "ROWS (active -> candidate)"});
  if (mark) rows.back().insert(rows.back().begin(), "");
  for (const v1::ReplayChange* c : changes) {
    rows.push_back({c->referral_id(), Outcome(c->from_pathway(), c->from_urgency()),
                    "->", Outcome(c->to_pathway(), c->to_urgency()),
                    absl::StrCat(OrDash(c->from_row()), " -> ",
                                 OrDash(c->to_row()))});
    if (mark) {
      rows.back().insert(rows.back().begin(),
                         c->downgrade() ? "DOWNGRADE" : "");
    }
  }
  return Indent(FormatTable(rows));
}

// The changes, downgrades first (each group in its original order).
std::vector<const v1::ReplayChange*> DowngradesFirst(
    const google::protobuf::RepeatedPtrField<v1::ReplayChange>& changes) {
  std::vector<const v1::ReplayChange*> out;
  for (const v1::ReplayChange& c : changes) out.push_back(&c);
  std::stable_partition(out.begin(), out.end(),
                        [](const v1::ReplayChange* c) { return c->downgrade(); });
  return out;
}

// Other changes listed by `rules replay` (all downgrades are listed).
constexpr size_t kOtherChangesShown = 20;

}  // namespace

std::string StateText(v1::RuleSetState state) {
  return ShortName(v1::RuleSetState_descriptor(), state);
}

bool IsRulesAdminCommand(const std::vector<std::string>& args) {
  if (args.size() < 2 || args[0] != "rules") return false;
  for (const Verb& v : Verbs()) {
    if (args[1] == v.name) return true;
  }
  return false;
}

int RunRulesAdmin(const std::vector<std::string>& args, const Io& io,
                  const ClientEnv& env) {
  const Verb* verb = nullptr;
  for (const Verb& v : Verbs()) {
    if (args.size() >= 2 && args[1] == v.name) verb = &v;
  }
  if (verb == nullptr) {
    io.err << kUsage;
    return kExitUsage;
  }
  std::vector<FlagSpec> flags = ConnectionFlags();
  if (verb->changes) flags.push_back({"--actor", Kind::kValue});
  flags.insert(flags.end(), verb->flags.begin(), verb->flags.end());
  absl::StatusOr<ParsedArgs> parsed = ParseFlags(args, 2, flags);
  if (!parsed.ok()) return Usage(io, verb->name, parsed.status().message());
  if (parsed->help) {
    io.out << kUsage;
    return kExitOk;
  }
  if (verb->positionals != kPositionalsChecked &&
      static_cast<int>(parsed->positional.size()) != verb->positionals) {
    return Usage(io, verb->name,
                 verb->positionals == 0
                     ? std::string("takes no arguments")
                     : absl::StrCat("expected ", verb->args));
  }
  absl::StatusOr<CommonOptions> opts = ResolveCommonOptions(*parsed, env);
  if (!opts.ok()) return Usage(io, verb->name, opts.status().message());
  if (verb->changes && absl::StripAsciiWhitespace(opts->actor).empty()) {
    return Usage(io, verb->name, "--actor is required (who makes the change)");
  }
  Client client(*opts);
  return Dispatch(Run{*verb, *parsed, *opts, io, client});
}

// --- Formatting
// ----------------------------------------------------------------

std::string FormatVersionList(const std::vector<v1::RuleSetVersion>& versions) {
  if (versions.empty()) return "no rule set versions\n";
  std::vector<std::vector<std::string>> rows = {{"VERSION", "STATE", "NAME",
                                                 "PROPOSED BY", "PROPOSED",
                                                 "APPROVED BY", "LAST EVENT"}};
  for (const v1::RuleSetVersion& v : versions) {
    std::string last = "-";
    if (v.history_size() > 0) {
      const v1::RuleSetEvent& e = v.history(v.history_size() - 1);
      last = absl::StrCat(e.action(), " by ", e.actor(), ", ",
                          FormatLocalTime(e.at()));
    }
    rows.push_back({Short(v.version()), StateText(v.state()), OrDash(v.name()),
                    OrDash(v.proposed_by()), When(v.proposed_at()),
                    OrDash(v.approved_by()), last});
  }
  return FormatTable(rows);
}

std::string FormatValidation(const v1::ValidationReport& report) {
  std::string out;
  int errors = 0;
  int warnings = 0;
  for (const v1::Finding& f : report.findings()) {
    if (f.severity() == "error") ++errors;
    if (f.severity() == "warning") ++warnings;
    if (f.severity() == "note") continue;
    absl::StrAppend(&out, f.file(), ":", f.line(), ":", f.column(), ": ",
                    f.severity(), ": ", f.message(), " [", f.code(), "]\n");
    if (!f.example().empty())
      absl::StrAppend(&out, "    e.g. ", f.example(), "\n");
  }
  for (const std::string& t : report.test_failures()) {
    absl::StrAppend(&out, "test failed: ", t, "\n");
  }
  for (const std::string& row : report.uncovered_safety_critical()) {
    absl::StrAppend(&out, "safety-critical row without a test: ", row, "\n");
  }
  absl::StrAppend(&out, errors, errors == 1 ? " error, " : " errors, ",
                  warnings, warnings == 1 ? " warning; " : " warnings; ",
                  "tests ", report.tests_passed(), " passed, ",
                  report.tests_failed(), " failed; rows covered ",
                  report.rows_covered(), "/", report.rows_total(), "\n");
  absl::StrAppend(&out, report.ok() ? "ok" : "FAILED validation",
                  report.version().empty()
                      ? ""
                      : absl::StrCat(": version ", report.version()),
                  "\n");
  return out;
}

std::string FormatVersion(const v1::RuleSetVersion& v) {
  std::vector<std::vector<std::string>> rows = {
      {"version", v.version()},
      {"name", OrDash(v.name())},
      {"state", StateText(v.state())},
      {"author", OrDash(v.author())},
  };
  if (!v.source_commit().empty()) rows.push_back({"commit", v.source_commit()});
  if (!v.comment().empty()) rows.push_back({"comment", v.comment()});
  rows.push_back({"proposed", absl::StrCat(When(v.proposed_at()), " by ",
                                           OrDash(v.proposed_by()))});
  if (!v.approved_by().empty()) {
    rows.push_back({"approved", absl::StrCat(When(v.approved_at()), " by ",
                                             v.approved_by())});
  }
  if (!v.activated_by().empty()) {
    rows.push_back({"activated", absl::StrCat(When(v.activated_at()), " by ",
                                              v.activated_by())});
  }
  if (v.known_downgrades() > 0) {
    rows.push_back(
        {"downgrades", absl::StrCat(v.known_downgrades(),
                                    " found by replay: activation needs "
                                    "--acknowledge-downgrades")});
  }
  if (v.has_rule_set()) {
    int table_rows = 0;
    for (const v1::Table& t : v.rule_set().tables())
      table_rows += t.rows_size();
    rows.push_back(
        {"rules",
         absl::StrCat(v.rule_set().tables_size(), " tables, ", table_rows,
                      " rows, ", v.rule_set().tests_size(), " tests")});
  }
  if (v.files_size() > 0) {
    std::vector<std::string> names;
    for (const v1::RuleFile& f : v.files()) names.push_back(f.name());
    rows.push_back({"files", absl::StrJoin(names, ", ")});
  }
  std::string out;
  for (const auto& row : rows) {
    absl::StrAppend(&out, row[0], std::string(12 - row[0].size(), ' '), row[1],
                    "\n");
  }
  absl::StrAppend(&out, "\nvalidation\n");
  for (absl::string_view line : absl::StrSplit(FormatValidation(v.validation()),
                                               '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
  if (v.history_size() > 0) {
    absl::StrAppend(&out, "\nhistory\n");
    std::vector<std::vector<std::string>> events = {
        {"  WHEN", "ACTION", "BY", "WHY"}};
    for (const v1::RuleSetEvent& e : v.history()) {
      std::string why = e.reason();
      if (!e.from_version().empty() && e.action() != "superseded") {
        absl::StrAppend(&why, why.empty() ? "" : " ", "(was ",
                        Short(e.from_version()), ")");
      }
      events.push_back({absl::StrCat("  ", When(e.at())), e.action(),
                        OrDash(e.actor()), OrDash(why)});
    }
    absl::StrAppend(&out, FormatTable(events));
  }
  return out;
}

std::string FormatRuleSetDiff(const v1::RuleSetDiff& diff) {
  std::string out = absl::StrCat("diff ", Short(diff.from_version()), " -> ",
                                 Short(diff.to_version()), "\n");
  int added = 0, removed = 0, changed = 0;
  for (const v1::RowChange& c : diff.rows()) {
    const std::string where = c.table().empty() ? std::string("(rule set)")
                              : c.row().empty()
                                  ? absl::StrCat(c.table(), " (table)")
                                  : absl::StrCat(c.table(), "/", c.row());
    if (!c.row().empty()) {
      if (c.kind() == "added") ++added;
      if (c.kind() == "removed") ++removed;
      if (c.kind() == "changed") ++changed;
    }
    const char* mark = c.kind() == "added"     ? "+"
                       : c.kind() == "removed" ? "-"
                                               : "~";
    absl::StrAppend(&out, mark, " ", where, "  ", c.kind(), "\n");
    if (c.kind() == "changed") {
      for (int i = 0; i < c.columns_size(); ++i) {
        const std::string before = i < c.before_size() ? c.before(i) : "";
        const std::string after = i < c.after_size() ? c.after(i) : "";
        if (before == after) continue;
        absl::StrAppend(&out, "    ", c.columns(i), ": ", OrDash(before),
                        " -> ", OrDash(after), "\n");
      }
    } else if (!c.row().empty()) {
      absl::StrAppend(&out, "    ", Cells(c, c.kind() == "added"), "\n");
    }
  }
  absl::StrAppend(&out, changed, " changed, ", added, " added, ", removed,
                  " removed rows\n");
  if (diff.regions_size() > 0) {
    absl::StrAppend(&out, "\ndecision regions that change",
                    diff.regions_complete() ? "" : " (search incomplete)",
                    ":\n");
    for (const v1::DecisionRegion& g : diff.regions()) {
      absl::StrAppend(
          &out, g.downgrade() ? "DOWNGRADE " : "", g.description(), "\n    ",
          Outcome(g.from_pathway(), g.from_urgency()), " -> ",
          Outcome(g.to_pathway(), g.to_urgency()), "\n");
      if (!g.example().empty()) {
        absl::StrAppend(&out, "    e.g. ", g.example(), "\n");
      }
    }
  }
  return out;
}

std::string GroupThousands(int64_t n) {
  const uint64_t magnitude =
      n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  const std::string digits = absl::StrCat(magnitude);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string FormatReplayProgress(int64_t done, int64_t total, int width) {
  done = std::max<int64_t>(done, 0);
  total = std::max(total, done);
  const double fraction =
      total == 0 ? 0.0 : static_cast<double>(done) / static_cast<double>(total);
  const int filled = std::clamp(static_cast<int>(fraction * width + 0.5), 0,
                                width);
  const int64_t percent = total == 0 ? 0 : done * 100 / total;
  return absl::StrCat("[", std::string(filled, '#'),
                      std::string(width - filled, '.'), "] ", percent, "% ",
                      GroupThousands(done), "/", GroupThousands(total));
}

std::string FormatReplayReport(const v1::ReplayReport& report) {
  std::string out = absl::StrCat(
      "replay of candidate ", Short(report.candidate_version()),
      " against active ", Short(report.active_version()), "\n");
  std::string speed = "-";
  if (report.seconds() > 0) {
    speed = GroupThousands(static_cast<int64_t>(
        static_cast<double>(report.referrals()) / report.seconds()));
  }
  absl::StrAppend(
      &out,
      FormatTable({{"referrals replayed", GroupThousands(report.referrals())},
                   {"changed", absl::StrCat(GroupThousands(report.changed()),
                                            " (", GroupThousands(
                                                      report.downgrades()),
                                            " downgrades, ",
                                            GroupThousands(report.upgrades()),
                                            " upgrades)")},
                   {"elapsed",
                    absl::StrFormat("%.1f s, %s referrals/s",
                                    report.seconds(), speed)}}));
  if (report.changed() == 0) {
    absl::StrAppend(&out, "\nno decision would change\n");
  }

  const std::vector<const v1::ReplayChange*> changes =
      DowngradesFirst(report.changes());
  const auto first_other =
      std::find_if(changes.begin(), changes.end(),
                   [](const v1::ReplayChange* c) { return !c->downgrade(); });
  const std::vector<const v1::ReplayChange*> downgrades(changes.begin(),
                                                        first_other);
  std::vector<const v1::ReplayChange*> others(first_other, changes.end());
  if (report.downgrades() > 0) {
    absl::StrAppend(&out, "\nDOWNGRADES (", GroupThousands(report.downgrades()),
                    ")\n", ChangeTable(downgrades, false));
    if (static_cast<int64_t>(downgrades.size()) < report.downgrades()) {
      absl::StrAppend(&out, "  (", downgrades.size(),
                      " listed; --json for the report)\n");
    }
  }
  const int64_t other_count = report.changed() - report.downgrades();
  if (other_count > 0) {
    const size_t listed = others.size();
    if (others.size() > kOtherChangesShown) others.resize(kOtherChangesShown);
    absl::StrAppend(&out, "\nUPGRADES AND OTHER CHANGES (",
                    GroupThousands(other_count), ")\n",
                    ChangeTable(others, false));
    if (static_cast<int64_t>(others.size()) < other_count) {
      absl::StrAppend(&out, "  ... ",
                      GroupThousands(other_count -
                                     static_cast<int64_t>(others.size())),
                      " more", listed > others.size() ? " (--json for the list)" : "",
                      "\n");
    }
  }

  if (report.transitions_size() > 0) {
    size_t width = 5;  // "COUNT"
    for (const v1::TransitionCount& t : report.transitions()) {
      width = std::max(width, GroupThousands(t.count()).size());
    }
    std::vector<std::vector<std::string>> rows = {
        {"FROM", "", "TO", RightAlign("COUNT", width), ""}};
    for (const v1::TransitionCount& t : report.transitions()) {
      rows.push_back(
          {Outcome(t.from_pathway(), t.from_urgency()), "->",
           Outcome(t.to_pathway(), t.to_urgency()),
           RightAlign(GroupThousands(t.count()), width),
           rulesets::IsDowngrade(t.from_urgency(), t.to_urgency())
               ? "DOWNGRADE"
               : ""});
    }
    absl::StrAppend(&out, "\nTRANSITIONS\n", Indent(FormatTable(rows)));
  }

  if (report.by_row_size() > 0) {
    std::vector<std::vector<std::string>> rows = {
        {"CANDIDATE ROW", "CHANGED", "DOWNGRADES", "SAMPLE REFERENCES"}};
    for (const v1::RowImpact& i : report.by_row()) {
      rows.push_back({i.row(), RightAlign(GroupThousands(i.changed()), 7),
                      RightAlign(GroupThousands(i.downgrades()), 10),
                      OrDash(absl::StrJoin(i.sample_referrals(), ", "))});
    }
    absl::StrAppend(&out, "\nCHANGES BY CANDIDATE ROW\n",
                    Indent(FormatTable(rows)));
  }

  if (report.rows_never_hit_size() > 0) {
    absl::StrAppend(&out, "\nROWS NEVER HIT (", report.rows_never_hit_size(),
                    " candidate rows no replayed referral fired)\n");
    for (const std::string& row : report.rows_never_hit()) {
      absl::StrAppend(&out, "  ", row, "\n");
    }
  }

  if (report.downgrades() > 0) {
    absl::StrAppend(&out, "\n", GroupThousands(report.downgrades()),
                    report.downgrades() == 1 ? " referral" : " referrals",
                    " would be downgraded: activating ",
                    Short(report.candidate_version()),
                    " will need --acknowledge-downgrades\n");
  }
  return out;
}

std::string FormatShadowReport(const v1::ShadowReport& report) {
  std::string out = absl::StrCat(
      "shadow of candidate ", Short(report.candidate_version()),
      " against active ", Short(report.active_version()), "\n");
  absl::StrAppend(
      &out,
      FormatTable(
          {{"since", When(report.since())},
           {"evaluated", GroupThousands(report.evaluated())},
           {"differed", GroupThousands(report.differed())},
           {"downgrades", GroupThousands(report.downgrades())},
           {"dropped", absl::StrCat(GroupThousands(report.dropped()),
                                    report.dropped() > 0
                                        ? " (not evaluated: the shadow queue "
                                          "was full)"
                                        : "")}}));
  if (report.recent_size() == 0) {
    absl::StrAppend(&out, "\nno differences so far\n");
    return out;
  }
  absl::StrAppend(&out, "\nRECENT DIFFERENCES (downgrades first)\n",
                  ChangeTable(DowngradesFirst(report.recent()), true));
  return out;
}

}  // namespace frontdoor::cli
