#include "services/cli/client_command.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "frontdoor/v1/admin_service.grpc.pb.h"
#include "frontdoor/v1/directory_service.grpc.pb.h"
#include "frontdoor/v1/referral_service.grpc.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "services/admin/admin_service.h"
#include "services/auth/client.h"
#include "services/cli/token_command.h"
#include "services/common/grpc_status.h"
#include "services/common/proto_time.h"
#include "services/common/reference.h"
#include "storage/referral_store.h"

namespace frontdoor::cli {
namespace {

namespace fs = std::filesystem;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using Kind = FlagSpec::Kind;

// --- Usage -------------------------------------------------------------------

constexpr absl::string_view kTopLevelUsage =
    R"(usage: frontdoor <command> [arguments]

Referrals (talk to frontdoor-server):
  submit FILE|-       submit a referral (JSON, or built with flags); print its
                      reference, pathway, urgency, due time and why
  get REF             show a referral, its triage and its events
  events REF          list a referral's events (the audit trail)
  list                list referrals (--pathway --service --status --breached)
  worklist            a worklist (--pathway or --service) by due time
  watch               follow a worklist as it changes, until Ctrl-C
  accept REF          accept a referral for the service it is with
  reject REF          reject a referral (--reason)
  redirect REF        send a referral to another service (--service --reason)
  return REF          return a referral to the referrer (--advice)
  close REF           close an accepted, rejected or returned referral
  cancel REF          cancel an active referral (--reason)
  override REF        override the triage (--pathway --urgency --clinician)

Services:
  directory           list services: pathways, capacity, open now
  capacity SERVICE C  set a service's live capacity (GREEN, AMBER or RED)
  match               which service a pathway and urgency would go to

Administration:
  admin backup DIR    back up the referral store (through the server)
  admin restore B D   restore backup dir B into data dir D (server stopped)
  admin token ...     create, list and revoke callers' tokens (tokens file)
  audit verify|query  check the audit trail's hash chain; who saw which
                      patient ('audit --help')

Rule sets:
  rules               lint, test, explain and format triage rule sets; their
                      versions on the server: versions, show, propose,
                      approve, activate, rollback, diff, replay, shadow
                      ('rules --help')

Options of the commands that talk to the server:
  --server=HOST:PORT  default $FRONTDOOR_SERVER, else 127.0.0.1:50051
  --json              machine output: protobuf JSON with proto field names
  --timeout=DURATION  per call: 10s (the default), 500ms, 2m, ...
  --token_file=FILE   file holding your bearer token (default
                      $FRONTDOOR_TOKEN_FILE, else the token in
                      $FRONTDOOR_TOKEN); 'frontdoor admin token create'
  --tls_ca=PEM        talk TLS, trusting this CA for the server
  --tls_cert=PEM --tls_key=PEM   client certificate (mTLS)

Run 'frontdoor <command> --help' for a command's arguments.
Exit status: 0 success, 1 failure (an error from the server, an invalid
referral, ...), 2 usage errors.
)";

constexpr absl::string_view kCommonHelp =
    R"(
Common options: --server=HOST:PORT (default $FRONTDOOR_SERVER, else
127.0.0.1:50051), --json, --timeout=DURATION (default 10s),
--token_file=FILE (default $FRONTDOOR_TOKEN_FILE or $FRONTDOOR_TOKEN),
--tls_ca=PEM [--tls_cert=PEM --tls_key=PEM].
)";

struct Verb;

// One run of a verb.
struct Invocation {
  const Verb& verb;
  const ParsedArgs& args;
  const CommonOptions& opts;
  const Io& io;

  int Usage(absl::string_view message) const;
};

struct Verb {
  const char* name;
  const char* help;  // the verb's usage text
  std::vector<FlagSpec> flags;
  bool changes;  // takes --actor
  int (*run)(const Invocation&);
};

int Invocation::Usage(absl::string_view message) const {
  io.err << "frontdoor " << verb.name << ": " << message << "\n\n" << verb.help;
  return kExitUsage;
}

// --- Small text helpers ------------------------------------------------------

std::string Upper(absl::string_view s) { return absl::AsciiStrToUpper(s); }

std::string EnumPrefix(const EnumDescriptor* type) {
  const google::protobuf::EnumValueDescriptor* zero =
      type->FindValueByNumber(0);
  if (zero == nullptr) return "";
  absl::string_view name = zero->name();
  if (absl::ConsumeSuffix(&name, "UNSPECIFIED")) return std::string(name);
  return "";
}

std::vector<std::string> ShortNames(const EnumDescriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    names.push_back(ShortName(type, type->value(i)->number()));
  }
  return names;
}

// Whether the words of `needle` appear, in order and together, among the
// words of `hay` ('_'-separated).
bool ContainsWords(absl::string_view hay, absl::string_view needle) {
  std::vector<absl::string_view> h = absl::StrSplit(hay, '_');
  std::vector<absl::string_view> n = absl::StrSplit(needle, '_');
  if (n.empty() || n.size() > h.size()) return false;
  for (size_t i = 0; i + n.size() <= h.size(); ++i) {
    if (std::equal(n.begin(), n.end(), h.begin() + i)) return true;
  }
  return false;
}

// Levenshtein distance, for suggesting a name close to a mistyped one.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// Display width of UTF-8 text (code points).
size_t Width(absl::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string Pad(absl::string_view s, size_t width) {
  std::string out(s);
  size_t w = Width(s);
  if (w < width) out.append(width - w, ' ');
  return out;
}

std::string Plural(int64_t n, absl::string_view word) {
  return absl::StrCat(n, " ", word, n == 1 ? "" : "s");
}

std::string OrDash(absl::string_view s) {
  return s.empty() ? "-" : std::string(s);
}

std::string PathwayText(v1::Pathway p) {
  return ShortName(v1::Pathway_descriptor(), p);
}
std::string UrgencyText(v1::Urgency u) {
  return ShortName(v1::Urgency_descriptor(), u);
}
std::string StatusText(v1::ReferralStatus s) {
  return ShortName(v1::ReferralStatus_descriptor(), s);
}
std::string SlaText(v1::SlaState s) {
  return ShortName(v1::SlaState_descriptor(), s);
}
std::string ProblemText(v1::PresentingProblem p) {
  return ShortName(v1::PresentingProblem_descriptor(), p);
}
std::string FlagText(int f) { return ShortName(v1::Flag_descriptor(), f); }

std::string TargetText(int minutes) {
  if (minutes < 0) return "no target time";
  if (minutes == 0) return "immediately";
  if (minutes % (24 * 60) == 0) {
    return absl::StrCat("within ", Plural(minutes / (24 * 60), "day"));
  }
  if (minutes % 60 == 0) {
    return absl::StrCat("within ", Plural(minutes / 60, "hour"));
  }
  return absl::StrCat("within ", Plural(minutes, "minute"));
}

std::string FormatNumber(double v) {
  if (v == static_cast<int64_t>(v))
    return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrFormat("%.1f", v);
}

// "  Label       value" lines with the values aligned.
class Fields {
 public:
  explicit Fields(size_t width = 12) : width_(width) {}
  Fields& Add(absl::string_view label, absl::string_view value) {
    absl::StrAppend(&text_, "  ", Pad(label, width_), value, "\n");
    return *this;
  }
  const std::string& text() const { return text_; }

 private:
  size_t width_;
  std::string text_;
};

// --- JSON
// ----------------------------------------------------------------------

std::string ToJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!st.ok())
    return absl::StrCat(
        "{\"error\": \"cannot print: ", std::string(st.message()), "\"}\n");
  if (pretty && (out.empty() || out.back() != '\n')) out += "\n";
  return out;
}

google::protobuf::Value ToJsonValue(const google::protobuf::Message& message) {
  google::protobuf::Value value;
  auto st = google::protobuf::util::JsonStringToMessage(ToJson(message, false),
                                                        &value);
  (void)st;  // printed by ToJson from a valid message: always parses
  return value;
}

// --- Reading input
// --------------------------------------------------------------

absl::StatusOr<std::string> ReadInput(const std::string& path,
                                      std::istream& in) {
  if (path == "-") {
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(EISDIR)));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << file.rdbuf();
  return ss.str();
}

// --- Argument parsing helpers
// --------------------------------------------------

absl::StatusOr<int64_t> ParseInt(absl::string_view flag, absl::string_view text,
                                 int64_t min, int64_t max) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", text, "' is not a whole number"));
  }
  if (v < min || v > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", v, " is out of range (", min, " to ", max, ")"));
  }
  return v;
}

absl::StatusOr<bool> ParseYesNo(absl::string_view flag,
                                absl::string_view text) {
  const std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (t == "yes" || t == "y" || t == "true" || t == "1") return true;
  if (t == "no" || t == "n" || t == "false" || t == "0") return false;
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": '", text, "' is not yes or no"));
}

absl::StatusOr<v1::Date> ParseDate(absl::string_view flag,
                                   absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  int y = 0, m = 0, d = 0;
  if (parts.size() != 3 || parts[0].size() != 4 ||
      !absl::SimpleAtoi(parts[0], &y) || !absl::SimpleAtoi(parts[1], &m) ||
      !absl::SimpleAtoi(parts[2], &d) || m < 1 || m > 12 || d < 1 || d > 31) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", text, "' is not a date YYYY-MM-DD"));
  }
  v1::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

template <typename E>
absl::StatusOr<E> ParseEnumFlag(
    const EnumDescriptor* type, const ParsedArgs& args, absl::string_view flag,
    const std::map<std::string, std::string>& aliases = {}) {
  absl::StatusOr<int> v = ParseEnum(type, args.Get(flag), flag, aliases);
  if (!v.ok()) return v.status();
  return static_cast<E>(*v);
}

absl::StatusOr<std::string> ParseReference(absl::string_view text) {
  absl::StatusOr<std::string> id = CanonicalReference(text);
  if (!id.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a referral reference (like K3M7-9Q2D-X8A): ",
        id.status().message()));
  }
  return id;
}

const std::map<std::string, std::string>& SexAliases() {
  static const auto* aliases =
      new std::map<std::string, std::string>{{"F", "FEMALE"}, {"M", "MALE"}};
  return *aliases;
}

const std::map<std::string, std::string>& ConsciousnessAliases() {
  static const auto* aliases = new std::map<std::string, std::string>{
      {"A", "ALERT"}, {"C", "NEW_CONFUSION"}, {"CONFUSED", "NEW_CONFUSION"},
      {"V", "VOICE"}, {"P", "PAIN"},          {"U", "UNRESPONSIVE"}};
  return *aliases;
}

const std::map<std::string, std::string>& ReferrerAliases() {
  static const auto* aliases =
      new std::map<std::string, std::string>{{"111", "NHS_111"},
                                             {"999", "AMBULANCE_999"},
                                             {"AMBULANCE", "AMBULANCE_999"}};
  return *aliases;
}

// The referral-building flags of `submit`.
const std::vector<std::string>& ReferralFlagNames() {
  static const auto* names = new std::vector<std::string>{
      "--problem",  "--nhs",    "--dob",      "--age",   "--sex",
      "--postcode", "--phone",  "--referrer", "--text",  "--rr",
      "--spo2",     "--o2",     "--sbp",      "--pulse", "--consciousness",
      "--temp",     "--finding"};
  return *names;
}

// --- Talking to the server
// -----------------------------------------------------

class Connection {
 public:
  explicit Connection(const CommonOptions& opts)
      : opts_(opts), channel_(OpenChannel(opts, grpc::ChannelArguments())) {}

