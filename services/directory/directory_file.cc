#include "services/directory/directory_file.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "services/triage/engine/cell.h"
#include "services/triage/engine/yaml_subset.h"

namespace frontdoor::directory {
namespace {

using ::frontdoor::rules::Diagnostics;
using ::frontdoor::rules::SourcePos;
using ::frontdoor::rules::YamlNode;

constexpr int kMinutesPerDay = 1440;
constexpr int kMinutesPerWeek = 7 * kMinutesPerDay;
constexpr int kMaxAgeDays = 47482;  // 130 years
constexpr int kMaxRank = 99;

constexpr const char* kDayNames[] = {"Mon", "Tue", "Wed", "Thu",
                                     "Fri", "Sat", "Sun"};

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// A piece of a scalar: its text (trimmed) and where it starts in the file.
struct Piece {
  std::string text;
  SourcePos pos;
};

// A session as written, for the overlap check.
struct WrittenSession {
  v1::Session session;
  std::string text;
  SourcePos pos;
};

// District letters and number, e.g. "LS" and 10 for "LS10"; false if `s` is
// not a district without a trailing letter.
bool SplitDistrict(absl::string_view s, std::string* letters, int* number) {
  size_t i = 0;
  while (i < s.size() && absl::ascii_isalpha(s[i])) ++i;
  if (i < 1 || i > 2) return false;
  size_t j = i;
  while (j < s.size() && absl::ascii_isdigit(s[j])) ++j;
  if (j == i || j - i > 2 || j != s.size()) return false;
  *letters = std::string(s.substr(0, i));
  return absl::SimpleAtoi(s.substr(i), number);
}

bool IsDistrict(absl::string_view s) {
  size_t i = 0;
  while (i < s.size() && absl::ascii_isupper(s[i])) ++i;
  if (i < 1 || i > 2) return false;
  size_t j = i;
  while (j < s.size() && absl::ascii_isdigit(s[j])) ++j;
  if (j == i || j - i > 2) return false;
  if (j == s.size()) return true;
  return j + 1 == s.size() && absl::ascii_isupper(s[j]);
}

int DaysFor(int n, char unit) {
  double per = unit == 'd'   ? 1
               : unit == 'w' ? kDaysPerWeek
               : unit == 'm' ? kDaysPerMonth
                             : kDaysPerYear;
  return static_cast<int>(std::floor(n * per));
}

// "18y" -> days; an error message otherwise.
bool ParseAgeAmount(absl::string_view s, int* days, std::string* error) {
  if (s.empty()) {
    *error = "an age is missing; write a number and a unit, e.g. 18y";
    return false;
  }
  char unit = s.back();
  if (unit != 'd' && unit != 'w' && unit != 'm' && unit != 'y') {
    *error = absl::StrCat("age '", s,
                          "' needs a unit: d (days), w (weeks), m (months) or "
                          "y (years), e.g. 18y");
    return false;
  }
  int n = 0;
  absl::string_view num = s.substr(0, s.size() - 1);
  if (num.empty() || num.size() > 5 ||
      !std::all_of(num.begin(), num.end(),
                   [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(num, &n)) {
    *error = absl::StrCat("'", s, "' is not an age; write e.g. 18y or 28d");
    return false;
  }
  *days = DaysFor(n, unit);
  if (*days > kMaxAgeDays) {
    *error = absl::StrCat("age '", s, "' is over 130 years");
    return false;
  }
  return true;
}

// Bound days as the shortest exact unit ("18y", "3m", "28d").
std::string FormatBound(int days) {
  struct Unit {
    char c;
    double per;
  };
  for (Unit u : {Unit{'y', kDaysPerYear}, Unit{'m', kDaysPerMonth},
                 Unit{'w', kDaysPerWeek}}) {
    int n = static_cast<int>(std::lround(days / u.per));
    if (n >= 1 && DaysFor(n, u.c) == days) {
      return absl::StrCat(n, std::string(1, u.c));
    }
  }
  return absl::StrCat(days, "d");
}

std::string Minutes(int m) {
  return absl::StrFormat("%02d:%02d", m / 60, m % 60);
}

class Parser {
 public:
  Parser(absl::string_view text, absl::string_view file,
         const DirectoryLoadOptions& options, Diagnostics* diags)
      : text_(text), file_(file), options_(options), diags_(diags) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::optional<DirectoryFile> Parse() {
    const int errors_before = diags_->error_count();
    std::unique_ptr<YamlNode> root =
        rules::ParseStrictYaml(text_, file_, diags_);
    if (root == nullptr) return std::nullopt;
    DirectoryFile out;
    ReadTop(*root, &out);
    if (diags_->error_count() > errors_before) return std::nullopt;
    return out;
  }

 private:
  void Error(SourcePos pos, absl::string_view code, std::string message) {
    diags_->Error(file_, pos, code, std::move(message));
  }

  // The position of byte `offset` of scalar `n`'s value (its first
  // character when the scalar is quoted). Multi-line scalars report their
  // start.
  SourcePos At(const YamlNode& n, size_t offset) const {
    if (n.block_scalar || n.pos.line <= 0 ||
        n.scalar.find('\n') != std::string::npos) {
      return n.pos;
    }
    int col = n.pos.col;
    size_t line = static_cast<size_t>(n.pos.line - 1);
    if (line < line_starts_.size()) {
      size_t at = line_starts_[line] + static_cast<size_t>(n.pos.col - 1);
      if (at < text_.size() && (text_[at] == '"' || text_[at] == '\'')) ++col;
    }
    return {n.pos.line, col + static_cast<int>(offset)};
  }

  // Checks that `node` is a map with only `allowed` keys.
  bool Map(const YamlNode& node, absl::string_view what,
           const std::vector<absl::string_view>& allowed) {
    if (node.kind != YamlNode::Kind::kMap) {
      Error(node.pos, "wrong-shape",
            absl::StrCat(what, " must be a map, found ", node.KindName()));
      return false;
    }
    for (const auto& e : node.entries) {
      if (std::find(allowed.begin(), allowed.end(), e.key) == allowed.end()) {
        Error(e.key_pos, "unknown-key",
              absl::StrCat("unknown key '", e.key, "' in ", what,
                           "; allowed: ", absl::StrJoin(allowed, ", ")));
      }
    }
    return true;
  }

  // A scalar value under `key`, or null (reported if `required`).
  const YamlNode* Scalar(const YamlNode& map, absl::string_view key,
                         bool required, absl::string_view what) {
    const YamlNode* v = map.Find(key);
    if (v == nullptr) {
      if (required) {
        Error(map.pos, "missing-key", absl::StrCat(what, " needs '", key, "'"));
      }
      return nullptr;
    }
    if (v->kind != YamlNode::Kind::kScalar) {
      Error(v->pos, "wrong-shape",
            absl::StrCat("'", key, "' must be a single value, found ",
                         v->KindName()));
      return nullptr;
    }
    return v;
  }

  // Splits scalar `n` at `sep` into trimmed, non-empty pieces with their
  // positions; an empty piece is an error.
  std::vector<Piece> Split(const YamlNode& n, char sep,
                           absl::string_view what) {
    std::vector<Piece> out;
    const std::string& s = n.scalar;
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(sep, start);
      if (end == std::string::npos) end = s.size();
      size_t b = start, e = end;
      while (b < e && IsBlank(s[b])) ++b;
      while (e > b && IsBlank(s[e - 1])) --e;
      if (b == e) {
        Error(At(n, start), "empty-item", absl::StrCat("empty item in ", what));
      } else {
        out.push_back({s.substr(b, e - b), At(n, b)});
      }
      start = end + 1;
    }
    return out;
  }

  // A list written as a YAML sequence of values or as "A, B, C".
  std::vector<Piece> Items(const YamlNode& v, char sep,
                           absl::string_view what) {
    std::vector<Piece> out;
    if (v.kind == YamlNode::Kind::kScalar) return Split(v, sep, what);
    if (v.kind != YamlNode::Kind::kSequence) {
      Error(v.pos, "wrong-shape",
            absl::StrCat(what, " must be a list, found ", v.KindName()));
      return out;
    }
    if (v.items.empty()) {
      Error(v.pos, "empty-list", absl::StrCat(what, " is an empty list"));
    }
    for (const auto& item : v.items) {
      if (item->kind != YamlNode::Kind::kScalar) {
        Error(item->pos, "wrong-shape",
              absl::StrCat("items of ", what, " must be single values"));
        continue;
      }
      std::vector<Piece> pieces = Split(*item, sep, what);
      out.insert(out.end(), pieces.begin(), pieces.end());
    }
    return out;
  }

  void ReadTop(const YamlNode& root, DirectoryFile* out) {
    if (!Map(root, "the directory file",
             {"directory", "title", "owner", "description", "timezone",
              "services"})) {
      return;
    }
    if (const YamlNode* v =
            Scalar(root, "directory", true, "the directory file")) {
      out->name = v->scalar;
    }
    if (const YamlNode* v = Scalar(root, "title", false, ""))
      out->title = v->scalar;
    if (const YamlNode* v = Scalar(root, "owner", false, ""))
      out->owner = v->scalar;
    Scalar(root, "description", false, "");
    if (const YamlNode* v =
            Scalar(root, "timezone", true, "the directory file")) {
      absl::TimeZone tz;
      if (!absl::LoadTimeZone(v->scalar, &tz)) {
        Error(v->pos, "bad-timezone",
              absl::StrCat("unknown time zone '", v->scalar,
                           "'; write an IANA name such as Europe/London"));
      }
      out->timezone = v->scalar;
    }
    const YamlNode::Entry* services = root.FindEntry("services");
    if (services == nullptr) {
      Error(root.pos, "missing-key", "the directory file needs 'services'");
      return;
    }
    if (services->value->kind != YamlNode::Kind::kSequence) {
      Error(services->value->pos, "wrong-shape",
            absl::StrCat("'services' must be a list, found ",
                         services->value->KindName()));
      return;
    }
    const auto& items = services->value->items;
    if (static_cast<int>(items.size()) > options_.max_services) {
      Error(services->key_pos, "too-many-services",
            absl::StrCat(items.size(), " services; at most ",
                         options_.max_services));
      return;
    }
    std::map<std::string, int> first_line_of_id;
    bool any_catch_all = false;
    for (const auto& item : items) {
      v1::Service service;
      SourcePos id_pos;
      bool ok = ReadService(*item, &service, &id_pos);
      // Counted even when the service has errors, so that one mistake does
      // not also raise a spurious no-catch-all error.
      any_catch_all = any_catch_all || service.catch_all();
      if (!ok) continue;
      auto [it, inserted] = first_line_of_id.emplace(service.id(), id_pos.line);
      if (!inserted) {
        Error(id_pos, "duplicate-id",
              absl::StrCat("duplicate service id '", service.id(),
                           "' (first at line ", it->second, ")"));
        continue;
      }
      out->services.push_back(std::move(service));
    }
    std::set<int> offered;
    for (const v1::Service& s : out->services) {
      for (int p : s.pathways()) offered.insert(p);
    }
    if (!any_catch_all) {
      Error(services->key_pos, "no-catch-all",
            "no catch-all service: mark at least one emergency department "
            "'catch_all: yes' (open 24/7, no age limits) so that every "
            "referral has a service");
    }
    if (diags_->error_count() == 0) {
      const auto* pathways = v1::Pathway_descriptor();
      for (int i = 0; i < pathways->value_count(); ++i) {
        const auto* v = pathways->value(i);
        if (v->number() == 0 || offered.count(v->number())) continue;
        diags_->Warning(
            file_, services->key_pos, "pathway-without-service",
            absl::StrCat("no service offers ", rules::ShortEnumName(v),
                         ": its referrals always go to the "
                         "catch-all"));
      }
    }
  }

  // Reads one service; false if it is unusable (errors reported).
  bool ReadService(const YamlNode& node, v1::Service* out, SourcePos* id_pos) {
    const int errors_before = diags_->error_count();
    if (!Map(node, "a service",
             {"id", "name", "note", "pathways", "catchment", "age", "sexes",
              "sessions", "capacity", "rank", "catch_all", "phone"})) {
      return false;
    }
    if (const YamlNode* v = Scalar(node, "id", true, "a service")) {
      *id_pos = v->pos;
      const std::string& id = v->scalar;
      bool ok = !id.empty() && id.size() <= 64 &&
                (absl::ascii_islower(id[0]) || absl::ascii_isdigit(id[0]));
      for (char c : id) {
        ok = ok && (absl::ascii_islower(c) || absl::ascii_isdigit(c) ||
                    c == '-' || c == '_');
      }
      if (!ok) {
        Error(v->pos, "bad-id",
              absl::StrCat("service id '", id,
                           "' must be 1-64 lower-case letters, digits, '-' "
                           "or '_', starting with a letter or digit"));
      }
      out->set_id(id);
    } else {
      *id_pos = node.pos;
    }
    if (const YamlNode* v = Scalar(node, "name", true, "a service")) {
      out->set_name(v->scalar);
    }
    Scalar(node, "note", false, "");
    if (const YamlNode* v = Scalar(node, "phone", false, "")) {
      out->set_phone(v->scalar);
    }
    if (const YamlNode* v = node.Find("pathways")) {
      ReadPathways(*v, out);
    } else {
      Error(node.pos, "missing-key", "a service needs 'pathways'");
    }
    if (const YamlNode* v = node.Find("catchment")) {
      ReadCatchment(*v, out);
    } else {
      Error(node.pos, "missing-key",
            "a service needs 'catchment' (a list of postcode districts, or "
            "'everywhere')");
    }
    if (const YamlNode* v = Scalar(node, "age", false, "")) ReadAge(*v, out);
    if (const YamlNode* v = node.Find("sexes")) ReadSexes(*v, out);
    if (const YamlNode* v = node.Find("sessions")) {
      ReadSessions(*v, out);
    } else {
      Error(node.pos, "missing-key",
            "a service needs 'sessions' (e.g. \"Mon-Fri 08:00-18:30\", or "
            "24/7)");
    }
    out->set_default_capacity(v1::CAPACITY_GREEN);
    if (const YamlNode* v = Scalar(node, "capacity", false, "")) {
      if (v->scalar == "GREEN") {
        out->set_default_capacity(v1::CAPACITY_GREEN);
      } else if (v->scalar == "AMBER") {
        out->set_default_capacity(v1::CAPACITY_AMBER);
      } else {
        Error(v->pos, "bad-capacity",
              absl::StrCat("default capacity '", v->scalar,
                           "' must be GREEN or AMBER (RED is set live, "
                           "with an expiry)"));
      }
    }
    out->set_rank(1);
    if (const YamlNode* v = Scalar(node, "rank", false, "")) {
      int rank = 0;
      if (!absl::SimpleAtoi(v->scalar, &rank) || rank < 1 || rank > kMaxRank) {
        Error(v->pos, "bad-rank",
              absl::StrCat("rank '", v->scalar,
                           "' must be a whole number from 1 (preferred) to ",
                           kMaxRank));
      } else {
        out->set_rank(rank);
      }
    }
    if (const YamlNode* v = Scalar(node, "catch_all", false, "")) {
      std::string l = absl::AsciiStrToLower(v->scalar);
      if (l == "yes" || l == "true") {
        out->set_catch_all(true);
      } else if (l != "no" && l != "false") {
        Error(v->pos, "bad-value", "'catch_all' takes yes or no");
      }
      if (out->catch_all()) {
        if (out->sessions_size() > 0) {
          Error(v->pos, "catch-all-hours",
                absl::StrCat("catch-all service '", out->id(),
                             "' must be open 24/7 (sessions: 24/7)"));
        }
        if (out->min_age_days() > 0 || out->max_age_days() > 0 ||
            out->sexes_size() > 0) {
          Error(v->pos, "catch-all-limits",
                absl::StrCat("catch-all service '", out->id(),
                             "' must take every age and sex"));
        }
      }
    }
    return diags_->error_count() == errors_before;
  }

  void ReadPathways(const YamlNode& v, v1::Service* out) {
    std::set<int> seen;
    for (const Piece& p : Items(v, ',', "pathways")) {
      const auto* ev = rules::FindEnumValue(v1::Pathway_descriptor(), p.text);
      if (ev == nullptr || ev->number() == 0) {
        std::vector<std::string> names;
        const auto* type = v1::Pathway_descriptor();
        for (int i = 1; i < type->value_count(); ++i) {
          names.push_back(rules::ShortEnumName(type->value(i)));
        }
        std::string hint;
        const auto* upper = rules::FindEnumValue(v1::Pathway_descriptor(),
                                                 absl::AsciiStrToUpper(p.text));
        if (upper != nullptr && upper->number() != 0) {
          hint = absl::StrCat(" (write ", rules::ShortEnumName(upper), ")");
        }
        Error(p.pos, "bad-pathway",
              absl::StrCat("unknown pathway '", p.text, "'", hint,
                           "; expected one of ", absl::StrJoin(names, ", ")));
        continue;
      }
      if (!seen.insert(ev->number()).second) {
        Error(p.pos, "duplicate-pathway",
              absl::StrCat("pathway ", p.text, " is listed twice"));
        continue;
      }
      out->add_pathways(static_cast<v1::Pathway>(ev->number()));
    }
  }

  void ReadCatchment(const YamlNode& v, v1::Service* out) {
    if (v.kind == YamlNode::Kind::kScalar && v.scalar == "everywhere") return;
    std::map<std::string, std::string> seen;  // district -> item naming it
    auto add = [&](const std::string& d, const Piece& p) {
      auto [it, inserted] = seen.emplace(d, p.text);
      if (!inserted) {
        Error(p.pos, "duplicate-district",
              absl::StrCat(d, " is listed twice (also in ", it->second, ")"));
        return;
      }
      out->add_catchment(d);
    };
    for (const Piece& p : Items(v, ',', "catchment")) {
      std::string item = absl::AsciiStrToUpper(p.text);
      size_t dash = item.find('-');
      if (dash == std::string::npos) {
        if (!IsDistrict(item)) {
          Error(p.pos, "bad-district",
                absl::StrCat("'", p.text,
                             "' is not a postcode district (e.g. LS6, BD10, "
                             "EC1A) or a range (LS1-LS29); for every "
                             "district write 'catchment: everywhere'"));
          continue;
        }
        add(item, p);
        continue;
      }
      std::string lo_letters, hi_letters;
      int lo = 0, hi = 0;
      absl::string_view lo_text =
          absl::StripAsciiWhitespace(absl::string_view(item).substr(0, dash));
      absl::string_view hi_text =
          absl::StripAsciiWhitespace(absl::string_view(item).substr(dash + 1));
      if (!SplitDistrict(lo_text, &lo_letters, &lo) ||
          !SplitDistrict(hi_text, &hi_letters, &hi) ||
          lo_letters != hi_letters || lo > hi) {
        Error(p.pos, "bad-range",
              absl::StrCat("'", p.text,
                           "' is not a range of districts; write e.g. "
                           "LS1-LS29 (same letters, low number first)"));
        continue;
      }
      if (hi - lo + 1 > options_.max_range_districts) {
        Error(
            p.pos, "bad-range",
            absl::StrCat("range '", p.text, "' has ", hi - lo + 1,
                         " districts; at most ", options_.max_range_districts));
        continue;
      }
      for (int n = lo; n <= hi; ++n) add(absl::StrCat(lo_letters, n), p);
    }
  }

  void ReadAge(const YamlNode& v, v1::Service* out) {
    std::string s;
    for (char c : v.scalar) {
      if (!IsBlank(c)) s.push_back(c);
    }
    std::string error;
    int lo = 0, hi = 0;
    if (s == "any") return;
    if (absl::StartsWith(s, ">=")) {
      if (!ParseAgeAmount(s.substr(2), &lo, &error)) {
        Error(v.pos, "bad-age", error);
        return;
      }
      out->set_min_age_days(lo);
      return;
    }
    if (absl::StartsWith(s, "<") && !absl::StartsWith(s, "<=")) {
      if (!ParseAgeAmount(s.substr(1), &hi, &error)) {
        Error(v.pos, "bad-age", error);
        return;
      }
      if (hi < 1) {
        Error(v.pos, "bad-age", absl::StrCat("age '", v.scalar, "' is empty"));
        return;
      }
      out->set_max_age_days(hi - 1);
      return;
    }
    if (absl::StartsWith(s, "[") && absl::EndsWith(s, ")")) {
      absl::string_view inner(s);
      inner = inner.substr(1, inner.size() - 2);
      size_t dots = inner.find("..");
      if (dots != absl::string_view::npos) {
        if (!ParseAgeAmount(inner.substr(0, dots), &lo, &error) ||
            !ParseAgeAmount(inner.substr(dots + 2), &hi, &error)) {
          Error(v.pos, "bad-age", error);
          return;
        }
        if (hi <= lo) {
          Error(v.pos, "bad-age",
                absl::StrCat("age range '", v.scalar,
                             "' is empty; the upper bound must be higher"));
          return;
        }
        out->set_min_age_days(lo);
        out->set_max_age_days(hi - 1);
        return;
      }
    }
    Error(v.pos, "bad-age",
          absl::StrCat("age '", v.scalar,
                       "' must be \">= 18y\", \"< 18y\", \"[16y..65y)\" or "
                       "any (units d, w, m, y; quote it: a leading > or [ "
                       "means something else in YAML)"));
  }

  void ReadSexes(const YamlNode& v, v1::Service* out) {
    std::set<int> seen;
    for (const Piece& p : Items(v, ',', "sexes")) {
      const auto* ev = rules::FindEnumValue(v1::Sex_descriptor(), p.text);
      if (ev == nullptr || ev->number() == 0) {
        Error(p.pos, "bad-sex",
              absl::StrCat("unknown sex '", p.text,
                           "'; expected FEMALE, MALE, INDETERMINATE or "
                           "NOT_KNOWN"));
        continue;
      }
      if (!seen.insert(ev->number()).second) {
        Error(p.pos, "duplicate-sex", absl::StrCat(p.text, " is listed twice"));
        continue;
      }
      out->add_sexes(static_cast<v1::Sex>(ev->number()));
    }
  }

  // Sessions: "24/7", or "Mon-Fri 08:00-18:30; Sat 09:00-12:00", or a list
  // of such strings.
  void ReadSessions(const YamlNode& v, v1::Service* out) {
    std::vector<Piece> pieces = Items(v, ';', "sessions");
    bool always = false;
    std::vector<WrittenSession> written;
    for (const Piece& p : pieces) {
      if (p.text == "24/7") {
        if (pieces.size() > 1) {
          Error(p.pos, "bad-session",
                "24/7 cannot be combined with other sessions");
        }
        always = true;
        continue;
      }
      ReadSession(p, &written);
    }
    if (always) return;
    // Overlaps, on the circle of the week's minutes.
    for (size_t b = 0; b < written.size(); ++b) {
      for (size_t a = 0; a < b; ++a) {
        if (Overlap(written[a].session, written[b].session)) {
          Error(written[b].pos, "overlapping-sessions",
                absl::StrCat("session '", written[b].text, "' overlaps '",
                             written[a].text, "' (line ", written[a].pos.line,
                             ")"));
          break;
        }
      }
    }
    for (const WrittenSession& w : written) *out->add_sessions() = w.session;
  }

  static int Start(const v1::Session& s) {
    return (s.day() - 1) * kMinutesPerDay + s.open_minute();
  }
  static int Length(const v1::Session& s) {
    return s.close_minute() > s.open_minute()
               ? s.close_minute() - s.open_minute()
               : kMinutesPerDay - s.open_minute() + s.close_minute();
  }
  static bool Overlap(const v1::Session& a, const v1::Session& b) {
    int ab = ((Start(b) - Start(a)) % kMinutesPerWeek + kMinutesPerWeek) %
             kMinutesPerWeek;
    int ba = ((Start(a) - Start(b)) % kMinutesPerWeek + kMinutesPerWeek) %
             kMinutesPerWeek;
    return ab < Length(a) || ba < Length(b);
  }

  // "Mon-Fri 08:00-18:30", "Sat,Sun 09:00-13:00", "daily 08:00-20:00".
  void ReadSession(const Piece& p, std::vector<WrittenSession>* out) {
    const std::string& s = p.text;
    size_t digit = 0;
    while (digit < s.size() && !absl::ascii_isdigit(s[digit])) ++digit;
    auto pos_of = [&](size_t offset) {
      return SourcePos{p.pos.line, p.pos.col + static_cast<int>(offset)};
    };
    if (digit == s.size()) {
      Error(p.pos, "bad-session",
            absl::StrCat("session '", s,
                         "' needs opening times, e.g. Mon-Fri 08:00-18:30"));
      return;
    }
    // Days.
    std::vector<int> days;
    bool days_ok = true;
    {
      size_t start = 0;
      size_t end_days = digit;
      while (end_days > 0 && IsBlank(s[end_days - 1])) --end_days;
      if (end_days == 0) {
        Error(p.pos, "bad-session",
              absl::StrCat("session '", s,
                           "' needs days first, e.g. Mon-Fri 08:00-18:30"));
        return;
      }
      while (start <= end_days) {
        size_t comma = s.find(',', start);
        if (comma == std::string::npos || comma > end_days) comma = end_days;
        size_t b = start, e = comma;
        while (b < e && IsBlank(s[b])) ++b;
        while (e > b && IsBlank(s[e - 1])) --e;
        std::string item = s.substr(b, e - b);
        size_t dash = item.find('-');
        if (absl::AsciiStrToLower(item) == "daily") {
          for (int d = 1; d <= 7; ++d) days.push_back(d);
        } else if (dash == std::string::npos) {
          int d = Weekday(item);
          if (d == 0) {
            BadWeekday(item, pos_of(b));
            days_ok = false;
          } else {
            days.push_back(d);
          }
        } else {
          std::string first(absl::StripAsciiWhitespace(
              absl::string_view(item).substr(0, dash)));
          std::string last(absl::StripAsciiWhitespace(
              absl::string_view(item).substr(dash + 1)));
          int d0 = Weekday(first), d1 = Weekday(last);
          if (d0 == 0) BadWeekday(first, pos_of(b));
          if (d1 == 0) {
            size_t off = b + dash + 1;
            while (off < s.size() && IsBlank(s[off])) ++off;
            BadWeekday(last, pos_of(off));
          }
          if (d0 == 0 || d1 == 0) {
            days_ok = false;
          } else {
            // Wraps past Sunday: "Fri-Mon" is Fri, Sat, Sun, Mon.
            for (int d = d0;; d = d % 7 + 1) {
              days.push_back(d);
              if (d == d1) break;
            }
          }
        }
        start = comma + 1;
      }
    }
    // Times.
    absl::string_view times = absl::string_view(s).substr(digit);
    size_t dash = times.find('-');
    if (dash == absl::string_view::npos) {
      Error(pos_of(digit), "bad-time",
            absl::StrCat("'", times,
                         "' must be opening and closing times, e.g. "
                         "08:00-18:30"));
      return;
    }
    absl::string_view open_text =
        absl::StripAsciiWhitespace(times.substr(0, dash));
    absl::string_view close_text =
        absl::StripAsciiWhitespace(times.substr(dash + 1));
    size_t close_offset = digit + dash + 1;
    while (close_offset < s.size() && IsBlank(s[close_offset])) ++close_offset;
    int open = 0, close = 0;
    bool open_ok = Time(open_text, pos_of(digit), false, &open);
    bool close_ok = Time(close_text, pos_of(close_offset), true, &close);
    if (!open_ok || !close_ok || !days_ok) return;
    if (close == 0 && open > 0) close = kMinutesPerDay;  // "22:00-00:00"
    if (open == close) {
      Error(pos_of(digit), "empty-session",
            absl::StrCat("session '", s, "' opens and closes at ",
                         Minutes(open % kMinutesPerDay),
                         "; for a whole day write 00:00-24:00"));
      return;
    }
    std::set<int> seen;
    for (int d : days) {
      if (!seen.insert(d).second) {
        Error(p.pos, "bad-session",
              absl::StrCat("session '", s, "' names ", kDayNames[d - 1],
                           " twice"));
        return;
      }
      v1::Session session;
      session.set_day(static_cast<v1::Weekday>(d));
      session.set_open_minute(open);
      session.set_close_minute(close);
      out->push_back({session, s, p.pos});
    }
  }

  void BadWeekday(absl::string_view text, SourcePos pos) {
    Error(pos, "bad-weekday",
          absl::StrCat("'", text,
                       "' is not a weekday; write Mon, Tue, Wed, Thu, Fri, "
                       "Sat or Sun, a range such as Mon-Fri, or daily"));
  }

  // 1..7 for a day name (three letters or in full, any case), else 0.
  static int Weekday(absl::string_view text) {
    static const char* const kFull[] = {"monday",   "tuesday", "wednesday",
                                        "thursday", "friday",  "saturday",
                                        "sunday"};
    std::string l = absl::AsciiStrToLower(text);
    for (int i = 0; i < 7; ++i) {
      if (l == kFull[i] || l == absl::AsciiStrToLower(kDayNames[i])) {
        return i + 1;
      }
    }
    return 0;
  }

  // "HH:MM" from 00:00 to 23:59 (24:00 too when `closing`).
  bool Time(absl::string_view text, SourcePos pos, bool closing, int* minute) {
    int h = -1, m = -1;
    size_t colon = text.find(':');
    bool ok = colon != absl::string_view::npos && colon >= 1 && colon <= 2 &&
              text.size() == colon + 3;
    if (ok) {
      for (size_t i = 0; i < text.size(); ++i) {
        if (i != colon && !absl::ascii_isdigit(text[i])) ok = false;
      }
    }
    ok = ok && absl::SimpleAtoi(text.substr(0, colon), &h) &&
         absl::SimpleAtoi(text.substr(colon + 1), &m);
    ok = ok && m >= 0 && m <= 59 && (h <= 23 || (closing && h == 24 && m == 0));
    if (!ok) {
      Error(pos, "bad-time",
            absl::StrCat("'", text,
                         "' is not a time of day; write HH:MM from 00:00 to ",
                         closing ? "24:00" : "23:59"));
      return false;
    }
    *minute = h * 60 + m;
    return true;
  }

  absl::string_view text_;
  std::string file_;
  const DirectoryLoadOptions& options_;
  Diagnostics* diags_;
  std::vector<size_t> line_starts_;
};

}  // namespace

std::optional<DirectoryFile> ParseDirectoryFile(
    absl::string_view text, absl::string_view file, rules::Diagnostics* diags,
    const DirectoryLoadOptions& options) {
  if (static_cast<int64_t>(text.size()) > options.max_file_bytes) {
    diags->Error(file, {}, "file-too-large",
                 absl::StrCat("the file has ", text.size(), " bytes; at most ",
                              options.max_file_bytes));
    return std::nullopt;
  }
  Parser parser(text, file, options, diags);
  return parser.Parse();
}

std::optional<DirectoryFile> ReadDirectoryFile(
    const std::string& path, rules::Diagnostics* diags,
    const DirectoryLoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags->Error(path, {}, "unreadable", "cannot open the directory file");
    return std::nullopt;
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (static_cast<int64_t>(text.size()) > options.max_file_bytes) break;
  }
  if (in.bad()) {
    diags->Error(path, {}, "unreadable", "cannot read the directory file");
    return std::nullopt;
  }
  return ParseDirectoryFile(text, path, diags, options);
}

absl::StatusOr<DirectoryFile> LoadDirectoryFile(
    const std::string& path, const DirectoryLoadOptions& options) {
  rules::Diagnostics diags;
  std::optional<DirectoryFile> file = ReadDirectoryFile(path, &diags, options);
  if (file.has_value()) return *std::move(file);
  std::vector<std::string> lines;
  bool unreadable = false;
  for (const auto& d : diags.items()) {
    if (d.severity != rules::Diagnostic::Severity::kError) continue;
    unreadable = unreadable || d.code == "unreadable";
    lines.push_back(rules::FormatDiagnostic(d));
  }
  std::string message = absl::StrJoin(lines, "\n");
  return unreadable ? absl::NotFoundError(message)
                    : absl::InvalidArgumentError(message);
}

std::string NormalizeDistrict(absl::string_view postcode) {
  absl::string_view s = absl::StripAsciiWhitespace(postcode);
  size_t space = 0;
  while (space < s.size() && !absl::ascii_isspace(s[space])) ++space;
  std::string outward = absl::AsciiStrToUpper(s.substr(0, space));
  // A full postcode written without its space ("LS64AP"): the inward code
  // is always a digit and two letters.
  if (space == s.size() && outward.size() >= 5 &&
      absl::ascii_isdigit(outward[outward.size() - 3]) &&
      absl::ascii_isalpha(outward[outward.size() - 2]) &&
      absl::ascii_isalpha(outward.back())) {
    std::string candidate = outward.substr(0, outward.size() - 3);
    if (IsDistrict(candidate)) return candidate;
  }
  return IsDistrict(outward) ? outward : "";
}

std::string FormatAgeLimits(int min_age_days, int max_age_days) {
  if (min_age_days <= 0 && max_age_days <= 0) return "any age";
  if (max_age_days <= 0) return absl::StrCat(">= ", FormatBound(min_age_days));
  if (min_age_days <= 0)
    return absl::StrCat("< ", FormatBound(max_age_days + 1));
  return absl::StrCat("[", FormatBound(min_age_days), "..",
                      FormatBound(max_age_days + 1), ")");
}

std::string FormatAge(int age_days) {
  if (age_days >= 2 * kDaysPerYear) {
    return absl::StrCat(static_cast<int>(age_days / kDaysPerYear), "y");
  }
  if (age_days >= 31) {
    return absl::StrCat(static_cast<int>(age_days / kDaysPerMonth), "m");
  }
  return absl::StrCat(age_days, "d");
}

}  // namespace frontdoor::directory
