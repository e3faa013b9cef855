#include "services/gateway/http_gateway.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "frontdoor/v1/auth.pb.h"
#include "frontdoor/v1/directory_service.pb.h"
#include "frontdoor/v1/referral_service.pb.h"
#include "frontdoor/v1/triage_service.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "httplib.h"
#include "openssl/ssl.h"
#include "openssl/x509.h"
#include "services/common/grpc_status.h"
#include "services/common/log.h"
#include "services/common/utf8.h"

namespace frontdoor::gateway {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::EnumValueDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::MethodDescriptor;
using ::google::protobuf::ServiceDescriptor;

constexpr char kJsonContentType[] = "application/json; charset=utf-8";
constexpr char kPackage[] = "frontdoor.v1";
constexpr size_t kMaxRequestIdLength = 128;
// An oversized chunked body is read and dropped up to this multiple of the
// limit, so that the client, still sending, gets to read the 413; beyond
// it the connection is closed instead.
constexpr size_t kDrainFactor = 8;

// Printable ASCII: what a gRPC metadata value may hold.
bool IsMetadataValue(absl::string_view v) {
  return std::all_of(v.begin(), v.end(),
                     [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// A caller's X-Request-Id is kept when it is short printable ASCII without
// spaces (it ends up in logs and the audit trail); otherwise a new one.
std::string RequestIdFor(const httplib::Request& req) {
  const std::string& given = req.get_header_value("X-Request-Id");
  if (!given.empty() && given.size() <= kMaxRequestIdLength &&
      std::all_of(given.begin(), given.end(),
                  [](char c) { return c > 0x20 && c <= 0x7e; })) {
    return given;
  }
  thread_local absl::BitGen gen;
  return absl::StrFormat("%016x%08x", absl::Uniform<uint64_t>(gen),
                         absl::Uniform<uint32_t>(gen));
}

const FieldDescriptor* FindField(const Descriptor& d, absl::string_view name) {
  for (int i = 0; i < d.field_count(); ++i) {
    const FieldDescriptor* f = d.field(i);
    if (f->name() == name || f->json_name() == name) return f;
  }
  return nullptr;
}

// "referral.patient.nhs_number" or "message_type[0].field" (proto or JSON
// names) as lowerCamel JSON names; segments that name no field are kept.
std::string JsonPath(const Descriptor& root, absl::string_view path) {
  const Descriptor* d = &root;
  std::vector<std::string> out;
  for (absl::string_view segment : absl::StrSplit(path, '.')) {
    const size_t bracket = segment.find('[');
    absl::string_view name = segment.substr(0, bracket);
    absl::string_view index =
        bracket == absl::string_view::npos ? "" : segment.substr(bracket);
    const FieldDescriptor* f = d != nullptr ? FindField(*d, name) : nullptr;
    out.push_back(f != nullptr ? absl::StrCat(f->json_name(), index)
                               : std::string(segment));
    d = f != nullptr ? f->message_type() : nullptr;
  }
  return absl::StrJoin(out, ".");
}

bool IsPath(absl::string_view s) {
  return !s.empty() && absl::ascii_isalpha(static_cast<unsigned char>(s[0])) &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                  c == '_' || c == '.' || c == '[' || c == ']';
         });
}

// The longest prefix ending in '_' shared by every value name of `e`
// ("PATHWAY_" for Pathway), so a path can say "acute" for PATHWAY_ACUTE.
std::string EnumPrefix(const EnumDescriptor& e) {
  std::string prefix = e.value(0)->name();
  for (int i = 1; i < e.value_count(); ++i) {
    const std::string& name = e.value(i)->name();
    size_t n = 0;
    while (n < prefix.size() && n < name.size() && prefix[n] == name[n]) ++n;
    prefix.resize(n);
  }
  const size_t underscore = prefix.rfind('_');
  prefix.resize(underscore == std::string::npos ? 0 : underscore + 1);
  return prefix;
}

const EnumValueDescriptor* FindEnumValue(const EnumDescriptor& e,
                                         absl::string_view text) {
  std::string name = absl::AsciiStrToUpper(text);
  absl::StrReplaceAll({{"-", "_"}}, &name);
  if (const EnumValueDescriptor* v = e.FindValueByName(name)) return v;
  return e.FindValueByName(absl::StrCat(EnumPrefix(e), name));
}

// "e.g. PATHWAY_ACUTE or acute".
std::string EnumExample(const EnumDescriptor& e) {
  const std::string& name = e.value(e.value_count() > 1 ? 1 : 0)->name();
  return absl::StrCat(
      "e.g. ", name, " or ",
      absl::AsciiStrToLower(absl::StripPrefix(name, EnumPrefix(e))));
}

bool IsJsonMediaType(absl::string_view content_type) {
  absl::string_view media = content_type.substr(0, content_type.find(';'));
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(media),
                                "application/json");
}

// Well-known message types whose JSON form is a string, so that a query
// parameter can give them ("receivedAfter=2024-05-01T00:00:00Z").
bool IsStringValuedMessage(const Descriptor& d) {
  return d.full_name() == "google.protobuf.Timestamp" ||
         d.full_name() == "google.protobuf.Duration";
}

}  // namespace

