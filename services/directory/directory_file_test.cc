// The directory file: the default file loads, and every kind of mistake is
// reported with its file:line:col.

#include "services/directory/directory_file.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/test_util.h"

namespace frontdoor::directory {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kDefaultFile[] = "triage-rules/directory.yaml";

// A small valid file; tests change one thing in it.
constexpr char kBase[] = R"(directory: test
timezone: Europe/London
services:
  - id: ucr
    name: UCR
    pathways: [UCR]
    catchment: [LS1-LS9]
    age: ">= 18y"
    sessions: "Mon-Sun 08:00-20:00"
  - id: ed
    name: ED
    pathways: [ACUTE]
    catchment: everywhere
    sessions: 24/7
    catch_all: yes
)";

struct Result {
  std::optional<DirectoryFile> file;
  std::vector<std::string> errors;    // formatted
  std::vector<std::string> warnings;  // formatted
  std::string text;
};

Result Parse(const std::string& text) {
  rules::Diagnostics diags;
  Result r;
  r.text = text;
  r.file = ParseDirectoryFile(text, "f.yaml", &diags);
  for (const auto& d : diags.items()) {
    (d.severity == rules::Diagnostic::Severity::kError ? r.errors : r.warnings)
        .push_back(rules::FormatDiagnostic(d));
  }
  return r;
}

// kBase with `from` replaced by `to` (which must be there).
std::string Edit(const std::string& from, const std::string& to) {
  std::string base = kBase;
  EXPECT_NE(base.find(from), std::string::npos) << from;
  return absl::StrReplaceAll(base, {{from, to}});
}

// "f.yaml:L:C" for the first occurrence of `token` on the first line of
// `text` containing `line_marker`.
std::string PosOf(const std::string& text, const std::string& line_marker,
                  const std::string& token) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find(line_marker) == std::string::npos) continue;
    size_t col = lines[i].find(token);
    EXPECT_NE(col, std::string::npos) << token;
    return absl::StrCat("f.yaml:", i + 1, ":", col + 1);
  }
  ADD_FAILURE() << "no line with " << line_marker;
  return "";
}

// The one error, which must start at `pos` and contain `message`.
void ExpectOneError(const Result& r, const std::string& pos,
                    const std::string& message) {
  EXPECT_FALSE(r.file.has_value());
  ASSERT_THAT(r.errors, SizeIs(1)) << absl::StrJoin(r.errors, "\n");
  EXPECT_THAT(r.errors[0], HasSubstr(absl::StrCat(pos, ": error: ")));
  EXPECT_THAT(r.errors[0], HasSubstr(message));
}

const v1::Service* FindService(const DirectoryFile& f, const std::string& id) {
  for (const auto& s : f.services) {
    if (s.id() == id) return &s;
  }
  return nullptr;
}

TEST(DirectoryFile, DefaultFileLoadsWithoutErrorsOrWarnings) {
  rules::Diagnostics diags;
  std::optional<DirectoryFile> f = ReadDirectoryFile(kDefaultFile, &diags);
  std::vector<std::string> all;
  for (const auto& d : diags.items()) all.push_back(rules::FormatDiagnostic(d));
  ASSERT_TRUE(f.has_value()) << absl::StrJoin(all, "\n");
  EXPECT_THAT(all, IsEmpty());
  EXPECT_EQ(f->name, "kirkbeck-community-spa");
  EXPECT_EQ(f->timezone, "Europe/London");
  EXPECT_THAT(f->services, SizeIs(19));

  const v1::Service* ucr = FindService(*f, "ucr");
  ASSERT_NE(ucr, nullptr);
  EXPECT_EQ(ucr->min_age_days(), 6574);  // floor(18 * 365.25)
  EXPECT_EQ(ucr->max_age_days(), 0);
  ASSERT_THAT(ucr->sessions(), SizeIs(7));
  EXPECT_EQ(ucr->sessions(0).day(), v1::WEEKDAY_MONDAY);
  EXPECT_EQ(ucr->sessions(0).open_minute(), 8 * 60);
  EXPECT_EQ(ucr->sessions(0).close_minute(), 20 * 60);
  EXPECT_THAT(ucr->catchment(), SizeIs(29));
  EXPECT_EQ(ucr->default_capacity(), v1::CAPACITY_GREEN);

  const v1::Service* children = FindService(*f, "childrens-community");
  ASSERT_NE(children, nullptr);
  EXPECT_EQ(children->min_age_days(), 0);
  EXPECT_EQ(children->max_age_days(), 6573);  // under 18y

  const v1::Service* ooh = FindService(*f, "gp-out-of-hours");
  ASSERT_NE(ooh, nullptr);
  EXPECT_THAT(ooh->sessions(), SizeIs(8));
  EXPECT_EQ(ooh->rank(), 2);

  const v1::Service* north = FindService(*f, "ed-north");
  ASSERT_NE(north, nullptr);
  EXPECT_TRUE(north->catch_all());
  EXPECT_THAT(north->sessions(), IsEmpty());
  EXPECT_THAT(north->catchment(), Contains("LS14"));
  EXPECT_THAT(north->catchment(), Contains("HG3"));
  EXPECT_THAT(north->catchment(), Not(Contains("LS15")));

  const v1::Service* advice = FindService(*f, "advice-line");
  ASSERT_NE(advice, nullptr);
  EXPECT_THAT(advice->catchment(), IsEmpty());  // everywhere

  int catch_alls = 0;
  for (const auto& s : f->services) catch_alls += s.catch_all();
  EXPECT_EQ(catch_alls, 2);
}

