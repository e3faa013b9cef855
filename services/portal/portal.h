// The referrers' web portal (services/portal/web/): one page, its script
// and its style sheet, compiled into the binary so frontdoor-server serves
// them from any working directory. The page talks to the JSON API under
// /api/v1/ on the same listener; docs/portal.md describes it.

#ifndef FRONTDOOR_SERVICES_PORTAL_PORTAL_H_
#define FRONTDOOR_SERVICES_PORTAL_PORTAL_H_

#include <string>
#include <vector>

namespace httplib {
class Server;
}  // namespace httplib

namespace frontdoor::portal {

// The headers every portal response carries: a Content-Security-Policy that
// allows only the server's own scripts, styles and API (no inline script or
// style, no framing), nosniff, and no Referer (a referral reference in a URL
// must not leak to another site).
extern const char kContentSecurityPolicy[];

struct PortalRoute {
  std::string path;          // "/", "/portal.js", ...
  std::string content_type;  // "text/html; charset=utf-8", ...
  std::string body;
};

// What RegisterPortal serves: "/" and "/index.html" (the page),
// "/portal.js" and "/portal.css".
std::vector<PortalRoute> PortalRoutes();

// Adds GET routes for PortalRoutes() to `server`.
void RegisterPortal(httplib::Server& server);

}  // namespace frontdoor::portal

#endif  // FRONTDOOR_SERVICES_PORTAL_PORTAL_H_
