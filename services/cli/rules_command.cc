#include "services/cli/rules_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "frontdoor/v1/referral.pb.h"
#include "frontdoor/v1/triage.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/diagnostic.h"
#include "services/triage/engine/explain.h"
#include "services/triage/engine/fmt.h"
#include "services/triage/engine/loader.h"
#include "services/triage/engine/test_runner.h"

namespace frontdoor::cli {
namespace {

namespace fs = std::filesystem;
using rules::Diagnostic;
using rules::Diagnostics;

constexpr absl::string_view kUsage =
    R"(usage: frontdoor <command> [arguments]

Commands:
  rules    lint, test, explain and format triage rule sets

Run 'frontdoor rules --help' for the rules commands.
)";

constexpr absl::string_view kRulesUsage =
    R"(usage: frontdoor rules <command> DIR [arguments]

DIR is a rule set directory (ruleset.yaml, *.rules.yaml, *.test.yaml), for
example triage-rules/community-spa.

Commands:
  lint DIR                   load, compile and analyse the rule set; print
                             every finding, then "N errors, M warnings" and
                             the version id when there are no errors
  test DIR [--verbose]       run the rule set's test cases and report row
                             coverage (--verbose lists passing cases too)
  explain DIR [FILE|-] [--json]
                             triage one referral (frontdoor.v1.Referral in
                             protobuf JSON, from FILE or standard input) and
                             explain the decision (--json: the decision as
                             JSON)
  fmt DIR [--check]          align the pipe tables of every *.rules.yaml in
                             place (--check: list the files that would
                             change, change nothing)

Rule set versions on a running frontdoor-server (see 'frontdoor rules
versions --help'): versions, show, active, validate, propose, approve,
activate, rollback, diff, replay, shadow.

Exit status: 0 success, 1 findings (errors in the rule set, failing tests,
an invalid referral, files to format), 2 usage errors.
)";

// Arguments of one subcommand after its name.
struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> flags;
  bool help = false;

  bool Has(absl::string_view flag) const {
    return std::find(flags.begin(), flags.end(), flag) != flags.end();
  }
};

// Splits `args` into positionals and the `allowed` flags. "-" is a
// positional (standard input); "--" ends the options.
absl::Status ParseArgs(const std::vector<std::string>& args, size_t from,
                       const std::vector<absl::string_view>& allowed,
                       Args* out) {
  bool options = true;
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options && a == "--") {
      options = false;
    } else if (options && (a == "--help" || a == "-h")) {
      out->help = true;
    } else if (options && a.size() > 1 && a[0] == '-') {
      if (std::find(allowed.begin(), allowed.end(), a) == allowed.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown option '", a, "'"));
      }
      out->flags.push_back(a);
    } else {
      out->positional.push_back(a);
    }
  }
  return absl::OkStatus();
}

int UsageError(const Io& io, absl::string_view command,
               absl::string_view message) {
  io.err << "frontdoor " << command << ": " << message << "\n\n" << kRulesUsage;
  return kExitUsage;
}

std::string ErrnoMessage(int err) { return std::strerror(err); }

// The whole of a file, or "cannot read PATH: reason".
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, ": ", ErrnoMessage(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", path, ": ", ErrnoMessage(EISDIR)));
  }
  std::string text;
  char buf[1 << 16];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return absl::UnavailableError(
          absl::StrCat("cannot read ", path, ": ", ErrnoMessage(e)));
    }
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return text;
}

// Replaces the file at `path` with `text` through a temporary file in the
// same directory and a rename, keeping the file's permissions. A symbolic
// link is followed: its target is replaced, not the link.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view text) {
  std::error_code ec;
  fs::path target = fs::path(path);
  if (fs::is_symlink(target, ec)) {
    fs::path resolved = fs::canonical(target, ec);
    if (!ec) target = resolved;
  }
  auto fail = [&](absl::string_view what, int err) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path, ": ", what, ErrnoMessage(err)));
  };
  struct stat st;
  if (stat(target.c_str(), &st) != 0) return fail("", errno);
  std::string tmp = (target.parent_path() /
                     absl::StrCat(".", target.filename().string(), ".XXXXXX"))
                        .string();
  int fd = mkstemp(tmp.data());
  if (fd < 0) return fail("creating a temporary file: ", errno);
  auto abandon = [&](absl::string_view what) {
    int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return fail(what, e);
  };
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return abandon("");
    }
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd, st.st_mode & 07777) != 0) return abandon("");
  if (fsync(fd) != 0) return abandon("");
  if (close(fd) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return fail("", e);
  }
  if (rename(tmp.c_str(), target.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return fail("", e);
  }
  return absl::OkStatus();
}