// One HTTP route and the unary method it calls.
struct HttpGateway::Route {
  enum class Kind {
    kFixed,     // calls `rpc`
    kGeneric,   // /api/v1/rpc/{service}/{method}
    kNotFound,  // any other /api/ path
  };
  Kind kind = Kind::kFixed;
  std::string http_method;  // "GET" (query parameters) or "POST" (JSON body)
  std::string pattern;      // httplib's regular expression
  std::string rpc;          // "/frontdoor.v1.ReferralService/GetReferral"
  std::string path_field;   // request field set from the path's capture
};

// An error answered to the HTTP caller.
struct HttpGateway::Failure {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string message;
  std::string field;    // lowerCamel JSON path, or ""
  int http_status = 0;  // 0: HttpStatusFor(code)

  static Failure Bad(std::string field, std::string message) {
    return Failure{absl::StatusCode::kInvalidArgument, std::move(message),
                   std::move(field)};
  }
};

namespace {

void WriteJsonError(httplib::Response& res, absl::StatusCode code,
                    absl::string_view message, absl::string_view field,
                    int http_status) {
  std::string json = R"({"error":{"code":)";
  log::AppendJsonString(absl::StatusCodeToString(code), &json);
  absl::StrAppend(&json, R"(,"status":)", http_status, R"(,"message":)");
  log::AppendJsonString(message, &json);
  if (!field.empty()) {
    json += R"(,"field":)";
    log::AppendJsonString(field, &json);
  }
  json += "}}";
  res.status = http_status;
  if (http_status == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.set_content(json, kJsonContentType);
}

}  // namespace

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;  // nginx's "client closed request"
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ErrorField(const Descriptor& request, absl::string_view message) {
  // protobuf's JSON parser: "(loc) name: Cannot find field." for an unknown
  // field (`name` as the caller spelled it), "(loc): invalid value ..." for
  // a bad value; loc uses proto names.
  if (absl::ConsumePrefix(&message, "(")) {
    const size_t close = message.find(')');
    if (close == absl::string_view::npos) return "";
    const std::string loc = JsonPath(request, message.substr(0, close));
    message.remove_prefix(close + 1);
    if (absl::StartsWith(message, ":")) return loc;
    absl::ConsumePrefix(&message, " ");
    const size_t colon = message.find(": ");
    if (colon == absl::string_view::npos) return loc;
    return absl::StrCat(loc, ".", message.substr(0, colon));
  }
  // The services' validation ("referral.observations.spo2_percent: ...")
  // and the parser's unknown top-level field ("nhsNumbr: Cannot find
  // field."): a path naming a field of the request, then ": ".
  const size_t colon = message.find(": ");
  if (colon == absl::string_view::npos) return "";
  const absl::string_view path = message.substr(0, colon);
  if (!IsPath(path)) return "";
  const absl::string_view first = path.substr(0, path.find_first_of(".["));
  if (FindField(request, first) == nullptr &&
      !absl::StartsWith(message.substr(colon), ": Cannot find field.")) {
    return "";
  }
  return JsonPath(request, path);
}

HttpGateway::HttpGateway(ChannelGetter channel_getter,
                         HttpGatewayOptions options)
    : channel_getter_(std::move(channel_getter)),
      options_(std::move(options)) {}

HttpGateway::HttpGateway(std::shared_ptr<grpc::Channel> channel,
                         HttpGatewayOptions options)
    : HttpGateway([channel] { return channel; }, std::move(options)) {}

std::shared_ptr<grpc::Channel> HttpGateway::Channel() {
  absl::MutexLock lock(&mu_);
  if (channel_ == nullptr) channel_ = channel_getter_();
  return channel_;
}

void HttpGateway::Register(httplib::Server& server) {
  // A file's descriptors are in the generated pool only if its generated
  // code is linked in; naming a message of each file the routes use makes
  // sure of it (hosted services are linked by the server that hosts them).
  for (const Descriptor* d :
       {v1::WhoAmIRequest::descriptor(), v1::GetReferralRequest::descriptor(),
        v1::TriageRequest::descriptor(),
        v1::ListServicesRequest::descriptor()}) {
    (void)d;
  }
  server.set_payload_max_length(options_.max_body_bytes);

  using Kind = Route::Kind;
  static const auto* const kRoutes = new std::vector<Route>{
      {Kind::kFixed, "GET", "/api/v1/whoami",
       "/frontdoor.v1.AuthService/WhoAmI", ""},
      {Kind::kFixed, "POST", "/api/v1/referrals",
       "/frontdoor.v1.ReferralService/SubmitReferral", ""},
      {Kind::kFixed, "GET", "/api/v1/referrals",
       "/frontdoor.v1.ReferralService/ListReferrals", ""},
      {Kind::kFixed, "GET", "/api/v1/referrals/([^/]+)",
       "/frontdoor.v1.ReferralService/GetReferral", "id"},
      {Kind::kFixed, "GET", "/api/v1/referrals/([^/]+)/events",
       "/frontdoor.v1.ReferralService/ListReferralEvents", "id"},
      {Kind::kFixed, "POST", "/api/v1/referrals/([^/]+)/transition",
       "/frontdoor.v1.ReferralService/TransitionReferral", "id"},
      {Kind::kFixed, "GET", "/api/v1/worklists/([^/]+)",
       "/frontdoor.v1.ReferralService/GetWorklist", "pathway"},
      {Kind::kFixed, "POST", "/api/v1/triage/explain",
       "/frontdoor.v1.TriageService/Explain", ""},
      {Kind::kFixed, "GET", "/api/v1/directory/services",
       "/frontdoor.v1.DirectoryService/ListServices", ""},
      {Kind::kGeneric, "POST", "/api/v1/rpc/([^/]+)/([^/]+)", "", ""},
  };
  static const auto* const kNotFound =
      new Route{Kind::kNotFound, "", "/api(/.*)?", "", ""};

  auto plain = [this](const Route* route) {
    return [this, route](const httplib::Request& req, httplib::Response& res) {
      Serve(*route, req, res, nullptr);
    };
  };
  auto with_body = [this](const Route* route) {
    return [this, route](const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& reader) {
      Serve(*route, req, res, &reader);
    };
  };
  // httplib hands a request with a body to a content-reader handler (so the
  // body is read here, within the limit) and one without to a plain one.
  for (const Route& route : *kRoutes) {
    if (route.http_method == "GET") {
      server.Get(route.pattern, plain(&route));
    } else {
      server.Post(route.pattern, with_body(&route));
      server.Post(route.pattern, plain(&route));
    }
  }
  const std::string& any = kNotFound->pattern;
  server.Get(any, plain(kNotFound));
  server.Options(any, plain(kNotFound));
  server.Post(any, with_body(kNotFound));
  server.Post(any, plain(kNotFound));
  server.Put(any, with_body(kNotFound));
  server.Put(any, plain(kNotFound));
  server.Patch(any, with_body(kNotFound));
  server.Patch(any, plain(kNotFound));
  server.Delete(any, with_body(kNotFound));
  server.Delete(any, plain(kNotFound));
}

void HttpGateway::Serve(const Route& route, const httplib::Request& req,
                        httplib::Response& res,
                        const httplib::ContentReader* reader) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-store");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  const std::string request_id = RequestIdFor(req);
  res.set_header("X-Request-Id", request_id);