  void Prepare(grpc::ClientContext* ctx, absl::Duration timeout) const {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(timeout));
  }
  void Prepare(grpc::ClientContext* ctx) const { Prepare(ctx, opts_.timeout); }

  v1::ReferralService::Stub& referrals() {
    if (referrals_ == nullptr)
      referrals_ = v1::ReferralService::NewStub(channel_);
    return *referrals_;
  }
  v1::DirectoryService::Stub& directory() {
    if (directory_ == nullptr)
      directory_ = v1::DirectoryService::NewStub(channel_);
    return *directory_;
  }
  v1::AdminService::Stub& admin() {
    if (admin_ == nullptr) admin_ = v1::AdminService::NewStub(channel_);
    return *admin_;
  }

  // Whether `s` failed because the server could not be reached at all.
  bool Unreachable(const grpc::Status& s) const {
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
        s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return false;
    }
    return channel_->GetState(false) != GRPC_CHANNEL_READY;
  }

  // Prints the error of a failed call; returns kExitFindings.
  int Fail(const grpc::Status& s, const Io& io) const {
    const absl::Status st = FromGrpcStatus(s);
    std::string code = absl::StatusCodeToString(st.code());
    if (Unreachable(s)) {
      io.err << "frontdoor: " << code << ": cannot reach frontdoor-server at "
             << opts_.server
             << " (is it running? start it with scripts/run.sh)\n";
    } else {
      io.err << "frontdoor: " << code << ": "
             << (st.message().empty() ? "(no message from the server)"
                                      : st.message())
             << "\n";
    }
    return kExitFindings;
  }

 private:
  const CommonOptions& opts_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ReferralService::Stub> referrals_;
  std::unique_ptr<v1::DirectoryService::Stub> directory_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

// --- submit
// --------------------------------------------------------------------

int Submit(const Invocation& c) {
  const ParsedArgs& a = c.args;
  if (a.positional.size() > 1)
    return c.Usage("expected at most one referral file");
  const bool flags = HasReferralFlags(a);
  if (a.positional.empty() && !flags) {
    return c.Usage(
        "give a referral FILE (- for standard input), or build one with flags "
        "such as "
        "--problem");
  }
  if (!a.positional.empty() && flags) {
    return c.Usage(
        "give a referral FILE or the referral flags (--problem, ...), not "
        "both");
  }
  v1::Referral referral;
  if (!a.positional.empty()) {
    const std::string& file = a.positional[0];
    absl::StatusOr<std::string> json = ReadInput(file, c.io.in);
    if (!json.ok()) {
      c.io.err << "frontdoor submit: " << json.status().message() << "\n";
      return kExitUsage;
    }
    absl::StatusOr<v1::Referral> parsed = ParseReferralJson(*json);
    if (!parsed.ok()) {
      c.io.err << (file == "-" ? "<stdin>" : file)
               << ": invalid referral: " << parsed.status().message() << "\n";
      return kExitFindings;
    }
    referral = *std::move(parsed);
  } else {
    absl::StatusOr<v1::Referral> built = ReferralFromFlags(a);
    if (!built.ok()) return c.Usage(built.status().message());
    referral = *std::move(built);
  }

  v1::SubmitReferralRequest request;
  const bool generated = !a.Has("--request-id");
  request.set_request_id(generated ? NewRequestId() : a.Get("--request-id"));
  *request.mutable_referral() = referral;
  request.set_submitted_by(a.Get("--submitted-by", c.opts.actor));

  Connection conn(c.opts);
  grpc::ClientContext ctx;
  conn.Prepare(&ctx);
  v1::SubmitReferralResponse response;
  grpc::Status s = conn.referrals().SubmitReferral(&ctx, request, &response);
  if (!s.ok()) {
    int code = conn.Fail(s, c.io);
    switch (s.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::CANCELLED:
      case grpc::StatusCode::UNKNOWN:
      case grpc::StatusCode::INTERNAL:
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
        c.io.err << "frontdoor: to retry without risk of submitting the "
                    "referral twice, "
                    "run the same command with --request-id="
                 << request.request_id() << "\n";
        break;
      default:
        break;
    }
    return code;
  }
  if (c.opts.json) {
    c.io.out << ToJson(response, true);
  } else {
    c.io.out << FormatSubmitResult(response, absl::Now());
  }
  return kExitOk;
}

// --- get, events
// ---------------------------------------------------------------

// The referral's events, through `conn`.
grpc::Status FetchEvents(Connection& conn, const std::string& id,
                         v1::ListReferralEventsResponse* events) {
  grpc::ClientContext ctx;
  conn.Prepare(&ctx);
  v1::ListReferralEventsRequest request;
  request.set_id(id);
  return conn.referrals().ListReferralEvents(&ctx, request, events);
}

int Get(const Invocation& c) {
  if (c.args.positional.size() != 1)
    return c.Usage("expected one referral reference");
  absl::StatusOr<std::string> id = ParseReference(c.args.positional[0]);
  if (!id.ok()) return c.Usage(id.status().message());
  Connection conn(c.opts);
  v1::ReferralRecord record;
  {
    grpc::ClientContext ctx;
    conn.Prepare(&ctx);
    v1::GetReferralRequest request;
    request.set_id(*id);
    grpc::Status s = conn.referrals().GetReferral(&ctx, request, &record);
    if (!s.ok()) return conn.Fail(s, c.io);
  }
  v1::ListReferralEventsResponse events;
  if (grpc::Status s = FetchEvents(conn, *id, &events); !s.ok())
    return conn.Fail(s, c.io);
  if (c.opts.json) {
    google::protobuf::Struct out;
    (*out.mutable_fields())["record"] = ToJsonValue(record);
    (*out.mutable_fields())["events"] =
        ToJsonValue(events).struct_value().fields().at("events");
    c.io.out << ToJson(out, true);
    return kExitOk;
  }
  c.io.out << FormatRecord(
      record, {events.events().begin(), events.events().end()}, absl::Now());
  return kExitOk;
}

int Events(const Invocation& c) {
  if (c.args.positional.size() != 1)
    return c.Usage("expected one referral reference");
  absl::StatusOr<std::string> id = ParseReference(c.args.positional[0]);
  if (!id.ok()) return c.Usage(id.status().message());
  Connection conn(c.opts);
  v1::ListReferralEventsResponse response;
  if (grpc::Status s = FetchEvents(conn, *id, &response); !s.ok())
    return conn.Fail(s, c.io);
  if (c.opts.json) {
    c.io.out << ToJson(response, true);
  } else {
    c.io.out << *id << ": " << Plural(response.events_size(), "event") << "\n"
             << FormatEvents(
                    {response.events().begin(), response.events().end()});
  }
  return kExitOk;
}

// --- list
// ----------------------------------------------------------------------

int List(const Invocation& c) {
  const ParsedArgs& a = c.args;
  if (!a.positional.empty())
    return c.Usage("list takes no positional arguments");
  v1::ListReferralsRequest request;
  if (a.Has("--pathway")) {
    auto p =
        ParseEnumFlag<v1::Pathway>(v1::Pathway_descriptor(), a, "--pathway");
    if (!p.ok()) return c.Usage(p.status().message());
    request.set_pathway(*p);
  }
  if (a.Has("--status")) {
    auto s = ParseEnumFlag<v1::ReferralStatus>(v1::ReferralStatus_descriptor(),
                                               a, "--status");
    if (!s.ok()) return c.Usage(s.status().message());
    request.set_status(*s);
  }
  request.set_service_id(a.Get("--service"));
  request.set_nhs_number(
      absl::StrReplaceAll(a.Get("--nhs"), {{" ", ""}, {"-", ""}}));
  request.set_breached_only(a.Has("--breached"));
  if (a.Has("--page-size")) {
    auto n = ParseInt("--page-size", a.Get("--page-size"), 1, 500);
    if (!n.ok()) return c.Usage(n.status().message());
    request.set_page_size(static_cast<int32_t>(*n));
  }
  request.set_page_token(a.Get("--page-token"));
  const bool all = a.Has("--all");

  Connection conn(c.opts);
  v1::ListReferralsResponse merged;
  while (true) {
    grpc::ClientContext ctx;
    conn.Prepare(&ctx);
    v1::ListReferralsResponse page;
    grpc::Status s = conn.referrals().ListReferrals(&ctx, request, &page);
    if (!s.ok()) return conn.Fail(s, c.io);
    for (auto& r : *page.mutable_referrals())
      *merged.add_referrals() = std::move(r);
    merged.set_next_page_token(page.next_page_token());
    if (!all || page.next_page_token().empty() ||
        page.next_page_token() == request.page_token()) {
      break;
    }
    request.set_page_token(page.next_page_token());
  }
  if (all) merged.clear_next_page_token();
  if (c.opts.json) {
    c.io.out << ToJson(merged, true);
    return kExitOk;
  }
  if (merged.referrals_size() == 0) {
    c.io.out << "no referrals\n";
  } else {
    c.io.out << FormatReferralList(
                    {merged.referrals().begin(), merged.referrals().end()})
             << Plural(merged.referrals_size(), "referral") << "\n";
  }
  if (!merged.next_page_token().empty()) {
    c.io.out << "more: run again with --all, or with --page-token="
             << merged.next_page_token() << "\n";
  }
  return kExitOk;
}

// --- worklist, watch
// -----------------------------------------------------------

// Reads --pathway / --service (exactly one) into *pathway and *service.
absl::Status WorklistTarget(const ParsedArgs& a, v1::Pathway* pathway,
                            std::string* service, std::string* title) {
  if (a.Has("--pathway") == a.Has("--service")) {
    return absl::InvalidArgumentError(
        "give exactly one of --pathway and --service");
  }
  if (a.Has("--pathway")) {
    auto p =
        ParseEnumFlag<v1::Pathway>(v1::Pathway_descriptor(), a, "--pathway");
    if (!p.ok()) return p.status();
    *pathway = *p;
    *title = absl::StrCat("Worklist ", PathwayText(*p));
  } else {
    *service = a.Get("--service");
    if (service->empty())
      return absl::InvalidArgumentError("--service: empty service id");
    *title = absl::StrCat("Worklist of service ", *service);
  }
  return absl::OkStatus();
}

int Worklist(const Invocation& c) {
  if (!c.args.positional.empty())
    return c.Usage("worklist takes no positional arguments");
  v1::GetWorklistRequest request;
  v1::Pathway pathway = v1::PATHWAY_UNSPECIFIED;
  std::string service, title;
  if (absl::Status st = WorklistTarget(c.args, &pathway, &service, &title);
      !st.ok()) {
    return c.Usage(st.message());
  }
  request.set_pathway(pathway);
  request.set_service_id(service);
  request.set_page_size(500);
  Connection conn(c.opts);
  v1::GetWorklistResponse merged;
  while (true) {
    grpc::ClientContext ctx;
    conn.Prepare(&ctx);
    v1::GetWorklistResponse page;
    grpc::Status s = conn.referrals().GetWorklist(&ctx, request, &page);
    if (!s.ok()) return conn.Fail(s, c.io);
    for (auto& e : *page.mutable_entries())
      *merged.add_entries() = std::move(e);
    if (page.next_page_token().empty() ||
        page.next_page_token() == request.page_token())
      break;
    request.set_page_token(page.next_page_token());
  }
  if (c.opts.json) {
    c.io.out << ToJson(merged, true);
  } else {
    c.io.out << FormatWorklist(
        title, {merged.entries().begin(), merged.entries().end()}, absl::Now());
  }
  return kExitOk;
}