TEST(DirectoryFile, LoadDirectoryFileStatus) {
  EXPECT_THAT(LoadDirectoryFile(kDefaultFile), IsOk());
  EXPECT_THAT(LoadDirectoryFile("no/such/directory.yaml"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(DirectoryFile, BaseParses) {
  Result r = Parse(kBase);
  ASSERT_TRUE(r.file.has_value()) << absl::StrJoin(r.errors, "\n");
  ASSERT_THAT(r.file->services, SizeIs(2));
  EXPECT_THAT(r.file->services[0].catchment(), SizeIs(9));
  EXPECT_EQ(r.file->services[0].rank(), 1);  // default
  // Pathways no service offers are warnings, not errors.
  EXPECT_THAT(r.warnings, Contains(HasSubstr("no service offers MATERNITY")));
}

TEST(DirectoryFile, UnknownKeyInService) {
  std::string text =
      Edit("    name: UCR\n", "    name: UCR\n    colour: red\n");
  ExpectOneError(Parse(text), PosOf(text, "colour", "colour"),
                 "unknown key 'colour' in a service");
}

TEST(DirectoryFile, UnknownTopLevelKey) {
  std::string text = Edit("timezone:", "timezon: Europe/London\ntimezone:");
  Result r = Parse(text);
  EXPECT_FALSE(r.file.has_value());
  EXPECT_THAT(r.errors, Contains(AllOf(HasSubstr("f.yaml:2:1: error: "),
                                       HasSubstr("unknown key 'timezon'"))));
}

TEST(DirectoryFile, BadWeekday) {
  std::string text = Edit("Mon-Sun 08:00", "Mun-Sun 08:00");
  ExpectOneError(Parse(text), PosOf(text, "sessions", "Mun"),
                 "'Mun' is not a weekday");
}

TEST(DirectoryFile, BadWeekdayAtTheEndOfARange) {
  std::string text = Edit("Mon-Sun 08:00", "Mon-Snu 08:00");
  ExpectOneError(Parse(text), PosOf(text, "sessions", "Snu"),
                 "'Snu' is not a weekday");
}

TEST(DirectoryFile, BadTime) {
  std::string text = Edit("08:00-20:00", "08:00-25:00");
  ExpectOneError(Parse(text), PosOf(text, "sessions", "25:00"),
                 "'25:00' is not a time of day");
  text = Edit("08:00-20:00", "08:60-20:00");
  ExpectOneError(Parse(text), PosOf(text, "sessions", "08:60"),
                 "'08:60' is not a time of day");
  text = Edit("08:00-20:00", "24:00-20:00");
  ExpectOneError(Parse(text), PosOf(text, "sessions", "24:00"),
                 "write HH:MM from 00:00 to 23:59");
}

TEST(DirectoryFile, SessionWithoutTimesOrDays) {
  std::string text = Edit("\"Mon-Sun 08:00-20:00\"", "\"Mon-Sun\"");
  ExpectOneError(Parse(text), PosOf(text, "sessions", "Mon"),
                 "needs opening times");
  text = Edit("\"Mon-Sun 08:00-20:00\"", "\"08:00-20:00\"");
  ExpectOneError(Parse(text), PosOf(text, "sessions", "08:00"),
                 "needs days first");
}

TEST(DirectoryFile, EmptySession) {
  std::string text = Edit("08:00-20:00", "08:00-08:00");
  ExpectOneError(Parse(text), PosOf(text, "sessions", "08:00"),
                 "opens and closes at 08:00");
  text = Edit("08:00-20:00", "00:00-00:00");
  ExpectOneError(Parse(text), PosOf(text, "sessions", "00:00"),
                 "for a whole day write 00:00-24:00");
}

TEST(DirectoryFile, OverlappingSessions) {
  std::string text = Edit("\"Mon-Sun 08:00-20:00\"",
                          "\"Mon-Fri 18:00-09:00; Sat 08:00-12:00\"");
  // Friday's overnight session runs to Saturday 09:00.
  ExpectOneError(Parse(text), PosOf(text, "sessions", "Sat"),
                 "session 'Sat 08:00-12:00' overlaps 'Mon-Fri 18:00-09:00'");
}

TEST(DirectoryFile, OverlapAcrossTheEndOfTheWeek) {
  std::string text =
      Edit("    sessions: \"Mon-Sun 08:00-20:00\"\n",
           "    sessions:\n      - Sun 22:00-07:00\n      - Mon 06:00-09:00\n");
  ExpectOneError(Parse(text), PosOf(text, "Mon 06:00", "Mon"),
                 "overlaps 'Sun 22:00-07:00' (line ");
}

TEST(DirectoryFile, TouchingSessionsDoNotOverlap) {
  std::string text = Edit(
      "    sessions: \"Mon-Sun 08:00-20:00\"\n",
      "    sessions:\n      - Mon-Thu 18:30-08:00\n      - Fri 18:30-24:00\n"
      "      - Sat-Sun 00:00-24:00\n      - Mon 00:00-08:00\n");
  Result r = Parse(text);
  ASSERT_TRUE(r.file.has_value()) << absl::StrJoin(r.errors, "\n");
  EXPECT_THAT(r.file->services[0].sessions(), SizeIs(8));
}

TEST(DirectoryFile, SessionForms) {
  Result r = Parse(Edit("\"Mon-Sun 08:00-20:00\"",
                        "\"Fri-Mon 09:00-12:00; wed, Thursday 22:00-00:00\""));
  ASSERT_TRUE(r.file.has_value()) << absl::StrJoin(r.errors, "\n");
  const auto& s = r.file->services[0].sessions();
  ASSERT_THAT(s, SizeIs(6));
  EXPECT_EQ(s[0].day(), v1::WEEKDAY_FRIDAY);  // wraps past Sunday
  EXPECT_EQ(s[3].day(), v1::WEEKDAY_MONDAY);
  EXPECT_EQ(s[4].day(), v1::WEEKDAY_WEDNESDAY);
  EXPECT_EQ(s[5].open_minute(), 22 * 60);
  EXPECT_EQ(s[5].close_minute(), 1440);  // "00:00" closing is midnight

  r = Parse(Edit("\"Mon-Sun 08:00-20:00\"", "\"daily 08:00-20:00\""));
  ASSERT_TRUE(r.file.has_value()) << absl::StrJoin(r.errors, "\n");
  EXPECT_THAT(r.file->services[0].sessions(), SizeIs(7));
}

TEST(DirectoryFile, TwentyFourSevenCannotBeCombined) {
  std::string text =
      Edit("\"Mon-Sun 08:00-20:00\"", "\"24/7; Mon 08:00-09:00\"");
  ExpectOneError(Parse(text), PosOf(text, "sessions", "24/7"),
                 "24/7 cannot be combined");
}

TEST(DirectoryFile, UnknownPathway) {
  std::string text = Edit("pathways: [UCR]", "pathways: [UCR, DENTAL]");
  ExpectOneError(
      Parse(text), PosOf(text, "DENTAL", "DENTAL"),
      "unknown pathway 'DENTAL'; expected one of EMERGENCY_SERVICES");
}

TEST(DirectoryFile, LowerCasePathwayGetsAHint) {
  std::string text = Edit("pathways: [UCR]", "pathways: [virtual_ward]");
  ExpectOneError(Parse(text), PosOf(text, "virtual_ward", "virtual_ward"),
                 "unknown pathway 'virtual_ward' (write VIRTUAL_WARD)");
}

TEST(DirectoryFile, PathwaysAsACommaSeparatedString) {
  std::string text = Edit("pathways: [UCR]", "pathways: \"UCR, PALIATIVE\"");
  ExpectOneError(Parse(text), PosOf(text, "PALIATIVE", "PALIATIVE"),
                 "unknown pathway 'PALIATIVE'");
}

TEST(DirectoryFile, DuplicateId) {
  std::string text = Edit("  - id: ed\n", "  - id: ucr\n");
  ExpectOneError(Parse(text), "f.yaml:10:9",
                 "duplicate service id 'ucr' (first at line 4)");
}

TEST(DirectoryFile, NoCatchAll) {
  std::string text = Edit("    catch_all: yes\n", "");
  ExpectOneError(Parse(text), "f.yaml:3:1", "no catch-all service");
}

TEST(DirectoryFile, CatchAllMustBeAlwaysOpenWithoutLimits) {
  std::string text =
      Edit("    sessions: 24/7\n", "    sessions: daily 08:00-20:00\n");
  ExpectOneError(Parse(text), PosOf(text, "catch_all", "yes"),
                 "catch-all service 'ed' must be open 24/7");
  text =
      Edit("    sessions: 24/7\n", "    sessions: 24/7\n    age: \"< 16y\"\n");
  ExpectOneError(Parse(text), PosOf(text, "catch_all", "yes"),
                 "must take every age and sex");
}

TEST(DirectoryFile, BadAges) {
  struct Case {
    std::string age;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"\">= 18\"", "needs a unit"},
           {"\">= eighteen\"", "needs a unit"},
           {"\"<= 18y\"", "must be"},
           {"\"[65y..16y)\"", "is empty"},
           {"\"< 0d\"", "is empty"},
           {"\">= 200y\"", "over 130 years"},
           {"adults", "must be"},
       }) {
    std::string text = Edit("\">= 18y\"", c.age);
    Result r = Parse(text);
    SCOPED_TRACE(c.age);
    EXPECT_FALSE(r.file.has_value());
    ASSERT_THAT(r.errors, SizeIs(1)) << absl::StrJoin(r.errors, "\n");
    EXPECT_THAT(r.errors[0], HasSubstr(PosOf(text, "age:", c.age)));
    EXPECT_THAT(r.errors[0], HasSubstr("[bad-age]"));
  }
}

TEST(DirectoryFile, UnquotedAgeIsAYamlError) {
  std::string text = Edit("\">= 18y\"", ">= 18y");
  Result r = Parse(text);
  EXPECT_FALSE(r.file.has_value());
  ASSERT_THAT(r.errors, Not(IsEmpty()));
  EXPECT_THAT(r.errors[0], HasSubstr("f.yaml:8:"));
}

TEST(DirectoryFile, AgeForms) {
  Result r = Parse(Edit("\">= 18y\"", "\"[16y..65y)\""));
  ASSERT_TRUE(r.file.has_value()) << absl::StrJoin(r.errors, "\n");
  EXPECT_EQ(r.file->services[0].min_age_days(), 5844);
  EXPECT_EQ(r.file->services[0].max_age_days(),
            23741 - 1);  // floor(65*365.25)-1
  EXPECT_EQ(FormatAgeLimits(5844, 23740), "[16y..65y)");
  r = Parse(Edit("\">= 18y\"", "\"< 28d\""));
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.file->services[0].max_age_days(), 27);
  EXPECT_EQ(FormatAgeLimits(0, 27), "< 4w");
  r = Parse(Edit("\">= 18y\"", "any"));
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(FormatAgeLimits(0, 0), "any age");
  EXPECT_EQ(FormatAgeLimits(6574, 0), ">= 18y");
  EXPECT_EQ(FormatAgeLimits(0, 6573), "< 18y");
  EXPECT_EQ(FormatAgeLimits(0, 90), "< 3m");
}