  auto fail = [&](const Failure& f) {
    // A body refused unread (or cut off) would be taken for the next
    // request on this connection.
    if (reader != nullptr) res.set_header("Connection", "close");
    WriteJsonError(res, f.code, f.message, f.field,
                   f.http_status != 0 ? f.http_status : HttpStatusFor(f.code));
  };

  if (route.kind == Route::Kind::kNotFound) {
    return fail({absl::StatusCode::kNotFound,
                 absl::StrCat("no route ", req.method, " ", req.path,
                              " (see docs/api.md)")});
  }
  std::string service_name;
  std::string method_name;
  if (route.kind == Route::Kind::kGeneric) {
    service_name = req.matches[1].str();
    method_name = req.matches[2].str();
  } else {
    std::vector<std::string> parts =
        absl::StrSplit(absl::StripPrefix(route.rpc, "/"), '/');
    service_name = parts[0];
    method_name = parts[1];
  }
  const ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          service_name);
  const bool hosted =
      service != nullptr && service->file()->package() == kPackage &&
      (options_.services.empty() ||
       std::find(options_.services.begin(), options_.services.end(),
                 service_name) != options_.services.end());
  const MethodDescriptor* method =
      hosted ? service->FindMethodByName(method_name) : nullptr;
  if (method == nullptr) {
    return fail(
        {absl::StatusCode::kNotFound,
         hosted
             ? absl::StrCat(service_name, " has no method ", method_name)
             : absl::StrCat("no service ", service_name, " on this server")});
  }
  if (method->client_streaming() || method->server_streaming()) {
    return fail({absl::StatusCode::kUnimplemented,
                 absl::StrCat("/", service_name, "/", method_name,
                              " streams; only unary methods are offered "
                              "over HTTP (use gRPC)")});
  }

  google::protobuf::MessageFactory* factory =
      google::protobuf::MessageFactory::generated_factory();
  std::unique_ptr<Message> request(
      factory->GetPrototype(method->input_type())->New());
  if (std::optional<Failure> f =
          BuildRequest(route, req, reader, request.get(), res)) {
    return fail(*f);
  }
  reader = nullptr;  // the body has been read

  std::unique_ptr<Message> response(
      factory->GetPrototype(method->output_type())->New());
  if (absl::Status s = Call(*method, *request, req, request_id, response.get());
      !s.ok()) {
    return fail({s.code(), std::string(s.message()),
                 ErrorField(*method->input_type(), s.message())});
  }
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = false;
  print.preserve_proto_field_names = false;
  std::string json;
  if (auto s =
          google::protobuf::util::MessageToJsonString(*response, &json, print);
      !s.ok()) {
    log::Error("http gateway: answer not printable as JSON",
               {{"method", method->full_name()}, {"request_id", request_id}});
    return fail({absl::StatusCode::kInternal,
                 "the answer could not be written as JSON"});
  }
  res.status = 200;
  res.set_content(json, kJsonContentType);
}