// The write end of the pipe the SIGINT handler writes to (-1: none).
std::atomic<int> g_interrupt_fd{-1};

extern "C" void OnInterrupt(int) {
  const int fd = g_interrupt_fd.load();
  if (fd < 0) return;
  const int saved = errno;
  const char byte = 1;
  ssize_t n = write(fd, &byte, 1);  // async-signal-safe
  (void)n;
  errno = saved;
}

// While alive, SIGINT (Ctrl-C) cancels `ctx` (TryCancel) instead of killing
// the process: the handler only writes a byte to a pipe, and a thread of
// ours reads it and cancels the call.
class InterruptCanceller {
 public:
  explicit InterruptCanceller(grpc::ClientContext* ctx) {
    if (pipe2(fds_, O_CLOEXEC) != 0) {
      fds_[0] = fds_[1] = -1;
      return;
    }
    thread_ = std::thread([this, ctx] {
      while (true) {
        char byte = 0;
        ssize_t n = read(fds_[0], &byte, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || byte == 0) return;
        interrupted_.store(true);
        ctx->TryCancel();
      }
    });
    g_interrupt_fd.store(fds_[1]);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = OnInterrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    installed_ = sigaction(SIGINT, &sa, &old_) == 0;
  }

  ~InterruptCanceller() {
    if (installed_) sigaction(SIGINT, &old_, nullptr);
    g_interrupt_fd.store(-1);
    if (fds_[1] >= 0) {
      const char stop = 0;
      ssize_t n = write(fds_[1], &stop, 1);
      (void)n;
    }
    if (thread_.joinable()) thread_.join();
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }

  InterruptCanceller(const InterruptCanceller&) = delete;
  InterruptCanceller& operator=(const InterruptCanceller&) = delete;

  bool interrupted() const { return interrupted_.load(); }

 private:
  int fds_[2] = {-1, -1};
  bool installed_ = false;
  struct sigaction old_;
  std::atomic<bool> interrupted_{false};
  std::thread thread_;
};

int Watch(const Invocation& c) {
  if (!c.args.positional.empty())
    return c.Usage("watch takes no positional arguments");
  v1::WatchWorklistRequest request;
  v1::Pathway pathway = v1::PATHWAY_UNSPECIFIED;
  std::string service, title;
  if (absl::Status st = WorklistTarget(c.args, &pathway, &service, &title);
      !st.ok()) {
    return c.Usage(st.message());
  }
  request.set_pathway(pathway);
  request.set_service_id(service);
  Connection conn(c.opts);
  grpc::ClientContext ctx;  // no deadline: a watch lasts until stopped
  InterruptCanceller canceller(&ctx);
  std::unique_ptr<grpc::ClientReader<v1::WorklistUpdate>> reader =
      conn.referrals().WatchWorklist(&ctx, request);
  std::set<std::string> known;
  bool first = true;
  v1::WorklistUpdate update;
  while (reader->Read(&update)) {
    if (c.opts.json) {
      c.io.out << ToJson(update, false) << "\n";
    } else if (first && update.kind() == v1::WorklistUpdate::KIND_SNAPSHOT) {
      for (const auto& e : update.entries()) known.insert(e.id());
      c.io.out << FormatWorklist(
                      title, {update.entries().begin(), update.entries().end()},
                      absl::Now())
               << "Watching for changes (Ctrl-C to stop)...\n";
    } else {
      c.io.out << FormatWorklistUpdate(update, absl::Now(), &known);
    }
    first = false;
    c.io.out.flush();
  }
  grpc::Status s = reader->Finish();
  if (canceller.interrupted()) {
    if (!c.opts.json) c.io.err << "stopped\n";
    return kExitOk;
  }
  if (s.ok()) {
    if (!c.opts.json) c.io.err << "the server ended the watch\n";
    return kExitOk;
  }
  return conn.Fail(s, c.io);
}

// --- transitions, override
// ----------------------------------------------------

// The version to send: --version, or the record's current one (fetched and
// said so). Returns an exit code other than kExitOk on failure.
int ResolveVersion(const Invocation& c, Connection& conn, const std::string& id,
                   int64_t* version, v1::ReferralRecord* fetched,
                   bool* did_fetch) {
  *did_fetch = false;
  if (c.args.Has("--version")) {
    auto v = ParseInt("--version", c.args.Get("--version"), 0, INT64_MAX);
    if (!v.ok()) return c.Usage(v.status().message());
    *version = *v;
    return kExitOk;
  }
  grpc::ClientContext ctx;
  conn.Prepare(&ctx);
  v1::GetReferralRequest request;
  request.set_id(id);
  grpc::Status s = conn.referrals().GetReferral(&ctx, request, fetched);
  if (!s.ok()) return conn.Fail(s, c.io);
  *version = fetched->version();
  *did_fetch = true;
  c.io.err << "frontdoor " << c.verb.name
           << ": no --version given: using the current version " << *version
           << " of " << id << " (" << StatusText(fetched->status()) << ")\n";
  return kExitOk;
}

int Transition(const Invocation& c) {
  const std::string verb = c.verb.name;
  const ParsedArgs& a = c.args;
  if (a.positional.size() != 1)
    return c.Usage("expected one referral reference");
  absl::StatusOr<std::string> id = ParseReference(a.positional[0]);
  if (!id.ok()) return c.Usage(id.status().message());

  v1::TransitionReferralRequest request;
  auto require = [&](absl::string_view flag) -> bool {
    return !absl::StripAsciiWhitespace(a.Get(flag)).empty();
  };
  if (verb == "accept") {
    request.mutable_accept();
  } else if (verb == "reject") {
    if (!require("--reason")) return c.Usage("--reason is required");
    request.mutable_reject()->set_reason(a.Get("--reason"));
  } else if (verb == "redirect") {
    if (!require("--service"))
      return c.Usage("--service is required (the service to send it to)");
    if (!require("--reason")) return c.Usage("--reason is required");
    request.mutable_redirect()->set_service_id(a.Get("--service"));
    request.mutable_redirect()->set_reason(a.Get("--reason"));
  } else if (verb == "return") {
    if (!require("--advice")) return c.Usage("--advice is required");
    request.mutable_return_with_advice()->set_advice(a.Get("--advice"));
  } else if (verb == "close") {
    request.mutable_close()->set_note(a.Get("--note"));
  } else if (verb == "cancel") {
    if (!require("--reason")) return c.Usage("--reason is required");
    request.mutable_cancel()->set_reason(a.Get("--reason"));
  }

  Connection conn(c.opts);
  int64_t version = 0;
  v1::ReferralRecord before;
  bool fetched = false;
  if (int code = ResolveVersion(c, conn, *id, &version, &before, &fetched);
      code != kExitOk) {
    return code;
  }
  request.set_id(*id);
  request.set_expected_version(version);
  request.set_actor(c.opts.actor);
  grpc::ClientContext ctx;
  conn.Prepare(&ctx);
  v1::ReferralRecord after;
  grpc::Status s = conn.referrals().TransitionReferral(&ctx, request, &after);
  if (!s.ok()) return conn.Fail(s, c.io);
  if (c.opts.json) {
    c.io.out << ToJson(after, true);
    return kExitOk;
  }
  c.io.out << after.id() << ": ";
  if (fetched)
    c.io.out << StatusText(before.status()) << " -> ";
  else
    c.io.out << "now ";
  c.io.out << StatusText(after.status()) << " (version " << after.version()
           << ")\n";
  if (verb == "redirect") {
    c.io.out << "  service  " << after.service().service_id()
             << (after.service().service_name().empty()
                     ? ""
                     : absl::StrCat(" (", after.service().service_name(), ")"))
             << "\n";
  }
  if (after.sla() == v1::SLA_STATE_MET ||
      after.sla() == v1::SLA_STATE_BREACHED) {
    c.io.out << "  target   " << SlaText(after.sla()) << "\n";
  }
  return kExitOk;
}

int Override(const Invocation& c) {
  const ParsedArgs& a = c.args;
  if (a.positional.size() != 1)
    return c.Usage("expected one referral reference");
  absl::StatusOr<std::string> id = ParseReference(a.positional[0]);
  if (!id.ok()) return c.Usage(id.status().message());
  for (const char* flag :
       {"--pathway", "--urgency", "--reason", "--clinician"}) {
    if (absl::StripAsciiWhitespace(a.Get(flag)).empty()) {
      return c.Usage(absl::StrCat(flag, " is required"));
    }
  }
  auto pathway =
      ParseEnumFlag<v1::Pathway>(v1::Pathway_descriptor(), a, "--pathway");
  if (!pathway.ok()) return c.Usage(pathway.status().message());
  auto urgency =
      ParseEnumFlag<v1::Urgency>(v1::Urgency_descriptor(), a, "--urgency");
  if (!urgency.ok()) return c.Usage(urgency.status().message());

  Connection conn(c.opts);
  int64_t version = 0;
  v1::ReferralRecord before;
  bool fetched = false;
  if (int code = ResolveVersion(c, conn, *id, &version, &before, &fetched);
      code != kExitOk) {
    return code;
  }
  v1::OverrideTriageRequest request;
  request.set_id(*id);
  request.set_expected_version(version);
  request.set_clinician(a.Get("--clinician"));
  request.set_pathway(*pathway);
  request.set_urgency(*urgency);
  request.set_reason(a.Get("--reason"));
  grpc::ClientContext ctx;
  conn.Prepare(&ctx);
  v1::ReferralRecord after;
  grpc::Status s = conn.referrals().OverrideTriage(&ctx, request, &after);
  if (!s.ok()) return conn.Fail(s, c.io);
  if (c.opts.json) {
    c.io.out << ToJson(after, true);
    return kExitOk;
  }
  c.io.out << after.id() << ": triage overridden by " << request.clinician()
           << ": " << PathwayText(after.pathway()) << " "
           << UrgencyText(after.urgency()) << ", " << StatusText(after.status())
           << " (version " << after.version() << ")\n";
  c.io.out << "  due      "
           << (after.has_due_at() ? FormatLocalTime(after.due_at(), true)
                                  : "no target time")
           << "\n";
  if (after.decision().safety_critical() &&
      after.urgency() > after.decision().urgency()) {
    c.io.out << "  warning  this is less urgent than a safety-critical triage "
                "outcome ("
             << UrgencyText(after.decision().urgency()) << ", "
             << after.decision().decisive_row() << ")\n";
  }
  return kExitOk;
}

// --- directory, capacity, match
// -------------------------------------------------

int Directory(const Invocation& c) {
  if (!c.args.positional.empty())
    return c.Usage("directory takes no positional arguments");
  v1::ListServicesRequest request;
  if (c.args.Has("--pathway")) {
    auto p = ParseEnumFlag<v1::Pathway>(v1::Pathway_descriptor(), c.args,
                                        "--pathway");
    if (!p.ok()) return c.Usage(p.status().message());
    request.set_pathway(*p);
  }
  Connection conn(c.opts);
  grpc::ClientContext ctx;
  conn.Prepare(&ctx);
  v1::ListServicesResponse response;
  grpc::Status s = conn.directory().ListServices(&ctx, request, &response);
  if (!s.ok()) return conn.Fail(s, c.io);
  c.io.out << (c.opts.json ? ToJson(response, true)
                           : FormatDirectory(response));
  return kExitOk;
}