TEST(DirectoryFile, BadDistrictsAndRanges) {
  std::string text = Edit("[LS1-LS9]", "[LS1-LS9, L S1]");
  ExpectOneError(Parse(text), PosOf(text, "catchment", "L S1"),
                 "'L S1' is not a postcode district");
  text = Edit("[LS1-LS9]", "[LS9-LS1]");
  ExpectOneError(Parse(text), PosOf(text, "catchment", "LS9-LS1"),
                 "is not a range of districts");
  text = Edit("[LS1-LS9]", "[LS1-BD9]");
  ExpectOneError(Parse(text), PosOf(text, "catchment", "LS1-BD9"),
                 "is not a range of districts");
  text = Edit("[LS1-LS9]", "[LS1-LS9, LS4]");
  ExpectOneError(Parse(text), PosOf(text, "catchment", "LS4"),
                 "LS4 is listed twice (also in LS1-LS9)");
  text = Edit("[LS1-LS9]", "[]");
  ExpectOneError(Parse(text), PosOf(text, "catchment", "["),
                 "catchment is an empty list");
}

TEST(DirectoryFile, MissingRequiredKeys) {
  std::string text = Edit("    sessions: \"Mon-Sun 08:00-20:00\"\n", "");
  ExpectOneError(Parse(text), "f.yaml:4:5", "a service needs 'sessions'");
  text = Edit("    catchment: [LS1-LS9]\n", "");
  ExpectOneError(Parse(text), "f.yaml:4:5", "a service needs 'catchment'");
}