// Usage error unless `dir` is a directory.
bool CheckDirectory(const std::string& dir, absl::string_view command,
                    const Io& io) {
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (!ec && fs::is_directory(st)) return true;
  io.err << "frontdoor " << command << ": " << dir << ": "
         << (ec ? ec.message() : std::string("not a directory")) << "\n";
  return false;
}

std::string Plural(int n, absl::string_view word) {
  return absl::StrCat(n, " ", word, n == 1 ? "" : "s");
}

// Prints every diagnostic with its file named from the working directory,
// then the "N errors, M warnings" line.
void PrintDiagnostics(const std::string& dir, const Diagnostics& diags,
                      std::ostream& out) {
  int errors = 0, warnings = 0, notes = 0;
  for (Diagnostic d : diags.items()) {
    if (!d.file.empty()) d.file = (fs::path(dir) / d.file).string();
    out << rules::FormatDiagnostic(d) << "\n";
    switch (d.severity) {
      case Diagnostic::Severity::kError:
        ++errors;
        break;
      case Diagnostic::Severity::kWarning:
        ++warnings;
        break;
      case Diagnostic::Severity::kNote:
        ++notes;
        break;
    }
  }
  out << Plural(errors, "error") << ", " << Plural(warnings, "warning");
  if (notes > 0) out << ", " << Plural(notes, "note");
  out << "\n";
}

// Loads DIR; on errors prints them to `report` and returns null.
std::shared_ptr<const rules::CompiledRuleSet> Load(const std::string& dir,
                                                   std::ostream& report) {
  Diagnostics diags;
  auto rs = rules::LoadRuleSet(dir, rules::LoadOptions(), &diags);
  if (rs != nullptr && !diags.has_errors()) return rs;
  PrintDiagnostics(dir, diags, report);
  return nullptr;
}

int Lint(const Args& args, const Io& io) {
  if (args.positional.size() != 1) {
    return UsageError(io, "rules lint", "expected one rule set directory");
  }
  const std::string& dir = args.positional[0];
  if (!CheckDirectory(dir, "rules lint", io)) return kExitUsage;
  Diagnostics diags;
  auto rs = rules::LoadRuleSet(dir, rules::LoadOptions(), &diags);
  PrintDiagnostics(dir, diags, io.out);
  if (rs == nullptr || diags.has_errors()) {
    if (!diags.has_errors()) io.out << "the rule set did not load\n";
    return kExitFindings;
  }
  io.out << "version " << rs->version() << "\n";
  return kExitOk;
}

int Test(const Args& args, const Io& io) {
  if (args.positional.size() != 1) {
    return UsageError(io, "rules test", "expected one rule set directory");
  }
  const std::string& dir = args.positional[0];
  if (!CheckDirectory(dir, "rules test", io)) return kExitUsage;
  auto rs = Load(dir, io.out);
  if (rs == nullptr) return kExitFindings;
  rules::TestReport report = rules::RunTests(*rs);
  io.out << rules::FormatTestReport(report, args.Has("--verbose"));
  return report.ok() ? kExitOk : kExitFindings;
}

int Explain(const Args& args, const Io& io) {
  if (args.positional.empty() || args.positional.size() > 2) {
    return UsageError(io, "rules explain",
                      "expected a rule set directory and at most one "
                      "referral file");
  }
  const std::string& dir = args.positional[0];
  if (!CheckDirectory(dir, "rules explain", io)) return kExitUsage;
  std::string file = args.positional.size() == 2 ? args.positional[1] : "-";
  std::string name = file == "-" ? "<stdin>" : file;
  std::string json;
  if (file == "-") {
    std::ostringstream ss;
    ss << io.in.rdbuf();
    json = ss.str();
  } else {
    absl::StatusOr<std::string> text = ReadFile(file);
    if (!text.ok()) {
      io.err << "frontdoor rules explain: " << text.status().message() << "\n";
      return kExitUsage;
    }
    json = *std::move(text);
  }
  v1::Referral referral;
  // Default options: an unknown field is an error, not silently dropped.
  auto parsed = google::protobuf::util::JsonStringToMessage(
      json, &referral, google::protobuf::util::JsonParseOptions());
  if (!parsed.ok()) {
    std::string message(parsed.message());
    absl::StripTrailingAsciiWhitespace(&message);  // may end in a newline
    io.err << name << ": invalid referral: " << message << "\n";
    return kExitFindings;
  }
  auto rs = Load(dir, io.err);
  if (rs == nullptr) {
    io.err << "frontdoor rules explain: the rule set " << dir
           << " has errors; see 'frontdoor rules lint " << dir << "'\n";
    return kExitFindings;
  }
  v1::TriageDecision decision = rs->Triage(referral);
  if (!args.Has("--json")) {
    io.out << rules::ExplainDecision(decision);
    return kExitOk;
  }
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto printed =
      google::protobuf::util::MessageToJsonString(decision, &out, options);
  if (!printed.ok()) {
    io.err << "frontdoor rules explain: cannot print the decision: "
           << std::string(printed.message()) << "\n";
    return kExitFindings;
  }
  io.out << out;
  if (out.empty() || out.back() != '\n') io.out << "\n";
  return kExitOk;
}