int Capacity(const Invocation& c) {
  const ParsedArgs& a = c.args;
  if (a.positional.size() != 2) {
    return c.Usage(
        "expected a service id and a capacity (GREEN, AMBER or RED)");
  }
  v1::SetCapacityRequest request;
  request.set_service_id(a.positional[0]);
  absl::StatusOr<int> level =
      ParseEnum(v1::Capacity_descriptor(), a.positional[1], "capacity");
  if (!level.ok()) return c.Usage(level.status().message());
  request.set_capacity(static_cast<v1::Capacity>(*level));
  if (a.Has("--minutes")) {
    auto m = ParseInt("--minutes", a.Get("--minutes"), 1, 1440);
    if (!m.ok()) return c.Usage(m.status().message());
    request.set_expires_after_minutes(static_cast<int32_t>(*m));
  }
  request.set_set_by(c.opts.actor);
  Connection conn(c.opts);
  grpc::ClientContext ctx;
  conn.Prepare(&ctx);
  v1::ServiceState state;
  grpc::Status s = conn.directory().SetCapacity(&ctx, request, &state);
  if (!s.ok()) return conn.Fail(s, c.io);
  if (c.opts.json) {
    c.io.out << ToJson(state, true);
    return kExitOk;
  }
  c.io.out << state.service().id();
  if (!state.service().name().empty())
    c.io.out << " (" << state.service().name() << ")";
  c.io.out << ": capacity "
           << ShortName(v1::Capacity_descriptor(), state.capacity());
  if (state.has_capacity_expires_at()) {
    c.io.out << " until " << FormatLocalTime(state.capacity_expires_at())
             << " (then back to "
             << ShortName(v1::Capacity_descriptor(),
                          state.service().default_capacity())
             << ")";
  }
  if (!state.capacity_set_by().empty())
    c.io.out << ", set by " << state.capacity_set_by();
  c.io.out << "\n";
  return kExitOk;
}

int Match(const Invocation& c) {
  const ParsedArgs& a = c.args;
  if (!a.positional.empty())
    return c.Usage("match takes no positional arguments");
  if (!a.Has("--pathway") || !a.Has("--urgency")) {
    return c.Usage("--pathway and --urgency are required");
  }
  v1::MatchServiceRequest request;
  auto pathway =
      ParseEnumFlag<v1::Pathway>(v1::Pathway_descriptor(), a, "--pathway");
  if (!pathway.ok()) return c.Usage(pathway.status().message());
  auto urgency =
      ParseEnumFlag<v1::Urgency>(v1::Urgency_descriptor(), a, "--urgency");
  if (!urgency.ok()) return c.Usage(urgency.status().message());
  request.set_pathway(*pathway);
  request.set_urgency(*urgency);
  request.set_age_days(-1);
  if (a.Has("--age-days")) {
    auto d = ParseInt("--age-days", a.Get("--age-days"), 0, 200 * 366);
    if (!d.ok()) return c.Usage(d.status().message());
    request.set_age_days(static_cast<int32_t>(*d));
  }
  if (a.Has("--sex")) {
    auto sex =
        ParseEnumFlag<v1::Sex>(v1::Sex_descriptor(), a, "--sex", SexAliases());
    if (!sex.ok()) return c.Usage(sex.status().message());
    request.set_sex(*sex);
  }
  if (a.Has("--postcode"))
    request.set_postcode_district(PostcodeDistrict(a.Get("--postcode")));
  if (a.Has("--at")) {
    absl::Time at;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, a.Get("--at"), &at, &error)) {
      return c.Usage(absl::StrCat(
          "--at: '", a.Get("--at"),
          "' is not an RFC 3339 time (e.g. 2026-11-23T14:20:00Z)"));
    }
    *request.mutable_at() = ToProtoTime(at);
  }
  Connection conn(c.opts);
  grpc::ClientContext ctx;
  conn.Prepare(&ctx);
  v1::ServiceMatch match;
  grpc::Status s = conn.directory().MatchService(&ctx, request, &match);
  if (!s.ok()) return conn.Fail(s, c.io);
  c.io.out << (c.opts.json ? ToJson(match, true) : FormatMatch(match));
  return kExitOk;
}

// --- admin
// -------------------------------------------------------------------------

constexpr absl::string_view kAdminUsage =
    R"(usage: frontdoor admin <command> [arguments]

Commands:
  backup DIR [--data=DATA_DIR]
                     back up the referral store into DIR (incremental: the
                     same DIR can take many backups). Without --data the
                     running frontdoor-server takes the backup (DIR is on the
                     server's machine; a relative DIR is made absolute here).
                     With --data, the store in DATA_DIR (the server's
                     --data_dir; the store is DATA_DIR/referrals) is opened
                     directly: only when no server has it open.
  token create|list|revoke --tokens_file=FILE ...
                     the callers the server knows and their bearer tokens
                     ('frontdoor admin token --help')
  restore BACKUP_DIR DATA_DIR [--force]
                     restore the latest backup in BACKUP_DIR as the store of
                     DATA_DIR (DATA_DIR/referrals), with frontdoor-server
                     stopped. --force replaces a store that is already there.

Options: --json; for backup through the server also --server=HOST:PORT and
--timeout=DURATION (default 10m).
)";

// The store directory inside a data directory: DATA/referrals, unless DATA
// is itself a store (holds CURRENT) and has no referrals/ inside.
std::string StorePath(const std::string& data_dir) {
  std::error_code ec;
  const fs::path data(data_dir);
  if (!fs::exists(data / "referrals", ec) && fs::exists(data / "CURRENT", ec)) {
    return data.string();
  }
  return (data / "referrals").string();
}

// The pid of another process holding the store's lock (RocksDB locks LOCK
// with fcntl), or 0.
pid_t StoreLockHolder(const std::string& store_path) {
  const std::string lock = (fs::path(store_path) / "LOCK").string();
  int fd = open(lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock fl;
  std::memset(&fl, 0, sizeof(fl));
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  pid_t holder = 0;
  if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) holder = fl.l_pid;
  close(fd);
  return holder;
}

void PrintBackup(const v1::BackupResponse& b, bool json, const Io& io) {
  if (json) {
    io.out << ToJson(b, true);
    return;
  }
  io.out << "backup " << b.backup_id() << " written to " << b.dir() << " ("
         << FormatBytes(b.bytes()) << ")\n"
         << "restore it with: frontdoor admin restore " << b.dir()
         << " DATA_DIR\n";
}

int AdminUsage(const Io& io, absl::string_view command,
               absl::string_view message) {
  io.err << "frontdoor " << command << ": " << message << "\n\n" << kAdminUsage;
  return kExitUsage;
}

int AdminBackup(const std::vector<std::string>& args, const Io& io,
                const ClientEnv& env) {
  std::vector<FlagSpec> flags = ConnectionFlags();
  flags.push_back({"--data", Kind::kValue});
  absl::StatusOr<ParsedArgs> a = ParseFlags(args, 2, flags);
  if (!a.ok()) return AdminUsage(io, "admin backup", a.status().message());
  if (a->help) {
    io.out << kAdminUsage;
    return kExitOk;
  }
  if (a->positional.size() != 1)
    return AdminUsage(io, "admin backup", "expected one DIR");
  ParsedArgs common = *a;
  if (!common.Has("--timeout")) common.flags["--timeout"] = {"10m"};
  absl::StatusOr<CommonOptions> opts = ResolveCommonOptions(common, env);
  if (!opts.ok())
    return AdminUsage(io, "admin backup", opts.status().message());
  std::error_code ec;
  const std::string dir =
      fs::absolute(a->positional[0], ec).lexically_normal().string();
  if (ec)
    return AdminUsage(io, "admin backup",
                      absl::StrCat(a->positional[0], ": ", ec.message()));

  if (a->Has("--data")) {
    const std::string store_path = StorePath(a->Get("--data"));
    if (!fs::exists(fs::path(store_path) / "CURRENT", ec)) {
      io.err << "frontdoor admin backup: no referral store in " << store_path
             << "\n";
      return kExitFindings;
    }
    if (pid_t pid = StoreLockHolder(store_path); pid != 0) {
      io.err << "frontdoor admin backup: the store " << store_path
             << " is open in another process (pid " << pid
             << ", frontdoor-server?): run 'frontdoor admin backup " << dir
             << "' without --data to back up through the server\n";
      return kExitFindings;
    }
    storage::ReferralStore::Options options;
    options.path = store_path;
    absl::StatusOr<std::unique_ptr<storage::ReferralStore>> store =
        storage::ReferralStore::Open(options);
    if (!store.ok()) {
      io.err << "frontdoor: " << absl::StatusCodeToString(store.status().code())
             << ": cannot open the store " << store_path << ": "
             << store.status().message() << "\n";
      return kExitFindings;
    }
    absl::StatusOr<v1::BackupResponse> b =
        admin::BackupStore(store->get(), dir);
    (*store)->Close();
    if (!b.ok()) {
      io.err << "frontdoor: " << absl::StatusCodeToString(b.status().code())
             << ": " << b.status().message() << "\n";
      return kExitFindings;
    }
    PrintBackup(*b, opts->json, io);
    return kExitOk;
  }

  Connection conn(*opts);
  grpc::ClientContext ctx;
  conn.Prepare(&ctx);
  v1::BackupRequest request;
  request.set_dir(dir);
  v1::BackupResponse response;
  grpc::Status s = conn.admin().Backup(&ctx, request, &response);
  if (!s.ok()) {
    int code = conn.Fail(s, io);
    if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      io.err << "frontdoor: this frontdoor-server does not offer backups (no "
                "AdminService); "
                "stop it and run 'frontdoor admin backup "
             << dir << " --data=DATA_DIR'\n";
    }
    return code;
  }
  PrintBackup(response, opts->json, io);
  return kExitOk;
}

int AdminRestore(const std::vector<std::string>& args, const Io& io) {
  absl::StatusOr<ParsedArgs> a =
      ParseFlags(args, 2, {{"--json", Kind::kBool}, {"--force", Kind::kBool}});
  if (!a.ok()) return AdminUsage(io, "admin restore", a.status().message());
  if (a->help) {
    io.out << kAdminUsage;
    return kExitOk;
  }
  if (a->positional.size() != 2) {
    return AdminUsage(io, "admin restore", "expected BACKUP_DIR and DATA_DIR");
  }
  const std::string backup_dir = a->positional[0];
  const std::string store_path = StorePath(a->positional[1]);
  absl::StatusOr<v1::BackupResponse> latest =
      admin::DescribeLatestBackup(backup_dir);
  if (!latest.ok()) {
    io.err << "frontdoor admin restore: " << latest.status().message() << "\n";
    return kExitFindings;
  }
  if (pid_t pid = StoreLockHolder(store_path); pid != 0) {
    io.err << "frontdoor admin restore: the store " << store_path
           << " is open in another process (pid " << pid
           << ", frontdoor-server?): stop it first\n";
    return kExitFindings;
  }
  std::error_code ec;
  if (fs::exists(fs::path(store_path) / "CURRENT", ec) && !a->Has("--force")) {
    io.err << "frontdoor admin restore: " << store_path
           << " already holds a referral store; restoring replaces it: add "
              "--force (back it "
              "up first if it may be needed)\n";
    return kExitFindings;
  }
  fs::create_directories(store_path, ec);
  if (ec) {
    io.err << "frontdoor admin restore: cannot create " << store_path << ": "
           << ec.message() << "\n";
    return kExitFindings;
  }
  absl::Status restored = storage::RestoreReferralStore(backup_dir, store_path);
  if (!restored.ok()) {
    io.err << "frontdoor: " << absl::StatusCodeToString(restored.code()) << ": "
           << restored.message() << "\n";
    return kExitFindings;
  }
  // Open it once: proves the restored store is usable and counts it.
  storage::ReferralStore::Options options;
  options.path = store_path;
  absl::StatusOr<std::unique_ptr<storage::ReferralStore>> store =
      storage::ReferralStore::Open(options);
  if (!store.ok()) {
    io.err << "frontdoor: " << absl::StatusCodeToString(store.status().code())
           << ": the restored store does not open: " << store.status().message()
           << "\n";
    return kExitFindings;
  }
  absl::StatusOr<int64_t> count = (*store)->ApproximateReferralCount();
  (*store)->Close();
  if (a->Has("--json")) {
    google::protobuf::Struct out;
    auto& f = *out.mutable_fields();
    f["backup_dir"].set_string_value(backup_dir);
    f["backup_id"].set_number_value(static_cast<double>(latest->backup_id()));
    f["store"].set_string_value(store_path);
    if (count.ok())
      f["referrals"].set_number_value(static_cast<double>(*count));
    io.out << ToJson(out, true);
    return kExitOk;
  }
  io.out << "restored backup " << latest->backup_id() << " of " << backup_dir
         << " (" << FormatBytes(latest->bytes()) << ") into " << store_path;
  if (count.ok()) io.out << ": " << Plural(*count, "referral");
  io.out << "\n";
  return kExitOk;
}