TEST(DirectoryFile, BadCapacityRankCatchAllAndId) {
  std::string text =
      Edit("    name: UCR\n", "    name: UCR\n    capacity: RED\n");
  ExpectOneError(Parse(text), PosOf(text, "capacity", "RED"),
                 "must be GREEN or AMBER");
  text = Edit("    name: UCR\n", "    name: UCR\n    rank: 0\n");
  ExpectOneError(Parse(text), PosOf(text, "rank", "0"), "rank '0'");
  text = Edit("catch_all: yes", "catch_all: maybe");
  Result r = Parse(text);
  EXPECT_THAT(r.errors,
              Contains(AllOf(HasSubstr(PosOf(text, "catch_all", "maybe")),
                             HasSubstr("takes yes or no"))));
  text = Edit("  - id: ucr\n", "  - id: UCR Team\n");
  ExpectOneError(Parse(text), PosOf(text, "id:", "UCR"),
                 "service id 'UCR Team'");
}

TEST(DirectoryFile, BadTimezone) {
  std::string text = Edit("Europe/London", "Europe/Lundon");
  ExpectOneError(Parse(text), "f.yaml:2:11",
                 "unknown time zone 'Europe/Lundon'");
}

TEST(DirectoryFile, EveryErrorIsReportedInOnePass) {
  std::string text = kBase;
  text = absl::StrReplaceAll(text,
                             {{"Mon-Sun 08:00-20:00", "Mun-Sun 08:00-25:00"},
                              {"pathways: [ACUTE]", "pathways: [ACUTE, FOO]"},
                              {"[LS1-LS9]", "[LS1-LS9, XX]"}});
  Result r = Parse(text);
  EXPECT_FALSE(r.file.has_value());
  EXPECT_THAT(r.errors, SizeIs(4)) << absl::StrJoin(r.errors, "\n");
  EXPECT_THAT(r.errors, Contains(HasSubstr("'Mun' is not a weekday")));
  EXPECT_THAT(r.errors, Contains(HasSubstr("'25:00' is not a time of day")));
  EXPECT_THAT(r.errors, Contains(HasSubstr("unknown pathway 'FOO'")));
  EXPECT_THAT(r.errors, Contains(HasSubstr("'XX' is not a postcode district")));
}

