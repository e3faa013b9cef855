// The frontdoor client verbs: call handlers' and operators' commands that
// talk to frontdoor-server (submit, get, events, list, worklist, watch, the
// lifecycle transitions, override, directory, capacity, match) and the
// administration of the referral store (admin backup, admin restore).
//
// RunCli is the whole `frontdoor` command line: help, these verbs, and
// `frontdoor rules ...` (rules_command.h). The formatting and parsing
// helpers below are pure functions, declared here so that tests can check
// them without a server.

#ifndef FRONTDOOR_SERVICES_CLI_CLIENT_COMMAND_H_
#define FRONTDOOR_SERVICES_CLI_CLIENT_COMMAND_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "frontdoor/v1/directory_service.pb.h"
#include "frontdoor/v1/referral.pb.h"
#include "frontdoor/v1/referral_service.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "services/cli/rules_command.h"

namespace frontdoor::cli {

// Where the client verbs connect and who they act as, unless flags say
// otherwise.
struct ClientEnv {
  std::string server;  // $FRONTDOOR_SERVER; "" means 127.0.0.1:50051
  std::string user;    // $USER: the default --actor
  std::string token;       // $FRONTDOOR_TOKEN: the bearer token
  std::string token_file;  // $FRONTDOOR_TOKEN_FILE: a file holding it
  static ClientEnv FromProcess();
};

inline constexpr char kDefaultServer[] = "127.0.0.1:50051";

// Runs `frontdoor ARGS...` (`args` excludes the program name): help, the
// client verbs and `rules`. Returns the exit code (kExitOk, kExitFindings
// for any failure, kExitUsage). Never throws.
int RunCli(const std::vector<std::string>& args, const Io& io,
           const ClientEnv& env);

// Whether `verb` is one of the client verbs (not `rules`).
bool IsClientVerb(absl::string_view verb);

// The top-level usage: every command with one line each.
std::string TopLevelUsage();

// --- Pure helpers (exposed for tests) ---------------------------------------

// A flag a verb accepts. kBool flags take no value; the others take one,
// as --name=value or --name value. kRepeated may be given many times.
struct FlagSpec {
  enum class Kind { kBool, kValue, kRepeated };
  std::string name;  // with the dashes: "--pathway"
  Kind kind = Kind::kValue;
};

// A verb's arguments after its name.
struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> flags;  // "" for kBool
  bool help = false;

  bool Has(absl::string_view name) const;
  // The last value given, or `fallback`.
  std::string Get(absl::string_view name,
                  absl::string_view fallback = "") const;
  std::vector<std::string> All(absl::string_view name) const;
};

// Splits `args[from..]` into positionals and the `allowed` flags. "-" is a
// positional (standard input); "--" ends the options; --help/-h set help.
// INVALID_ARGUMENT for an unknown option, a missing value, a value given to
// a bool flag, or a single-valued flag given twice.
absl::StatusOr<ParsedArgs> ParseFlags(const std::vector<std::string>& args,
                                      size_t from,
                                      const std::vector<FlagSpec>& allowed);

// Options every client verb shares.
struct CommonOptions {
  std::string server;  // host:port (or a gRPC target such as unix:PATH)
  absl::Duration timeout = absl::Seconds(10);
  bool json = false;
  std::string actor;
  std::string token;  // bearer token sent with every call ("" for none)
  // Plaintext, or TLS (and mTLS) from --tls_ca, --tls_cert, --tls_key.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

// The connection flags every verb that talks to the server accepts:
// --server, --timeout, --json, --token_file, --tls_ca, --tls_cert,
// --tls_key.
std::vector<FlagSpec> ConnectionFlags();

// --server (else env.server, else kDefaultServer), --timeout, --json,
// --actor (else env.user), the token (--token_file, else
// $FRONTDOOR_TOKEN_FILE, else $FRONTDOOR_TOKEN) and TLS files.
// INVALID_ARGUMENT naming the flag (or file) that is wrong.
absl::StatusOr<CommonOptions> ResolveCommonOptions(const ParsedArgs& args,
                                                   const ClientEnv& env);

// A channel to opts.server with its credentials and token.
std::shared_ptr<grpc::Channel> OpenChannel(const CommonOptions& opts,
                                           const grpc::ChannelArguments& args);

// "10s", "500ms", "2m", "1m30s", or a plain number of seconds ("2.5");
// positive.
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text);

// The value of enum `type` that `text` names: the full name
// ("PATHWAY_UCR"), the name without the enum's prefix ("UCR"), in any case,
// with '-' or ' ' for '_'; an entry of `aliases` (short name -> value short
// name, e.g. "A" -> "ALERT"); or else the one value whose name contains
// `text` as whole '_'-separated words ("1H" -> WITHIN_1H, "111" ->
// NHS_111). The UNSPECIFIED value is never named. INVALID_ARGUMENT naming
// `flag` and listing the values (or the ambiguous candidates) otherwise.
absl::StatusOr<int> ParseEnum(
    const google::protobuf::EnumDescriptor* type, absl::string_view text,
    absl::string_view flag,
    const std::map<std::string, std::string>& aliases = {});