std::optional<HttpGateway::Failure> HttpGateway::BuildRequest(
    const Route& route, const httplib::Request& req,
    const httplib::ContentReader* reader, Message* request,
    httplib::Response& res) const {
  const Descriptor& type = *request->GetDescriptor();
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  auto parse_json = [&](const std::string& json,
                        absl::string_view what) -> std::optional<Failure> {
    auto s = google::protobuf::util::JsonStringToMessage(json, request, parse);
    if (s.ok()) return std::nullopt;
    // Syntax errors go on to quote the input under a caret; the first line
    // says what is wrong.
    const absl::string_view all(s.message().data(), s.message().size());
    const std::string message(
        absl::StripAsciiWhitespace(all.substr(0, all.find('\n'))));
    return Failure::Bad(ErrorField(type, message),
                        absl::StrCat(what, " is not a valid ", type.full_name(),
                                     ": ", message));
  };

  if (route.http_method == "POST") {
    if (!req.params.empty()) {
      return Failure::Bad(req.params.begin()->first,
                          "this route takes no query parameters; send the "
                          "fields in the JSON body");
    }
    std::string body;
    if (reader != nullptr) {
      if (!IsJsonMediaType(req.get_header_value("Content-Type"))) {
        return Failure{absl::StatusCode::kInvalidArgument,
                       "the body must be JSON (Content-Type: "
                       "application/json)",
                       "", 415};
      }
      const size_t max = options_.max_body_bytes;
      size_t seen = 0;
      const bool read = (*reader)([&](const char* data, size_t n) {
        seen += n;
        if (seen > max) return seen <= max * kDrainFactor;
        body.append(data, n);
        return true;
      });
      // httplib answers 413 itself when Content-Length is over the limit.
      if (seen > max || res.status == 413) {
        return Failure{absl::StatusCode::kResourceExhausted,
                       absl::StrCat("the body is larger than ", max, " bytes"),
                       "", 413};
      }
      if (!read) return Failure::Bad("", "the body could not be read");
    }
    if (!body.empty()) {
      if (std::optional<Failure> f = parse_json(body, "the body")) return f;
    }
  } else {
    std::string json = "{";
    for (auto it = req.params.begin(); it != req.params.end(); ++it) {
      const std::string& key = it->first;
      const std::string& value = it->second;
      if (req.params.count(key) > 1) {
        return Failure::Bad(key, absl::StrCat("query parameter ", key,
                                              " is given more than once"));
      }
      const FieldDescriptor* f = FindField(type, key);
      if (f == nullptr) {
        return Failure::Bad(key, absl::StrCat("unknown query parameter ", key,
                                              " for ", type.full_name()));
      }
      if (f->is_repeated() || (f->message_type() != nullptr &&
                               !IsStringValuedMessage(*f->message_type()))) {
        return Failure::Bad(f->json_name(),
                            absl::StrCat(key,
                                         " cannot be given as a query "
                                         "parameter"));
      }
      if (FindInvalidUtf8(value) != absl::string_view::npos) {
        return Failure::Bad(f->json_name(), "is not valid UTF-8");
      }
      if (json.size() > 1) json += ",";
      log::AppendJsonString(f->json_name(), &json);
      json += ":";
      // Every value as a JSON string, which the JSON mapping accepts for
      // numbers too; but it reads any string as a bool, so check those.
      if (f->type() == FieldDescriptor::TYPE_BOOL) {
        if (value != "true" && value != "false") {
          return Failure::Bad(f->json_name(),
                              absl::StrCat(key, " must be true or false"));
        }
        json += value;
      } else {
        log::AppendJsonString(value, &json);
      }
    }
    json += "}";
    if (std::optional<Failure> f = parse_json(json, "the query")) return f;
  }

  if (!route.path_field.empty()) {
    const std::string value = req.matches[1].str();
    const FieldDescriptor* f = type.FindFieldByName(route.path_field);
    const google::protobuf::Reflection* r = request->GetReflection();
    if (FindInvalidUtf8(value) != absl::string_view::npos)
      return Failure::Bad(f->json_name(), "is not valid UTF-8");
    if (f->type() == FieldDescriptor::TYPE_ENUM) {
      const EnumValueDescriptor* v = FindEnumValue(*f->enum_type(), value);
      if (v == nullptr) {
        return Failure::Bad(
            f->json_name(),
            absl::StrCat("'", value, "' is not a ", f->enum_type()->name(),
                         " (", EnumExample(*f->enum_type()), ")"));
      }
      const int given = r->GetEnumValue(*request, f);
      if (given != 0 && given != v->number()) {
        return Failure::Bad(f->json_name(),
                            "the body or query names another one than the "
                            "path");
      }
      r->SetEnumValue(request, f, v->number());
    } else {
      const std::string given = r->GetString(*request, f);
      if (!given.empty() && given != value) {
        return Failure::Bad(f->json_name(),
                            "the body or query names another one than the "
                            "path");
      }
      r->SetString(request, f, value);
    }
  }
  return std::nullopt;
}