int Admin(const std::vector<std::string>& args, const Io& io,
          const ClientEnv& env) {
  if (args.size() < 2) {
    io.err << "frontdoor admin: missing command\n\n" << kAdminUsage;
    return kExitUsage;
  }
  const std::string& command = args[1];
  if (command == "--help" || command == "-h" || command == "help") {
    io.out << kAdminUsage;
    return kExitOk;
  }
  if (command == "backup") return AdminBackup(args, io, env);
  if (command == "restore") return AdminRestore(args, io);
  if (command == "token") return RunTokenCommand(args, io, absl::Now());
  io.err << "frontdoor admin: unknown command '" << command << "'\n\n"
         << kAdminUsage;
  return kExitUsage;
}

// --- The verb table
// ----------------------------------------------------------------

const std::vector<Verb>& Verbs() {
  static const auto* verbs = new std::vector<Verb>{
      {"submit",
       R"(usage: frontdoor submit FILE|- [--request-id=ID] [--submitted-by=NAME]
       frontdoor submit --problem=P [referral flags...]

Submits a referral (frontdoor.v1.Referral in protobuf JSON, from FILE or
standard input; unknown fields are errors) and prints its reference, pathway,
urgency, due time (Europe/London), service, warnings and why.

  --request-id=ID       idempotency key (default: a new random id, printed;
                        retrying with the same id never stores it twice)
  --submitted-by=NAME   accepted; the server records the caller its token names

Referral flags (instead of FILE):
  --problem=FALL        presenting problem (FALL, CHEST_PAIN, ...)
  --nhs=9434765919      NHS number
  --dob=1950-03-01      date of birth        --age=N   stated age in years
  --sex=F|M|...         sex                  --postcode=LS1  district
  --phone=NUMBER        contact route        --referrer=GP|111|999|CARE_HOME|...
  --text=TEXT           the referrer's words
  --rr=N --spo2=N --o2=yes|no --sbp=N --pulse=N --temp=37.5
                        observations (breaths/min, %, on oxygen, mmHg,
                        beats/min, degrees C)
  --consciousness=A|C|V|P|U   ACVPU (C: new confusion)
  --finding=NAME=VALUE  any field of Findings, repeatable: fall=yes,
                        on_anticoagulant=no, chest_pain_timing=ONGOING,
                        clinical_frailty_scale=6
)",
       {{"--request-id", Kind::kValue},
        {"--submitted-by", Kind::kValue},
        {"--problem", Kind::kValue},
        {"--nhs", Kind::kValue},
        {"--dob", Kind::kValue},
        {"--age", Kind::kValue},
        {"--sex", Kind::kValue},
        {"--postcode", Kind::kValue},
        {"--phone", Kind::kValue},
        {"--referrer", Kind::kValue},
        {"--text", Kind::kValue},
        {"--rr", Kind::kValue},
        {"--spo2", Kind::kValue},
        {"--o2", Kind::kValue},
        {"--sbp", Kind::kValue},
        {"--pulse", Kind::kValue},
        {"--consciousness", Kind::kValue},
        {"--temp", Kind::kValue},
        {"--finding", Kind::kRepeated}},
       true,
       Submit},
      {"get",
       R"(usage: frontdoor get REF

Shows a referral (REF like K3M7-9Q2D-X8A, any case, with or without the
dashes): status, pathway, urgency, due time, service, why, and its events.
)",
       {},
       false,
       Get},
      {"events",
       R"(usage: frontdoor events REF

Lists a referral's events: who changed what, when and why.
)",
       {},
       false,
       Events},
      {"list",
       R"(usage: frontdoor list [--pathway=P] [--service=S] [--status=S] [--nhs=N]
                      [--breached] [--page-size=N] [--page-token=T] [--all]

Lists referrals, newest first. --all follows the page tokens to the end.
)",
       {{"--pathway", Kind::kValue},
        {"--service", Kind::kValue},
        {"--status", Kind::kValue},
        {"--nhs", Kind::kValue},
        {"--breached", Kind::kBool},
        {"--page-size", Kind::kValue},
        {"--page-token", Kind::kValue},
        {"--all", Kind::kBool}},
       false,
       List},
      {"worklist",
       R"(usage: frontdoor worklist (--pathway=P | --service=S)

The active referrals of a pathway or a service by due time: reference,
urgency, status, due (Europe/London), time to breach, problem, and whether
missing data needs a clinician's review.
)",
       {{"--pathway", Kind::kValue}, {"--service", Kind::kValue}},
       false,
       Worklist},
      {"watch",
       R"(usage: frontdoor watch (--pathway=P | --service=S)

Prints the worklist, then each change as it happens, until Ctrl-C or the
server ends the stream. --json: one WorklistUpdate per line.
)",
       {{"--pathway", Kind::kValue}, {"--service", Kind::kValue}},
       false,
       Watch},
      {"accept",
       R"(usage: frontdoor accept REF [--version=N]

Accepts a triaged or redirected referral. --version is the version you saw
(a stale one fails with ABORTED); without it the current version is used.
)",
       {{"--version", Kind::kValue}},
       true,
       Transition},
      {"reject",
       R"(usage: frontdoor reject REF --reason=TEXT [--version=N]
)",
       {{"--version", Kind::kValue}, {"--reason", Kind::kValue}},
       true,
       Transition},
      {"redirect",
       R"(usage: frontdoor redirect REF --service=ID --reason=TEXT [--version=N]

Sends the referral to another service (see 'frontdoor directory').
)",
       {{"--version", Kind::kValue},
        {"--service", Kind::kValue},
        {"--reason", Kind::kValue}},
       true,
       Transition},
      {"return",
       R"(usage: frontdoor return REF --advice=TEXT [--version=N]

Returns the referral to the referrer with advice.
)",
       {{"--version", Kind::kValue}, {"--advice", Kind::kValue}},
       true,
       Transition},
      {"close",
       R"(usage: frontdoor close REF [--note=TEXT] [--version=N]
)",
       {{"--version", Kind::kValue}, {"--note", Kind::kValue}},
       true,
       Transition},
      {"cancel",
       R"(usage: frontdoor cancel REF --reason=TEXT [--version=N]
)",
       {{"--version", Kind::kValue}, {"--reason", Kind::kValue}},
       true,
       Transition},
      {"override",
       R"(usage: frontdoor override REF --pathway=P --urgency=U --reason=TEXT
                              --clinician=NAME [--version=N]

A clinician replaces the triage outcome; the due time follows the new urgency.
)",
       {{"--version", Kind::kValue},
        {"--pathway", Kind::kValue},
        {"--urgency", Kind::kValue},
        {"--reason", Kind::kValue},
        {"--clinician", Kind::kValue}},
       false,
       Override},
      {"directory",
       R"(usage: frontdoor directory [--pathway=P]

Lists the services: id, name, pathways, live capacity, open now.
)",
       {{"--pathway", Kind::kValue}},
       false,
       Directory},
      {"capacity",
       R"(usage: frontdoor capacity SERVICE GREEN|AMBER|RED [--minutes=N]

Sets a service's live capacity; it reverts to the default after --minutes
(default 240, at most 1440).
)",
       {{"--minutes", Kind::kValue}},
       true,
       Capacity},
      {"match",
       R"(usage: frontdoor match --pathway=P --urgency=U [--age-days=N] [--sex=S]
                       [--postcode=X] [--at=RFC3339]

Which service a referral with this outcome would be sent to, and why.
)",
       {{"--pathway", Kind::kValue},
        {"--urgency", Kind::kValue},
        {"--age-days", Kind::kValue},
        {"--sex", Kind::kValue},
        {"--postcode", Kind::kValue},
        {"--at", Kind::kValue}},
       false,
       Match},
  };
  return *verbs;
}

int RunVerb(const Verb& verb, const std::vector<std::string>& args,
            const Io& io, const ClientEnv& env) {
  std::vector<FlagSpec> flags = ConnectionFlags();
  if (verb.changes) flags.push_back({"--actor", Kind::kValue});
  flags.insert(flags.end(), verb.flags.begin(), verb.flags.end());
  ParsedArgs none;
  CommonOptions no_opts;
  absl::StatusOr<ParsedArgs> parsed = ParseFlags(args, 1, flags);
  if (!parsed.ok()) {
    return Invocation{verb, none, no_opts, io}.Usage(parsed.status().message());
  }
  if (parsed->help) {
    io.out << verb.help << kCommonHelp;
    if (verb.changes)
      io.out << "--actor=NAME: accepted, but the server records the caller "
                "its token names.\n";
    return kExitOk;
  }
  absl::StatusOr<CommonOptions> opts = ResolveCommonOptions(*parsed, env);
  if (!opts.ok())
    return Invocation{verb, *parsed, no_opts, io}.Usage(
        opts.status().message());
  return verb.run(Invocation{verb, *parsed, *opts, io});
}

}  // namespace

// --- Public entry points
// ------------------------------------------------------------

ClientEnv ClientEnv::FromProcess() {
  ClientEnv env;
  if (const char* s = std::getenv("FRONTDOOR_SERVER"); s != nullptr)
    env.server = s;
  if (const char* t = std::getenv("FRONTDOOR_TOKEN"); t != nullptr)
    env.token = t;
  if (const char* f = std::getenv("FRONTDOOR_TOKEN_FILE"); f != nullptr)
    env.token_file = f;
  for (const char* name : {"USER", "LOGNAME"}) {
    if (const char* u = std::getenv(name); u != nullptr && *u != '\0') {
      env.user = u;
      break;
    }
  }
  if (env.user.empty()) {
    if (const struct passwd* pw = getpwuid(getuid()); pw != nullptr)
      env.user = pw->pw_name;
  }
  return env;
}

std::string TopLevelUsage() { return std::string(kTopLevelUsage); }

bool IsClientVerb(absl::string_view verb) {
  if (verb == "admin") return true;
  for (const Verb& v : Verbs()) {
    if (verb == v.name) return true;
  }
  return false;
}

