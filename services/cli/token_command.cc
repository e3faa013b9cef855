#include "services/cli/token_command.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "frontdoor/v1/auth.pb.h"
#include "services/auth/identities.h"
#include "services/cli/client_command.h"
#include "services/common/proto_time.h"

namespace frontdoor::cli {
namespace {

using Kind = FlagSpec::Kind;

constexpr absl::string_view kUsage =
    R"(usage: frontdoor admin token <command> --tokens_file=FILE [options]

Commands:
  create --role=ROLE --principal=NAME [--expires_in=DURATION] [--note=TEXT]
         [--certificate_cn=CN]
      add a caller and print their new bearer token (alone on stdout; only
      its SHA-256 is kept). With --certificate_cn, register a TLS client
      certificate's common name instead (no token is made). The file is
      created if missing (mode 0600).
  list                      the callers: principal, role, how, expiry, state
  revoke --principal=NAME   disable a caller (their token stops working
                            within a second on a running server)

Roles: referrer, call_handler, clinician, rule_author, safety_officer,
service_manager, auditor, admin, service.
)";

int Usage(const Io& io, absl::string_view message) {
  io.err << "frontdoor admin token: " << message << "\n\n" << kUsage;
  return kExitUsage;
}

absl::StatusOr<v1::IdentityFile> LoadOrEmpty(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return v1::IdentityFile();
  return auth::ReadIdentityFile(path);
}

int Create(const ParsedArgs& a, const std::string& path, const Io& io,
           absl::Time now) {
  if (!a.Has("--role") || !a.Has("--principal"))
    return Usage(io, "create needs --role and --principal");
  absl::StatusOr<int> role =
      ParseEnum(v1::Role_descriptor(), a.Get("--role"), "--role");
  if (!role.ok()) return Usage(io, role.status().message());
  absl::StatusOr<v1::IdentityFile> file = LoadOrEmpty(path);
  if (!file.ok()) {
    io.err << "frontdoor admin token: " << file.status().message() << "\n";
    return kExitFindings;
  }
  v1::Identity id;
  id.set_principal(a.Get("--principal"));
  id.set_role(static_cast<v1::Role>(*role));
  *id.mutable_created_at() = ToProtoTime(now);
  if (a.Has("--note")) id.set_note(a.Get("--note"));
  if (a.Has("--expires_in")) {
    absl::StatusOr<absl::Duration> d = ParseTimeout(a.Get("--expires_in"));
    if (!d.ok()) {
      return Usage(io, absl::StrCat("--expires_in: '", a.Get("--expires_in"),
                                    "' is not a positive duration (e.g. 8h, "
                                    "30m)"));
    }
    *id.mutable_expires_at() = ToProtoTime(now + *d);
  }
  std::string token;
  if (a.Has("--certificate_cn")) {
    id.set_certificate_common_name(a.Get("--certificate_cn"));
  } else {
    absl::StatusOr<auth::NewToken> t = auth::GenerateToken();
    if (!t.ok()) {
      io.err << "frontdoor admin token: " << t.status().message() << "\n";
      return kExitFindings;
    }
    token = t->token;
    id.set_token_sha256(t->sha256_hex);
  }
  *file->add_identities() = id;
  // Check the whole file (duplicates, names) before writing anything.
  std::string text;
  if (absl::StatusOr<v1::IdentityFile> checked =
          auth::ParseIdentityFile(file->DebugString(), path);
      !checked.ok()) {
    return Usage(io, checked.status().message());
  }
  if (absl::Status st = auth::WriteIdentityFile(path, *file); !st.ok()) {
    io.err << "frontdoor admin token: " << st.message() << "\n";
    return kExitFindings;
  }
  io.err << "added " << id.principal() << " ("
         << v1::Role_Name(id.role()) << ") to " << path << "\n";
  if (!token.empty()) {
    io.err << "the token is shown once; keep it secret. Use it as "
              "'authorization: Bearer <token>' (gRPC), 'Authorization: Bearer "
              "<token>' (HTTP), or FRONTDOOR_TOKEN for the CLI.\n";
    io.out << token << "\n";
  }
  return kExitOk;
}

int List(const std::string& path, const Io& io, absl::Time now) {
  absl::StatusOr<v1::IdentityFile> file = auth::ReadIdentityFile(path);
  if (!file.ok()) {
    io.err << "frontdoor admin token: " << file.status().message() << "\n";
    return kExitFindings;
  }
  io.out << absl::StrFormat("%-28s %-22s %-12s %-20s %s\n", "PRINCIPAL",
                            "ROLE", "BY", "EXPIRES", "STATE");
  for (const v1::Identity& id : file->identities()) {
    std::string state = "active";
    if (id.disabled()) {
      state = "revoked";
    } else if (id.has_expires_at() && FromProtoTime(id.expires_at()) <= now) {
      state = "expired";
    }
    const std::string by =
        id.token_sha256().empty()
            ? "certificate"
            : absl::StrCat("token ", id.token_sha256().substr(0, 6));
    const std::string expires =
        id.has_expires_at()
            ? absl::FormatTime("%Y-%m-%d %H:%M", FromProtoTime(id.expires_at()),
                               absl::UTCTimeZone())
            : "never";
    io.out << absl::StrFormat("%-28s %-22s %-12s %-20s %s\n", id.principal(),
                              v1::Role_Name(id.role()), by, expires, state);
  }
  return kExitOk;
}

int Revoke(const ParsedArgs& a, const std::string& path, const Io& io) {
  if (!a.Has("--principal")) return Usage(io, "revoke needs --principal");
  absl::StatusOr<v1::IdentityFile> file = auth::ReadIdentityFile(path);
  if (!file.ok()) {
    io.err << "frontdoor admin token: " << file.status().message() << "\n";
    return kExitFindings;
  }
  bool found = false;
  for (v1::Identity& id : *file->mutable_identities()) {
    if (id.principal() == a.Get("--principal")) {
      id.set_disabled(true);
      found = true;
    }
  }
  if (!found) {
    io.err << "frontdoor admin token: no principal '" << a.Get("--principal")
           << "' in " << path << "\n";
    return kExitFindings;
  }
  if (absl::Status st = auth::WriteIdentityFile(path, *file); !st.ok()) {
    io.err << "frontdoor admin token: " << st.message() << "\n";
    return kExitFindings;
  }
  io.out << "revoked " << a.Get("--principal") << "\n";
  return kExitOk;
}

}  // namespace

int RunTokenCommand(const std::vector<std::string>& args, const Io& io,
                    absl::Time now) {
  if (args.size() < 3) return Usage(io, "missing command");
  const std::string& verb = args[2];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    io.out << kUsage;
    return kExitOk;
  }
  absl::StatusOr<ParsedArgs> a = ParseFlags(
      args, 3,
      {{"--tokens_file", Kind::kValue}, {"--role", Kind::kValue},
       {"--principal", Kind::kValue}, {"--expires_in", Kind::kValue},
       {"--note", Kind::kValue}, {"--certificate_cn", Kind::kValue}});
  if (!a.ok()) return Usage(io, a.status().message());
  if (a->help) {
    io.out << kUsage;
    return kExitOk;
  }
  if (!a->positional.empty())
    return Usage(io, absl::StrCat("unexpected '", a->positional[0], "'"));
  const std::string path = a->Get("--tokens_file");
  if (path.empty()) return Usage(io, "--tokens_file is required");
  if (verb == "create") return Create(*a, path, io, now);
  if (verb == "list") return List(path, io, now);
  if (verb == "revoke") return Revoke(*a, path, io);
  return Usage(io, absl::StrCat("unknown command '", verb, "'"));
}

}  // namespace frontdoor::cli