// An enum value's name without the enum's prefix: "UCR", "WITHIN_2H".
std::string ShortName(const google::protobuf::EnumDescriptor* type, int value);

// Parses a Referral in protobuf JSON. Unknown fields are errors that name
// the field (INVALID_ARGUMENT).
absl::StatusOr<v1::Referral> ParseReferralJson(absl::string_view json);

// Whether any of the flags that build a referral (--problem, --nhs, ...,
// --finding) is present.
bool HasReferralFlags(const ParsedArgs& args);

// Builds a referral from the submit flags: --problem, --nhs, --dob
// (YYYY-MM-DD), --age, --sex, --postcode, --phone, --referrer, --text, --rr,
// --spo2, --o2 (yes/no), --sbp, --pulse, --consciousness (ACVPU letter or
// name), --temp and any number of --finding NAME=VALUE. INVALID_ARGUMENT
// naming the flag.
absl::StatusOr<v1::Referral> ReferralFromFlags(const ParsedArgs& args);

// Applies "NAME=VALUE" to `findings`: NAME is any field of
// frontdoor.v1.Findings (found by reflection); VALUE is yes/no (true/false)
// for the bool findings, a value name for the enum ones (e.g.
// chest_pain_timing=ONGOING) and a whole number for the integer ones.
absl::Status SetFinding(absl::string_view assignment, v1::Findings* findings);

// "LS1", also from a full postcode ("ls1 4ap", "LS14AP"): the outward code,
// upper case.
std::string PostcodeDistrict(absl::string_view text);

// A random request id shaped like a UUID (version 4):
// "3f0c9a4e-5b1d-4e7a-9c2f-1a2b3c4d5e6f".
std::string NewRequestId();

// Displayed times are in Europe/London (GMT/BST); UTC if the zone is not
// installed.
absl::TimeZone DisplayTimeZone();

// "Mon 23 Nov 14:20 GMT" (with_year: "Mon 23 Nov 2026 14:20 GMT"); "-" for
// an unset timestamp.
std::string FormatLocalTime(const google::protobuf::Timestamp& ts,
                            bool with_year = false);

// Time left until a target: "1h05m", "0h00m", "3d04h" (48 hours or more);
// negative: "-0h12m BREACHED".
std::string FormatTimeToBreach(int64_t seconds);

// The time-to-breach cell of a worklist entry at `now`: FormatTimeToBreach
// of due_at - now, "met" once a service responded in time, "no target"
// without a due time.
std::string TimeToBreachCell(const v1::WorklistEntry& entry, absl::Time now);

// "12.3 MB", "512 B".
std::string FormatBytes(int64_t bytes);

// The reference, big and grouped, for reading out on the phone:
//
//     +---------------------+
//     |   K3M7 - 9Q2D - X8A   |
//     +---------------------+
std::string FormatReferenceBanner(absl::string_view reference);

// The decision's explanation: decisive row, missing data that could make
// it more urgent, flags and scores. Indented lines, one per fact.
std::string FormatDecisionLines(const v1::TriageDecision& decision);

// What `frontdoor submit` prints for `response` at `now`.
std::string FormatSubmitResult(const v1::SubmitReferralResponse& response,
                               absl::Time now);

// The worklist table, ordered by due time (no target last), with a heading.
std::string FormatWorklist(absl::string_view title,
                           std::vector<v1::WorklistEntry> entries,
                           absl::Time now);

// One line per entry of a watched update, at `now`. `known` holds the ids
// on the watched worklist; it is updated.
std::string FormatWorklistUpdate(const v1::WorklistUpdate& update,
                                 absl::Time now, std::set<std::string>* known);

// `frontdoor get`: the record and a summary of its events.
std::string FormatRecord(const v1::ReferralRecord& record,
                         const std::vector<v1::ReferralEvent>& events,
                         absl::Time now);

// `frontdoor events`: one line per event.
std::string FormatEvents(const std::vector<v1::ReferralEvent>& events);

// `frontdoor list`: a table of records.
std::string FormatReferralList(const std::vector<v1::ReferralRecord>& records);

// `frontdoor directory`: a table of services.
std::string FormatDirectory(const v1::ListServicesResponse& response);

// `frontdoor match`: the chosen service and why.
std::string FormatMatch(const v1::ServiceMatch& match);

// Lays out `rows` (the first is the header) in columns separated by two
// spaces; trailing spaces trimmed.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace frontdoor::cli

#endif  // FRONTDOOR_SERVICES_CLI_CLIENT_COMMAND_H_
