#include "services/portal/portal.h"

#include <httplib.h>

#include <string_view>

#include "services/portal/embedded_file.h"

namespace frontdoor::portal {

const char kContentSecurityPolicy[] =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

namespace {

std::string ContentType(std::string_view name) {
  auto ends_with = [name](std::string_view suffix) {
    return name.size() >= suffix.size() &&
           name.substr(name.size() - suffix.size()) == suffix;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace

std::vector<PortalRoute> PortalRoutes() {
  std::vector<PortalRoute> routes;
  for (int i = 0; i < internal::kEmbeddedFileCount; ++i) {
    const internal::EmbeddedFile& f = internal::kEmbeddedFiles[i];
    PortalRoute route{std::string("/") + f.name, ContentType(f.name),
                      std::string(f.data, f.size)};
    if (route.path == "/index.html") {
      routes.push_back(PortalRoute{"/", route.content_type, route.body});
    }
    routes.push_back(std::move(route));
  }
  return routes;
}

void RegisterPortal(httplib::Server& server) {
  for (PortalRoute& route : PortalRoutes()) {
    // httplib takes the path as a regular expression; the file names are
    // plain ("portal.js"), so only the dot needs escaping.
    std::string pattern;
    for (char c : route.path) {
      if (c == '.') pattern += '\\';
      pattern += c;
    }
    server.Get(pattern, [route = std::move(route)](const httplib::Request&,
                                                   httplib::Response& res) {
      res.set_header("Content-Security-Policy", kContentSecurityPolicy);
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("X-Frame-Options", "DENY");
      // The files change with the binary: always revalidate.
      res.set_header("Cache-Control", "no-cache");
      res.set_content(route.body, route.content_type);
    });
  }
}

}  // namespace frontdoor::portal