namespace {

// The subject common name of the HTTPS client's certificate, when the TLS
// handshake verified one (the server then requires one signed by its client
// CA) and the name can go in gRPC metadata.
std::optional<std::string> VerifiedCertificateName(
    const httplib::Request& req) {
  if (req.ssl == nullptr) return std::nullopt;
  SSL* ssl = const_cast<SSL*>(req.ssl);
  if (SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  X509_NAME* subject = X509_get_subject_name(cert);
  if (subject == nullptr) return std::nullopt;
  char cn[256];
  const int n =
      X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof(cn));
  if (n <= 0 || n >= static_cast<int>(sizeof(cn))) return std::nullopt;
  std::string name(cn, n);
  if (!IsMetadataValue(name)) return std::nullopt;
  return name;
}

}  // namespace

absl::Status HttpGateway::Call(const MethodDescriptor& method,
                               const Message& request,
                               const httplib::Request& req,
                               absl::string_view request_id,
                               Message* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
  if (req.has_header("Authorization")) {
    const std::string& auth = req.get_header_value("Authorization");
    // gRPC refuses to send other bytes in metadata.
    if (!IsMetadataValue(auth)) {
      return absl::UnauthenticatedError(
          "the Authorization header must be 'Bearer <token>'");
    }
    ctx.AddMetadata("authorization", auth);
  } else if (!options_.gateway_secret.empty()) {
    if (std::optional<std::string> cn = VerifiedCertificateName(req); cn) {
      ctx.AddMetadata("x-frontdoor-certificate-cn", *cn);
    }
  }
  if (const std::string& reason = req.get_header_value("X-Frontdoor-Reason");
      !reason.empty() && IsMetadataValue(reason)) {
    ctx.AddMetadata("x-frontdoor-reason", reason);
  }
  ctx.AddMetadata("x-request-id", std::string(request_id));
  if (!options_.gateway_secret.empty()) {
    ctx.AddMetadata("x-frontdoor-gateway", options_.gateway_secret);
  }
  if (IsMetadataValue(req.remote_addr))
    ctx.AddMetadata("x-forwarded-for", req.remote_addr);

  std::shared_ptr<grpc::Channel> channel = Channel();
  if (channel == nullptr) {
    return absl::UnavailableError("the server is starting; try again shortly");
  }
  grpc::ByteBuffer request_bytes;
  bool own_buffer = false;
  if (grpc::Status s = grpc::SerializationTraits<Message>::Serialize(
          request, &request_bytes, &own_buffer);
      !s.ok()) {
    return absl::InternalError("the request could not be encoded");
  }
  grpc::ByteBuffer response_bytes;
  grpc::Status status;
  absl::Notification done;
  grpc::GenericStub stub(channel);
  stub.UnaryCall(
      &ctx,
      absl::StrCat("/", method.service()->full_name(), "/", method.name()),
      grpc::StubOptions(), &request_bytes, &response_bytes,
      [&status, &done](grpc::Status s) {
        status = std::move(s);
        done.Notify();
      });
  done.WaitForNotification();
  if (!status.ok()) return FromGrpcStatus(status);
  if (grpc::Status s = grpc::SerializationTraits<Message>::Deserialize(
          &response_bytes, response);
      !s.ok()) {
    return absl::InternalError("the service's answer could not be read");
  }
  return absl::OkStatus();
}

}  // namespace frontdoor::gateway