int Fmt(const Args& args, const Io& io) {
  if (args.positional.size() != 1) {
    return UsageError(io, "rules fmt", "expected one rule set directory");
  }
  const std::string& dir = args.positional[0];
  if (!CheckDirectory(dir, "rules fmt", io)) return kExitUsage;
  const bool check = args.Has("--check");
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code fec;
    std::string name = it->path().filename().string();
    if (absl::EndsWith(name, ".rules.yaml") && it->is_regular_file(fec)) {
      names.push_back(name);
    }
  }
  if (ec) {
    io.err << "frontdoor rules fmt: cannot list " << dir << ": " << ec.message()
           << "\n";
    return kExitFindings;
  }
  std::sort(names.begin(), names.end());
  bool failed = false, changed = false;
  for (const std::string& name : names) {
    std::string path = (fs::path(dir) / name).string();
    absl::StatusOr<std::string> text = ReadFile(path);
    if (!text.ok()) {
      io.err << "frontdoor rules fmt: " << text.status().message() << "\n";
      failed = true;
      continue;
    }
    absl::StatusOr<std::string> formatted = rules::FormatRulesFile(*text);
    if (!formatted.ok()) {
      io.err << path << ":" << formatted.status().message()
             << " (not formatted)\n";
      failed = true;
      continue;
    }
    if (*formatted == *text) continue;
    changed = true;
    if (check) {
      io.out << path << "\n";
      continue;
    }
    absl::Status written = WriteFileAtomically(path, *formatted);
    if (!written.ok()) {
      io.err << "frontdoor rules fmt: " << written.message() << "\n";
      failed = true;
      continue;
    }
    io.out << "formatted " << path << "\n";
  }
  if (failed || (check && changed)) return kExitFindings;
  return kExitOk;
}

int Rules(const std::vector<std::string>& args, const Io& io) {
  if (args.size() < 2) {
    io.err << "frontdoor rules: missing command\n\n" << kRulesUsage;
    return kExitUsage;
  }
  const std::string& command = args[1];
  if (command == "--help" || command == "-h" || command == "help") {
    io.out << kRulesUsage;
    return kExitOk;
  }
  struct Command {
    const char* name;
    std::vector<absl::string_view> flags;
    int (*run)(const Args&, const Io&);
  };
  static const Command kCommands[] = {
      {"lint", {}, Lint},
      {"test", {"--verbose"}, Test},
      {"explain", {"--json"}, Explain},
      {"fmt", {"--check"}, Fmt},
  };
  for (const Command& c : kCommands) {
    if (command != c.name) continue;
    Args parsed;
    absl::Status st = ParseArgs(args, 2, c.flags, &parsed);
    if (!st.ok()) {
      return UsageError(io, absl::StrCat("rules ", c.name), st.message());
    }
    if (parsed.help) {
      io.out << kRulesUsage;
      return kExitOk;
    }
    return c.run(parsed, io);
  }
  io.err << "frontdoor rules: unknown command '" << command << "'\n\n"
         << kRulesUsage;
  return kExitUsage;
}

}  // namespace

int RunFrontdoor(const std::vector<std::string>& args, const Io& io) {
  if (args.empty()) {
    io.err << kUsage;
    return kExitUsage;
  }
  const std::string& command = args[0];
  if (command == "--help" || command == "-h" || command == "help") {
    io.out << kUsage;
    return kExitOk;
  }
  if (command == "rules") return Rules(args, io);
  io.err << "frontdoor: unknown command '" << command << "'\n\n" << kUsage;
  return kExitUsage;
}

}  // namespace frontdoor::cli