int RunCli(const std::vector<std::string>& args, const Io& io,
           const ClientEnv& env) {
  if (args.empty()) {
    io.err << kTopLevelUsage;
    return kExitUsage;
  }
  const std::string& command = args[0];
  if (command == "--help" || command == "-h" || command == "help") {
    io.out << kTopLevelUsage;
    return kExitOk;
  }
  if (command == "rules") return RunFrontdoor(args, io);
  if (command == "admin") return Admin(args, io, env);
  for (const Verb& v : Verbs()) {
    if (command == v.name) return RunVerb(v, args, io, env);
  }
  io.err << "frontdoor: unknown command '" << command << "'\n\n"
         << kTopLevelUsage;
  return kExitUsage;
}

// --- Parsing
// ---------------------------------------------------------------------

bool ParsedArgs::Has(absl::string_view name) const {
  return flags.find(std::string(name)) != flags.end();
}

std::string ParsedArgs::Get(absl::string_view name,
                            absl::string_view fallback) const {
  auto it = flags.find(std::string(name));
  if (it == flags.end() || it->second.empty()) return std::string(fallback);
  return it->second.back();
}

std::vector<std::string> ParsedArgs::All(absl::string_view name) const {
  auto it = flags.find(std::string(name));
  return it == flags.end() ? std::vector<std::string>() : it->second;
}

absl::StatusOr<ParsedArgs> ParseFlags(const std::vector<std::string>& args,
                                      size_t from,
                                      const std::vector<FlagSpec>& allowed) {
  ParsedArgs out;
  bool options = true;
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options && a == "--") {
      options = false;
      continue;
    }
    if (options && (a == "--help" || a == "-h")) {
      out.help = true;
      continue;
    }
    if (!options || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a[1] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option '", a, "'"));
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    auto spec = std::find_if(allowed.begin(), allowed.end(),
                             [&](const FlagSpec& f) { return f.name == name; });
    if (spec == allowed.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option '", name, "'"));
    }
    std::string value;
    if (spec->kind == Kind::kBool) {
      if (eq != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, " takes no value"));
      }
    } else if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (i + 1 < args.size() && !absl::StartsWith(args[i + 1], "--")) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
    }
    if (spec->kind != Kind::kRepeated && out.Has(name)) {
      return absl::InvalidArgumentError(absl::StrCat(name, " is given twice"));
    }
    out.flags[name].push_back(value);
  }
  return out;
}

absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text) {
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--timeout: '", text, "' is not a duration (e.g. 10s, 500ms, 2m)"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout: '", text, "' must be positive"));
  }
  return d;
}

absl::StatusOr<CommonOptions> ResolveCommonOptions(const ParsedArgs& args,
                                                   const ClientEnv& env) {
  CommonOptions opts;
  opts.server =
      args.Get("--server", env.server.empty() ? kDefaultServer : env.server);
  const bool scheme = absl::StrContains(opts.server, "://") ||
                      absl::StartsWith(opts.server, "unix:") ||
                      absl::StartsWith(opts.server, "dns:");
  if (!scheme) {
    const size_t colon = opts.server.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(opts.server.substr(colon + 1), &port) || port < 1 ||
        port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--server: '", opts.server, "' is not HOST:PORT (e.g. ",
          kDefaultServer, ")",
          args.Has("--server") ? "" : " (from $FRONTDOOR_SERVER)"));
    }
  }
  if (args.Has("--timeout")) {
    absl::StatusOr<absl::Duration> t = ParseTimeout(args.Get("--timeout"));
    if (!t.ok()) return t.status();
    opts.timeout = *t;
  }
  opts.json = args.Has("--json");
  opts.actor = args.Get("--actor", env.user);
  const std::string token_file = args.Get("--token_file", env.token_file);
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token = auth::ReadSmallFile(token_file);
    if (!token.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token_file: ", token.status().message()));
    }
    opts.token = std::string(absl::StripAsciiWhitespace(*token));
  } else {
    opts.token = std::string(absl::StripAsciiWhitespace(env.token));
  }
  auth::ClientTlsFiles tls{args.Get("--tls_ca"), args.Get("--tls_cert"),
                           args.Get("--tls_key")};
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      auth::ClientCredentials(tls);
  if (!credentials.ok()) return credentials.status();
  opts.credentials = *std::move(credentials);
  return opts;
}

std::vector<FlagSpec> ConnectionFlags() {
  return {{"--server", Kind::kValue}, {"--timeout", Kind::kValue},
          {"--json", Kind::kBool},    {"--token_file", Kind::kValue},
          {"--tls_ca", Kind::kValue}, {"--tls_cert", Kind::kValue},
          {"--tls_key", Kind::kValue}};
}

std::shared_ptr<grpc::Channel> OpenChannel(const CommonOptions& opts,
                                           const grpc::ChannelArguments& args) {
  return auth::CreateChannelWithToken(opts.server,
                                      opts.credentials != nullptr
                                          ? opts.credentials
                                          : grpc::InsecureChannelCredentials(),
                                      args, opts.token);
}

std::string ShortName(const EnumDescriptor* type, int value) {
  const google::protobuf::EnumValueDescriptor* v =
      type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  absl::string_view name = v->name();
  absl::ConsumePrefix(&name, EnumPrefix(type));
  return std::string(name);
}

absl::StatusOr<int> ParseEnum(
    const EnumDescriptor* type, absl::string_view text, absl::string_view flag,
    const std::map<std::string, std::string>& aliases) {
  std::string norm = Upper(absl::StripAsciiWhitespace(text));
  absl::StrReplaceAll({{"-", "_"}, {" ", "_"}}, &norm);
  const std::string prefix = EnumPrefix(type);
  auto by_short = [&](absl::string_view short_name)
      -> const google::protobuf::EnumValueDescriptor* {
    const auto* v = type->FindValueByName(absl::StrCat(prefix, short_name));
    return v != nullptr && v->number() != 0 ? v : nullptr;
  };
  if (!norm.empty()) {
    if (const auto* v = type->FindValueByName(norm);
        v != nullptr && v->number() != 0) {
      return v->number();
    }
    if (const auto* v = by_short(norm); v != nullptr) return v->number();
    if (auto it = aliases.find(norm); it != aliases.end()) {
      if (const auto* v = by_short(it->second); v != nullptr)
        return v->number();
    }
    std::vector<const google::protobuf::EnumValueDescriptor*> candidates;
    for (int i = 0; i < type->value_count(); ++i) {
      const auto* v = type->value(i);
      if (v->number() == 0) continue;
      if (ContainsWords(ShortName(type, v->number()), norm))
        candidates.push_back(v);
    }
    if (candidates.size() == 1) return candidates[0]->number();
    if (candidates.size() > 1) {
      std::vector<std::string> names;
      for (const auto* v : candidates)
        names.push_back(ShortName(type, v->number()));
      return absl::InvalidArgumentError(absl::StrCat(
          flag, ": '", text, "' could be ", absl::StrJoin(names, " or ")));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": unknown value '", text,
                   "'; one of: ", absl::StrJoin(ShortNames(type), ", ")));
}

absl::StatusOr<v1::Referral> ParseReferralJson(absl::string_view json) {
  v1::Referral referral;
  // Default options: an unknown field is an error, not silently dropped.
  auto st = google::protobuf::util::JsonStringToMessage(
      std::string(json), &referral, google::protobuf::util::JsonParseOptions());
  if (!st.ok()) {
    std::string message(st.message());
    absl::StripTrailingAsciiWhitespace(&message);
    return absl::InvalidArgumentError(message);
  }
  return referral;
}

bool HasReferralFlags(const ParsedArgs& args) {
  for (const std::string& f : ReferralFlagNames()) {
    if (args.Has(f)) return true;
  }
  return false;
}

std::string PostcodeDistrict(absl::string_view text) {
  std::string s = Upper(absl::StripAsciiWhitespace(text));
  if (size_t space = s.find_first_of(" \t"); space != std::string::npos)
    return s.substr(0, space);
  // A full postcode without its space: the inward code is a digit and two
  // letters.
  const size_t n = s.size();
  if (n >= 5 && absl::ascii_isdigit(s[n - 3]) &&
      absl::ascii_isalpha(s[n - 2]) && absl::ascii_isalpha(s[n - 1])) {
    return s.substr(0, n - 3);
  }
  return s;
}

absl::Status SetFinding(absl::string_view assignment, v1::Findings* findings) {
  const size_t eq = assignment.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--finding: '", assignment,
                     "' is not NAME=VALUE (e.g. --finding fall=yes)"));
  }
  std::string name = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(assignment.substr(0, eq)));
  absl::StrReplaceAll({{"-", "_"}}, &name);
  const absl::string_view value =
      absl::StripAsciiWhitespace(assignment.substr(eq + 1));
  const std::string flag = absl::StrCat("--finding ", name);
  const google::protobuf::Descriptor* d = v1::Findings::descriptor();
  const FieldDescriptor* field = d->FindFieldByName(name);
  if (field == nullptr) {
    std::vector<std::string> near;
    for (int i = 0; i < d->field_count(); ++i) {
      const std::string& candidate = d->field(i)->name();
      if (!name.empty() && (absl::StrContains(candidate, name) ||
                            EditDistance(candidate, name) <= 2)) {
        near.push_back(candidate);
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "--finding: unknown finding '", name, "'",
        near.empty()
            ? "; see message Findings in protos/frontdoor/v1/referral.proto"
            : absl::StrCat("; did you mean ", absl::StrJoin(near, ", "), "?")));
  }
  const google::protobuf::Reflection* r = findings->GetReflection();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL: {
      absl::StatusOr<bool> b = ParseYesNo(flag, value);
      if (!b.ok()) return b.status();
      r->SetBool(findings, field, *b);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      absl::StatusOr<int> e = ParseEnum(field->enum_type(), value, flag);
      if (!e.ok()) return e.status();
      r->SetEnumValue(findings, field, *e);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      absl::StatusOr<int64_t> n = ParseInt(flag, value, INT32_MIN, INT32_MAX);
      if (!n.ok()) return n.status();
      r->SetInt32(findings, field, static_cast<int32_t>(*n));
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          flag, ": this finding cannot be set from the command line"));
  }
}