TEST(DirectoryFile, YamlProblemsHavePositions) {
  Result r = Parse(Edit("    name: UCR\n", "    name: UCR\n    name: UCR2\n"));
  EXPECT_THAT(r.errors, Contains(AllOf(HasSubstr("f.yaml:6:5"),
                                       HasSubstr("duplicate key 'name'"))));
  r = Parse(Edit("    name: UCR\n", "    name: UCR\n\tphone: 1\n"));
  EXPECT_THAT(r.errors, Contains(HasSubstr("f.yaml:6:1: error: tab")));
  r = Parse("directory: x\nservices: [\n");
  ASSERT_THAT(r.errors, Not(IsEmpty()));
  EXPECT_THAT(r.errors[0], HasSubstr("YAML syntax error"));
}

TEST(DirectoryFile, NormalizeDistrict) {
  EXPECT_EQ(NormalizeDistrict("LS6"), "LS6");
  EXPECT_EQ(NormalizeDistrict(" ls6 "), "LS6");
  EXPECT_EQ(NormalizeDistrict("ls6 4ap"), "LS6");
  EXPECT_EQ(NormalizeDistrict("LS64AP"), "LS6");
  EXPECT_EQ(NormalizeDistrict("EC1A 1BB"), "EC1A");
  EXPECT_EQ(NormalizeDistrict("BD10"), "BD10");
  EXPECT_EQ(NormalizeDistrict(""), "");
  EXPECT_EQ(NormalizeDistrict("6LS"), "");
  EXPECT_EQ(NormalizeDistrict("LS!"), "");
}

TEST(DirectoryFile, FormatAge) {
  EXPECT_EQ(FormatAge(80 * 365 + 20), "80y");
  EXPECT_EQ(FormatAge(200), "6m");
  EXPECT_EQ(FormatAge(12), "12d");
}

}  // namespace
}  // namespace frontdoor::directory