absl::StatusOr<v1::Referral> ReferralFromFlags(const ParsedArgs& a) {
  v1::Referral r;
  auto int_flag = [&](const char* flag, int64_t min, int64_t max,
                      auto set) -> absl::Status {
    if (!a.Has(flag)) return absl::OkStatus();
    absl::StatusOr<int64_t> v = ParseInt(flag, a.Get(flag), min, max);
    if (!v.ok()) return v.status();
    set(static_cast<int32_t>(*v));
    return absl::OkStatus();
  };
  if (a.Has("--problem")) {
    auto p = ParseEnumFlag<v1::PresentingProblem>(
        v1::PresentingProblem_descriptor(), a, "--problem");
    if (!p.ok()) return p.status();
    r.set_problem(*p);
  }
  v1::Patient* patient = r.mutable_patient();
  if (a.Has("--nhs")) {
    patient->set_nhs_number(
        absl::StrReplaceAll(a.Get("--nhs"), {{" ", ""}, {"-", ""}}));
  }
  if (a.Has("--dob")) {
    absl::StatusOr<v1::Date> dob = ParseDate("--dob", a.Get("--dob"));
    if (!dob.ok()) return dob.status();
    *patient->mutable_date_of_birth() = *dob;
  }
  if (absl::Status st =
          int_flag("--age", 0, 130,
                   [&](int32_t v) { patient->set_stated_age_years(v); });
      !st.ok()) {
    return st;
  }
  if (a.Has("--sex")) {
    auto sex =
        ParseEnumFlag<v1::Sex>(v1::Sex_descriptor(), a, "--sex", SexAliases());
    if (!sex.ok()) return sex.status();
    patient->set_sex(*sex);
  }
  if (a.Has("--postcode"))
    patient->set_postcode_district(PostcodeDistrict(a.Get("--postcode")));
  if (a.Has("--phone")) patient->set_contact_phone(a.Get("--phone"));
  if (a.Has("--referrer")) {
    auto type = ParseEnumFlag<v1::ReferrerType>(
        v1::ReferrerType_descriptor(), a, "--referrer", ReferrerAliases());
    if (!type.ok()) return type.status();
    r.mutable_referrer()->set_type(*type);
  }
  if (a.Has("--text")) r.set_free_text(a.Get("--text"));

  v1::Observations obs;
  bool any_obs = false;
  auto mark = [&](absl::Status st) {
    any_obs = true;
    return st;
  };
  const std::pair<const char*, std::function<void(int32_t)>> ints[] = {
      {"--rr", [&](int32_t v) { obs.set_respiratory_rate(v); }},
      {"--spo2", [&](int32_t v) { obs.set_spo2_percent(v); }},
      {"--sbp", [&](int32_t v) { obs.set_systolic_bp(v); }},
      {"--pulse", [&](int32_t v) { obs.set_pulse(v); }},
  };
  for (const auto& [flag, set] : ints) {
    if (!a.Has(flag)) continue;
    if (absl::Status st = mark(int_flag(flag, 0, 1000, set)); !st.ok())
      return st;
  }
  if (a.Has("--o2")) {
    absl::StatusOr<bool> o2 = ParseYesNo("--o2", a.Get("--o2"));
    if (!o2.ok()) return o2.status();
    obs.set_on_supplemental_oxygen(*o2);
    any_obs = true;
  }
  if (a.Has("--consciousness")) {
    auto acvpu = ParseEnumFlag<v1::Consciousness>(
        v1::Consciousness_descriptor(), a, "--consciousness",
        ConsciousnessAliases());
    if (!acvpu.ok()) return acvpu.status();
    obs.set_consciousness(*acvpu);
    any_obs = true;
  }
  if (a.Has("--temp")) {
    double t = 0;
    if (!absl::SimpleAtod(a.Get("--temp"), &t)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--temp: '", a.Get("--temp"), "' is not a temperature in degrees C"));
    }
    obs.set_temperature_celsius(t);
    any_obs = true;
  }
  if (any_obs) *r.mutable_observations() = obs;
  for (const std::string& f : a.All("--finding")) {
    if (absl::Status st = SetFinding(f, r.mutable_findings()); !st.ok())
      return st;
  }
  return r;
}

std::string NewRequestId() {
  std::random_device rd;
  std::array<uint8_t, 16> b;
  for (size_t i = 0; i < b.size(); i += 4) {
    const uint32_t v = rd();
    for (size_t j = 0; j < 4; ++j)
      b[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  std::string out;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    absl::StrAppendFormat(&out, "%02x", b[i]);
  }
  return out;
}

// --- Formatting
// ----------------------------------------------------------------------

absl::TimeZone DisplayTimeZone() {
  static const absl::TimeZone* zone = [] {
    auto* tz = new absl::TimeZone();
    if (!absl::LoadTimeZone("Europe/London", tz)) *tz = absl::UTCTimeZone();
    return tz;
  }();
  return *zone;
}

std::string FormatLocalTime(const google::protobuf::Timestamp& ts,
                            bool with_year) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  const absl::Time t = FromProtoTime(ts);
  const absl::TimeZone tz = DisplayTimeZone();
  const absl::CivilSecond cs = absl::ToCivilSecond(t, tz);
  return absl::StrCat(
      absl::FormatTime("%a ", t, tz), cs.day(),
      absl::FormatTime(with_year ? " %b %Y %H:%M %Z" : " %b %H:%M %Z", t, tz));
}

std::string FormatTimeToBreach(int64_t seconds) {
  const bool late = seconds < 0;
  const int64_t abs = late ? -seconds : seconds;
  // Rounded against the reader: time left down, time overdue up.
  const int64_t minutes = late ? (abs + 59) / 60 : abs / 60;
  std::string text;
  if (minutes >= 48 * 60) {
    text = absl::StrFormat("%dd%02dh", minutes / (24 * 60),
                           (minutes % (24 * 60)) / 60);
  } else {
    text = absl::StrFormat("%dh%02dm", minutes / 60, minutes % 60);
  }
  return late ? absl::StrCat("-", text, " BREACHED") : text;
}

std::string TimeToBreachCell(const v1::WorklistEntry& entry, absl::Time now) {
  if (!entry.has_due_at()) return "no target";
  if (entry.sla() == v1::SLA_STATE_MET) return "met";
  return FormatTimeToBreach(
      absl::ToInt64Seconds(FromProtoTime(entry.due_at()) - now));
}

std::string FormatBytes(int64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  const char* units[] = {"KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return absl::StrFormat("%.1f %s", v, units[u]);
}

std::string FormatReferenceBanner(absl::string_view reference) {
  const std::string grouped =
      absl::StrJoin(absl::StrSplit(reference, '-', absl::SkipEmpty()), " - ");
  const std::string inner = absl::StrCat("   ", grouped, "   ");
  const std::string rule =
      absl::StrCat("    +", std::string(inner.size(), '-'), "+\n");
  return absl::StrCat(rule, "    |", inner, "|\n", rule);
}

namespace {

std::string RowText(const v1::FiredRow& f) {
  std::string s = absl::StrCat(f.table(), "/", f.row());
  if (f.pathway() != v1::PATHWAY_UNSPECIFIED) {
    absl::StrAppend(&s, " -> ", PathwayText(f.pathway()), " ",
                    UrgencyText(f.urgency()));
  }
  if (f.safety_critical()) absl::StrAppend(&s, " [safety-critical]");
  return s;
}

}  // namespace

std::string FormatDecisionLines(const v1::TriageDecision& d) {
  Fields out(14);
  const v1::FiredRow* decisive = nullptr;
  for (const auto& f : d.fired()) {
    if (f.decisive()) decisive = &f;
  }
  if (decisive != nullptr) {
    out.Add("Decisive row",
            absl::StrCat(RowText(*decisive),
                         d.could_escalate_size() > 0
                             ? " (the outcome without the missing data)"
                             : ""));
    if (!decisive->note().empty()) out.Add("", decisive->note());
    if (!decisive->source().empty())
      out.Add("", absl::StrCat("source: ", decisive->source()));
  } else if (d.decisive_row() == "fallback") {
    out.Add("Decisive row", "fallback (no rule gave an outcome)");
  } else if (!d.decisive_row().empty()) {
    out.Add("Decisive row", d.decisive_row());
  }
  if (d.could_escalate_size() > 0) {
    out.Add("Missing data",
            absl::StrCat(absl::StrJoin(d.missing_inputs(), ", "),
                         ": could make this more urgent, so a clinician must "
                         "review it"));
    for (const auto& f : d.could_escalate()) {
      out.Add("", absl::StrCat(
                      "? ", RowText(f),
                      f.missing_inputs().empty()
                          ? ""
                          : absl::StrCat(
                                " (needs ",
                                absl::StrJoin(f.missing_inputs(), ", "), ")")));
    }
  } else {
    out.Add("Missing data", "none that could change the outcome");
  }
  if (d.has_override()) {
    const v1::Override& o = d.override();
    out.Add("Override",
            absl::StrCat(o.by_row(), " replaced ",
                         PathwayText(o.from_pathway()), " ",
                         UrgencyText(o.from_urgency()), " (", o.from_row(), ")",
                         o.lowered_safety_critical()
                             ? ": a safety-critical outcome was lowered"
                             : ""));
  }
  if (d.flags_size() > 0) {
    std::vector<std::string> flags;
    for (int f : d.flags()) flags.push_back(FlagText(f));
    out.Add("Flags", absl::StrJoin(flags, ", "));
  }
  for (const auto& s : d.scores()) {
    std::string v = FormatNumber(s.value());
    if (!s.complete()) {
      v = absl::StrCat(
          "at least ", v, ", up to ", FormatNumber(s.highest_possible()),
          " (not recorded: ", absl::StrJoin(s.missing_inputs(), ", "), ")");
    }
    out.Add(s.name(), v);
  }
  if (!d.rule_set_version().empty()) {
    out.Add("Rule set", absl::StrCat(d.rule_set_name(), " version ",
                                     d.rule_set_version().substr(0, 12)));
  }
  return out.text();
}

std::string FormatSubmitResult(const v1::SubmitReferralResponse& response,
                               absl::Time now) {
  const v1::ReferralRecord& r = response.record();
  std::string out;
  if (response.replayed()) {
    absl::StrAppend(
        &out,
        "This request id was used before: nothing new was stored. The first "
        "result:\n\n");
  } else {
    absl::StrAppend(&out, "Referral stored.\n\n");
  }
  absl::StrAppend(&out, "Reference (read it out to the referrer):\n\n",
                  FormatReferenceBanner(r.id()), "\n");
  Fields f;
  f.Add("Status", StatusText(r.status()));
  f.Add("Pathway", PathwayText(r.pathway()));
  std::string urgency = UrgencyText(r.urgency());
  if (r.has_decision())
    absl::StrAppend(&urgency, " (", TargetText(r.decision().target_minutes()),
                    ")");
  f.Add("Urgency", urgency);
  if (r.has_due_at()) {
    f.Add("Due", absl::StrCat(FormatLocalTime(r.due_at(), true), " (",
                              FormatTimeToBreach(absl::ToInt64Seconds(
                                  FromProtoTime(r.due_at()) - now)),
                              " to breach)"));
  } else {
    f.Add("Due", "no target time");
  }
  if (!r.service().service_id().empty()) {
    f.Add(
        "Service",
        absl::StrCat(r.service().service_id(),
                     r.service().service_name().empty()
                         ? ""
                         : absl::StrCat(" (", r.service().service_name(), ")"),
                     r.service().catch_all() ? " [catch-all]" : ""));
    if (!r.service().explanation().empty())
      f.Add("", r.service().explanation());
  } else {
    f.Add("Service", "none yet");
  }
  if (r.linked_referrals_size() > 0) {
    f.Add("Linked", absl::StrCat(absl::StrJoin(r.linked_referrals(), ", "),
                                 " (same patient and problem recently)"));
  }
  f.Add("Request id", r.request_id());
  absl::StrAppend(&out, f.text());
  if (response.warnings_size() > 0) {
    absl::StrAppend(&out, "\nWarnings:\n");
    for (const auto& w : response.warnings())
      absl::StrAppend(&out, "  - ", w, "\n");
  }
  absl::StrAppend(&out, "\nWhy:\n");
  if (r.status() == v1::REFERRAL_STATUS_AWAITING_TRIAGE || !r.has_decision()) {
    absl::StrAppend(
        &out,
        "  Triage could not run yet: the referral is on the clinical review "
        "worklist and will be triaged automatically as soon as possible.\n");
  } else {
    absl::StrAppend(&out, FormatDecisionLines(r.decision()));
  }
  return out;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], Width(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += i + 1 < row.size() ? Pad(row[i], widths[i]) : row[i];
    }
    absl::StripTrailingAsciiWhitespace(&line);
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

namespace {

std::vector<std::string> WorklistRow(const v1::WorklistEntry& e,
                                     absl::Time now) {
  return {e.id(),
          UrgencyText(e.urgency()),
          StatusText(e.status()),
          e.has_due_at() ? FormatLocalTime(e.due_at()) : "-",
          TimeToBreachCell(e, now),
          ProblemText(e.problem()),
          e.missing_data_review() ? "MISSING DATA" : ""};
}

bool Breached(const v1::WorklistEntry& e, absl::Time now) {
  if (e.sla() == v1::SLA_STATE_BREACHED) return true;
  return e.has_due_at() && e.sla() != v1::SLA_STATE_MET &&
         FromProtoTime(e.due_at()) < now;
}

}  // namespace

std::string FormatWorklist(absl::string_view title,
                           std::vector<v1::WorklistEntry> entries,
                           absl::Time now) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const v1::WorklistEntry& a, const v1::WorklistEntry& b) {
                     if (a.has_due_at() != b.has_due_at())
                       return a.has_due_at();
                     if (!a.has_due_at()) return false;
                     return FromProtoTime(a.due_at()) <
                            FromProtoTime(b.due_at());
                   });
  if (entries.empty()) return absl::StrCat(title, ": no referrals\n");
  int breached = 0, missing = 0;
  for (const auto& e : entries) {
    if (Breached(e, now)) ++breached;
    if (e.missing_data_review()) ++missing;
  }
  std::string out = absl::StrCat(
      title, ": ", Plural(static_cast<int64_t>(entries.size()), "referral"));
  if (breached > 0) absl::StrAppend(&out, ", ", breached, " breached");
  if (missing > 0) absl::StrAppend(&out, ", ", missing, " with missing data");
  absl::StrAppend(&out, "\n");
  std::vector<std::vector<std::string>> rows = {{"REFERENCE", "URGENCY",
                                                 "STATUS", "DUE", "TO BREACH",
                                                 "PROBLEM", "REVIEW"}};
  for (const auto& e : entries) rows.push_back(WorklistRow(e, now));
  absl::StrAppend(&out, FormatTable(rows));
  return out;
}

std::string FormatWorklistUpdate(const v1::WorklistUpdate& update,
                                 absl::Time now, std::set<std::string>* known) {
  const std::string at = absl::FormatTime("%H:%M:%S", now, DisplayTimeZone());
  std::string out;
  switch (update.kind()) {
    case v1::WorklistUpdate::KIND_SNAPSHOT:
      known->clear();
      for (const auto& e : update.entries()) known->insert(e.id());
      absl::StrAppend(&out, at,
                      "  snapshot: ", Plural(update.entries_size(), "referral"),
                      "\n");
      break;
    case v1::WorklistUpdate::KIND_UPSERT:
      for (const auto& e : update.entries()) {
        const bool added = known->insert(e.id()).second;
        std::vector<std::string> row = WorklistRow(e, now);
        absl::StrAppend(&out, at, "  ", added ? "new     " : "changed ", e.id(),
                        "  ", row[1], "  ", row[2], "  due ", row[3], " (",
                        row[4], ")  ", row[5],
                        e.missing_data_review() ? "  MISSING DATA" : "", "\n");
      }
      break;
    case v1::WorklistUpdate::KIND_REMOVED:
      for (const auto& e : update.entries()) {
        known->erase(e.id());
        absl::StrAppend(&out, at, "  removed ", e.id(),
                        e.status() != v1::REFERRAL_STATUS_UNSPECIFIED
                            ? absl::StrCat("  ", StatusText(e.status()))
                            : "",
                        "\n");
      }
      break;
    default:
      absl::StrAppend(&out, at, "  update of an unknown kind (",
                      static_cast<int>(update.kind()), ")\n");
  }
  return out;
}

std::string FormatEvents(const std::vector<v1::ReferralEvent>& events) {
  std::vector<std::vector<std::string>> rows = {
      {"#", "AT", "EVENT", "STATUS", "BY", "DETAILS"}};
  for (const auto& e : events) {
    std::string status = StatusText(e.to_status());
    if (e.from_status() != e.to_status() &&
        e.from_status() != v1::REFERRAL_STATUS_UNSPECIFIED) {
      status = absl::StrCat(StatusText(e.from_status()), " -> ", status);
    }
    std::vector<std::string> details;
    if (e.pathway() != v1::PATHWAY_UNSPECIFIED ||
        e.urgency() != v1::URGENCY_UNSPECIFIED) {
      details.push_back(absl::StrCat(PathwayText(e.pathway()), " ",
                                     UrgencyText(e.urgency())));
    }
    if (!e.service_id().empty())
      details.push_back(absl::StrCat("service ", e.service_id()));
    if (!e.reason().empty())
      details.push_back(absl::StrCat("\"", e.reason(), "\""));
    if (!e.linked_referral().empty())
      details.push_back(absl::StrCat("linked ", e.linked_referral()));
    if (!e.rule_set_version().empty()) {
      details.push_back(
          absl::StrCat("rules ", e.rule_set_version().substr(0, 12)));
    }
    if (e.safety_critical_lowered())
      details.push_back("LOWERED A SAFETY-CRITICAL OUTCOME");
    rows.push_back({absl::StrCat(e.sequence()), FormatLocalTime(e.at(), true),
                    ShortName(v1::EventType_descriptor(), e.type()), status,
                    OrDash(e.actor()), absl::StrJoin(details, "; ")});
  }
  return FormatTable(rows);
}

std::string FormatRecord(const v1::ReferralRecord& r,
                         const std::vector<v1::ReferralEvent>& events,
                         absl::Time now) {
  Fields f;
  f.Add("Reference", r.id());
  f.Add("Status",
        absl::StrCat(StatusText(r.status()), " (version ", r.version(), ")"));
  f.Add("Pathway",
        absl::StrCat(PathwayText(r.pathway()),
                     r.overridden() ? " (overridden by a clinician)" : ""));
  f.Add("Urgency", UrgencyText(r.urgency()));
  f.Add("Received", FormatLocalTime(r.received_at(), true));
  if (r.has_due_at()) {
    std::string due = FormatLocalTime(r.due_at(), true);
    if (r.sla() == v1::SLA_STATE_MET || r.has_responded_at()) {
      absl::StrAppend(&due, " (", SlaText(r.sla()), ")");
    } else {
      absl::StrAppend(&due, " (",
                      FormatTimeToBreach(absl::ToInt64Seconds(
                          FromProtoTime(r.due_at()) - now)),
                      " to breach)");
    }
    f.Add("Due", due);
  } else {
    f.Add("Due", "no target time");
  }
  f.Add("Service",
        r.service().service_id().empty()
            ? "none yet"
            : absl::StrCat(
                  r.service().service_id(),
                  r.service().service_name().empty()
                      ? ""
                      : absl::StrCat(" (", r.service().service_name(), ")")));
  const v1::Referral& ref = r.referral();
  f.Add("Problem", ProblemText(ref.problem()));
  std::vector<std::string> patient;
  if (!ref.patient().nhs_number().empty()) {
    patient.push_back(absl::StrCat("NHS ", ref.patient().nhs_number()));
  }
  if (ref.patient().has_date_of_birth()) {
    const v1::Date& d = ref.patient().date_of_birth();
    patient.push_back(
        absl::StrFormat("born %04d-%02d-%02d", d.year(), d.month(), d.day()));
  }
  if (ref.patient().sex() != v1::SEX_UNSPECIFIED) {
    patient.push_back(ShortName(v1::Sex_descriptor(), ref.patient().sex()));
  }
  if (!ref.patient().postcode_district().empty()) {
    patient.push_back(ref.patient().postcode_district());
  }
  f.Add("Patient", patient.empty() ? "-" : absl::StrJoin(patient, ", "));
  if (ref.referrer().type() != v1::REFERRER_TYPE_UNSPECIFIED ||
      !ref.referrer().name().empty()) {
    f.Add("Referrer",
          absl::StrCat(
              ShortName(v1::ReferrerType_descriptor(), ref.referrer().type()),
              ref.referrer().name().empty()
                  ? ""
                  : absl::StrCat(" (", ref.referrer().name(), ")")));
  }
  if (!r.status_reason().empty()) f.Add("Last note", r.status_reason());
  if (r.linked_referrals_size() > 0)
    f.Add("Linked", absl::StrJoin(r.linked_referrals(), ", "));
  f.Add("Submitted", absl::StrCat("by ", OrDash(r.submitted_by()),
                                  ", request id ", OrDash(r.request_id())));
  std::string out = f.text();
  if (r.has_decision()) {
    absl::StrAppend(&out, "\nWhy:\n", FormatDecisionLines(r.decision()));
  }
  absl::StrAppend(&out, "\nEvents (", events.size(), "):\n");
  std::string table = FormatEvents(events);
  for (absl::string_view line :
       absl::StrSplit(table, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
  return out;
}

std::string FormatReferralList(const std::vector<v1::ReferralRecord>& records) {
  std::vector<std::vector<std::string>> rows = {{"REFERENCE", "RECEIVED",
                                                 "STATUS", "PATHWAY", "URGENCY",
                                                 "SLA", "SERVICE", "PROBLEM"}};
  for (const auto& r : records) {
    rows.push_back({r.id(), FormatLocalTime(r.received_at()),
                    StatusText(r.status()), PathwayText(r.pathway()),
                    UrgencyText(r.urgency()), SlaText(r.sla()),
                    OrDash(r.service().service_id()),
                    ProblemText(r.referral().problem())});
  }
  return FormatTable(rows);
}

std::string FormatDirectory(const v1::ListServicesResponse& response) {
  if (response.services_size() == 0) return "no services\n";
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "PATHWAYS", "CAPACITY", "OPEN NOW"}};
  for (const auto& st : response.services()) {
    const v1::Service& s = st.service();
    std::vector<std::string> pathways;
    for (int p : s.pathways())
      pathways.push_back(PathwayText(static_cast<v1::Pathway>(p)));
    std::string capacity = ShortName(v1::Capacity_descriptor(), st.capacity());
    if (st.has_capacity_expires_at()) {
      absl::StrAppend(
          &capacity, " until ",
          absl::FormatTime("%H:%M", FromProtoTime(st.capacity_expires_at()),
                           DisplayTimeZone()));
    }
    rows.push_back({s.id(),
                    absl::StrCat(s.name(), s.catch_all() ? " (catch-all)" : ""),
                    pathways.empty() ? "-" : absl::StrJoin(pathways, ","),
                    capacity, st.open_now() ? "yes" : "no"});
  }
  return absl::StrCat(FormatTable(rows),
                      Plural(response.services_size(), "service"), "\n");
}

std::string FormatMatch(const v1::ServiceMatch& match) {
  Fields f;
  f.Add("Service",
        absl::StrCat(
            OrDash(match.service_id()),
            match.service_name().empty()
                ? ""
                : absl::StrCat(" (", match.service_name(), ")"),
            match.catch_all() ? " [catch-all: nothing else fitted]" : ""));
  if (!match.explanation().empty()) f.Add("Why", match.explanation());
  std::string out = f.text();
  if (match.not_chosen_size() > 0) {
    absl::StrAppend(&out, "\nNot chosen:\n");
    for (const auto& n : match.not_chosen())
      absl::StrAppend(&out, "  - ", n, "\n");
  }
  return out;
}

}  // namespace frontdoor::cli
