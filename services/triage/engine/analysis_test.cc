#include "services/triage/engine/analysis.h"

#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/triage/engine/compiled_rule_set.h"
#include "services/triage/engine/loader.h"

namespace frontdoor::rules {
namespace {

namespace fs = std::filesystem;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kRuleSetYaml[] = R"(ruleset: analysis-test
title: Analysis tests
owner: Engine tests
timezone: Europe/London
pathway_order: [EMERGENCY_SERVICES, ACUTE, CLINICAL_REVIEW, MATERNITY, PAEDIATRIC, MENTAL_HEALTH_CRISIS, PALLIATIVE, UCR, VIRTUAL_WARD, COMMUNITY_NURSING, PRIMARY_CARE, MENTAL_HEALTH_COMMUNITY, SOCIAL_CARE, ADVICE_ONLY]
targets:
  IMMEDIATE: 0m
  WITHIN_1H: 1h
  WITHIN_2H: 2h
  WITHIN_4H: 4h
  WITHIN_12H: 12h
  WITHIN_24H: 24h
  WITHIN_48H: 48h
  WITHIN_72H: 72h
  WITHIN_2W: 14d
  WITHIN_4W: 28d
  NONE: "-"
missing_data: {pathway: CLINICAL_REVIEW, urgency: WITHIN_1H}
fallback: {pathway: CLINICAL_REVIEW, urgency: WITHIN_4H}
)";

// The 1-based line of the first line of `text` that contains `needle`.
int LineOf(const std::string& text, absl::string_view needle) {
  int line = 1;
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(l, needle)) return line;
    ++line;
  }
  return 0;
}

// Values of an example, by column ref. Text values live in `texts`.
struct Example {
  std::map<std::string, Value> values;
  std::deque<std::string> texts;
};

Value FieldValue(const Slot& s, const v1::Referral& referral, std::deque<std::string>* texts) {
  Value v;
  const Message* m = &referral;
  for (size_t i = 0; i + 1 < s.path.size(); ++i) {
    if (!m->GetReflection()->HasField(*m, s.path[i])) return v;
    m = &m->GetReflection()->GetMessage(*m, s.path[i]);
  }
  const FieldDescriptor* f = s.path.back();
  const auto* r = m->GetReflection();
  if (f->has_presence() && !r->HasField(*m, f)) return v;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return Value::Number(r->GetInt32(*m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return Value::Number(static_cast<double>(r->GetInt64(*m, f)));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return Value::Number(r->GetDouble(*m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return Value::Number(r->GetBool(*m, f) ? 1 : 0);
    case FieldDescriptor::CPPTYPE_ENUM:
      if (r->GetEnumValue(*m, f) == 0) return v;
      return Value::Number(r->GetEnumValue(*m, f));
    case FieldDescriptor::CPPTYPE_STRING:
      if (r->GetString(*m, f).empty()) return v;
      texts->push_back(r->GetString(*m, f));
      v.present = true;
      v.text = texts->back();
      return v;
    default:
      return Value::Number(0);  // dates and timestamps: present
  }
}

// Parses a diagnostic's example: a Referral in protobuf JSON, or a flat
// object keyed by column ref. Inputs the example leaves out are missing.
bool ParseExample(const CompiledRuleSet& rs, const std::string& json, Example* ex) {
  std::map<std::string, const Slot*> slots;
  for (const Slot& s : rs.slots()) slots[s.name] = &s;
  v1::Referral referral;
  if (google::protobuf::util::JsonStringToMessage(json, &referral).ok()) {
    for (const Slot& s : rs.slots()) {
      if (s.kind == Slot::Kind::kField) ex->values[s.name] = FieldValue(s, referral, &ex->texts);
    }
    return true;
  }
  // {"ref": value, ...}
  absl::string_view in = json;
  size_t i = 0;
  auto skip = [&] {
    while (i < in.size() && (in[i] == ' ' || in[i] == ',')) ++i;
  };
  auto quoted = [&](std::string* out) {
    if (i >= in.size() || in[i] != '"') return false;
    ++i;
    while (i < in.size() && in[i] != '"') {
      if (in[i] == '\\') ++i;
      out->push_back(in[i++]);
    }
    ++i;
    return true;
  };
  if (in.empty() || in[0] != '{') return false;
  i = 1;
  for (;;) {
    skip();
    if (i < in.size() && in[i] == '}') return true;
    std::string key;
    if (!quoted(&key)) return false;
    skip();
    if (i >= in.size() || in[i] != ':') return false;
    ++i;
    skip();
    auto it = slots.find(key);
    if (it == slots.end()) return false;
    const Slot& s = *it->second;
    Value v;
    if (in[i] == '"') {
      std::string text;
      quoted(&text);
      if (s.type.type == ValueType::kEnum) {
        v = Value::Number(FindEnumValue(s.type.enum_type, text)->number());
      } else if (s.type.type == ValueType::kText) {
        ex->texts.push_back(text);
        v.present = true;
        v.text = ex->texts.back();
      } else {
        v = Value::Number(0);  // a date or time: present
      }
    } else {
      size_t start = i;
      while (i < in.size() && in[i] != ',' && in[i] != '}') ++i;
      std::string word(in.substr(start, i - start));
      double d;
      if (word == "true") {
        v = Value::Number(1);
      } else if (word == "false") {
        v = Value::Number(0);
      } else if (word != "null") {
        if (!absl::SimpleAtod(word, &d)) return false;
        v = Value::Number(d);
      }
    }
    ex->values[key] = v;
  }
}

// Loads rule sets from a temporary directory, keeping the compiled set even
// when the analysis finds errors.
class AnalysisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "frontdoor_analysis_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Write("ruleset.yaml", kRuleSetYaml);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(fs::path(dir_) / name) << text;
    files_[name] = text;
  }

  // Reads and compiles (asserting no errors), then analyses.
  void Analyse() {
    v1::RuleSet proto;
    SourceMap sources;
    Diagnostics read;
    ASSERT_TRUE(ReadRuleSetFiles(dir_, LoadOptions(), &proto, &sources, &read))
        << Dump(read);
    Diagnostics compile;
    rs_ = CompiledRuleSet::Compile(std::move(proto), &sources, &compile);
    ASSERT_NE(rs_, nullptr) << Dump(compile);
    ASSERT_FALSE(compile.has_errors()) << Dump(compile);
    diags_ = Diagnostics();
    rules::Analyse(*rs_, &diags_);
    if (verbose_) std::cerr << Dump(diags_);
  }

  static std::string Dump(const Diagnostics& d) {
    std::string out;
    for (const auto& x : d.items()) absl::StrAppend(&out, FormatDiagnostic(x), "\n");
    return out;
  }

  // Findings with `code`, excluding rule-set-wide pathway warnings.
  std::vector<Diagnostic> Findings(absl::string_view code) const {
    std::vector<Diagnostic> out;
    for (const auto& d : diags_.items()) {
      if (d.code == code) out.push_back(d);
    }
    return out;
  }
  std::vector<Diagnostic> TableFindings() const {
    std::vector<Diagnostic> out;
    for (const auto& d : diags_.items()) {
      if (d.code != "unreachable-pathway") out.push_back(d);
    }
    return out;
  }

  int Table(absl::string_view id) const {
    for (size_t t = 0; t < rs_->tables().size(); ++t) {
      if (rs_->tables()[t].id == id) return static_cast<int>(t);
    }
    ADD_FAILURE() << "no table " << id;
    return 0;
  }
  int Row(int t, absl::string_view id) const {
    const auto& rows = rs_->tables()[t].rows;
    for (size_t r = 0; r < rows.size(); ++r) {
      if (rows[r].id == id) return static_cast<int>(r);
    }
    ADD_FAILURE() << "no row " << id;
    return 0;
  }

  // Matches row `r` of table `t` against an example; inputs the example does
  // not name are missing (only '-' and 'missing' cells match them).
  Tri Match(int t, int r, const Example& ex,
            const std::map<std::string, Value>& extra = {}) const {
    const CompiledTable& table = rs_->tables()[t];
    Tri out = Tri::kMatch;
    for (const auto& col : table.columns) {
      const std::string& ref = rs_->slots()[col.slot].name;
      Value v;
      if (auto it = extra.find(ref); it != extra.end()) {
        v = it->second;
      } else if (auto it = ex.values.find(ref); it != ex.values.end()) {
        v = it->second;
      }
      Tri x = MatchCell(col.cells[r], v, col.unknown_if_missing);
      if (x == Tri::kFail) return Tri::kFail;
      if (x == Tri::kUnknown) out = Tri::kUnknown;
    }
    return out;
  }

  Example Parse(const Diagnostic& d) const {
    Example ex;
    EXPECT_TRUE(ParseExample(*rs_, d.example, &ex)) << d.example;
    return ex;
  }

  bool verbose_ = true;
  std::string dir_;
  std::map<std::string, std::string> files_;
  std::shared_ptr<const CompiledRuleSet> rs_;
  Diagnostics diags_;
};

// --- overlap -----------------------------------------------------------------

constexpr char kUnique[] = R"(tables:
  - id: route
    title: Route by pulse and problem
    hit_policy: unique
    inputs:
      pulse: observations.pulse
      problem: problem
      fall: findings.fall
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id   | pulse    | problem        | fall | pathway | urgency    | source |
      | low  | < 50     | FALL           | -    | UCR     | WITHIN_2H  | local  |
      | mid  | [45..90) | FALL, COLLAPSE | yes  | ACUTE   | WITHIN_1H  | local  |
      | high | >= 90    | -              | -    | ACUTE   | IMMEDIATE  | local  |
      | rest | < 90     | not(FALL)      | no   | PRIMARY_CARE | WITHIN_24H | local |
      | nil  | missing  | -              | -    | CLINICAL_REVIEW | WITHIN_1H | local |
      | nil2 | missing, >= 200 | -       | -    | CLINICAL_REVIEW | WITHIN_1H | local |
)";

TEST_F(AnalysisTest, OverlapInUniqueTable) {
  Write("10-route.rules.yaml", kUnique);
  ASSERT_NO_FATAL_FAILURE(Analyse());
  auto found = Findings("overlap");
  // low/mid (pulse 45..49, FALL), high/nil2 (pulse >= 200), nil/nil2 (missing).
  ASSERT_EQ(found.size(), 3u);
  const std::string& text = files_["10-route.rules.yaml"];
  const int t = Table("route");
  struct Want {
    const char* a;
    const char* b;
  };
  const Want want[] = {{"low", "mid"}, {"high", "nil2"}, {"nil", "nil2"}};
  for (size_t i = 0; i < found.size(); ++i) {
    const Diagnostic& d = found[i];
    SCOPED_TRACE(FormatDiagnostic(d));
    EXPECT_EQ(d.severity, Diagnostic::Severity::kError);
    EXPECT_EQ(d.file, "10-route.rules.yaml");
    EXPECT_EQ(d.pos.line, LineOf(text, absl::StrCat("| ", want[i].b, " ")));
    EXPECT_THAT(d.message, HasSubstr(absl::StrCat("'", want[i].a, "'")));
    Example ex = Parse(d);
    EXPECT_EQ(Match(t, Row(t, want[i].a), ex), Tri::kMatch);
    EXPECT_EQ(Match(t, Row(t, want[i].b), ex), Tri::kMatch);
  }
  // Every input is a referral field: the example is a Referral.
  EXPECT_THAT(found[0].example, HasSubstr("\"observations\""));
  EXPECT_THAT(found[0].example, HasSubstr("PRESENTING_PROBLEM_FALL"));
  EXPECT_THAT(found[2].example, "{}");  // pulse missing, nothing else named
}

constexpr char kTextOverlap[] = R"(tables:
  - id: words
    title: Free text
    hit_policy: unique
    inputs:
      text: free_text
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id    | text                   | pathway | urgency   | source |
      | chest | contains("chest pain") | ACUTE   | IMMEDIATE | local  |
      | crush | contains("crushing")   | ACUTE   | WITHIN_1H | local  |
      | other | not(contains("chest pain", "crushing")) | PRIMARY_CARE | WITHIN_24H | local |
)";

TEST_F(AnalysisTest, OverlapOnFreeText) {
  Write("10-words.rules.yaml", kTextOverlap);
  ASSERT_NO_FATAL_FAILURE(Analyse());
  auto found = Findings("overlap");
  ASSERT_EQ(found.size(), 1u);
  const int t = Table("words");
  Example ex = Parse(found[0]);
  EXPECT_EQ(Match(t, Row(t, "chest"), ex), Tri::kMatch);
  EXPECT_EQ(Match(t, Row(t, "crush"), ex), Tri::kMatch);
  EXPECT_EQ(found[0].pos.line, LineOf(files_["10-words.rules.yaml"], "| crush "));
  // The three rows cover every text: no gap.
  EXPECT_THAT(Findings("gap"), IsEmpty());
}

// --- masked rows ---------------------------------------------------------------

constexpr char kFirst[] = R"(tables:
  - id: order
    title: First match
    hit_policy: first
    inputs:
      pulse: observations.pulse
      fall: findings.fall
      scale: observations.spo2_scale
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id      | pulse     | fall | scale   | pathway      | urgency    | source |
      | slow    | < 60      | -    | -       | ACUTE        | WITHIN_1H  | local  |
      | faller  | >= 60     | yes  | -       | UCR          | WITHIN_2H  | local  |
      | both    | [50..70]  | yes  | SCALE_1 | UCR          | WITHIN_4H  | local  |
      | reach   | [50..70]  | -    | -       | PRIMARY_CARE | WITHIN_24H | local  |
      | scale2  | -         | -    | SCALE_2 | CLINICAL_REVIEW | WITHIN_1H | local |
      | dup     | > 100     | no   | SCALE_2 | CLINICAL_REVIEW | WITHIN_4H | local |
      | rest    | -         | -    | -       | PRIMARY_CARE | WITHIN_48H | local  |
)";

TEST_F(AnalysisTest, MaskedRowsInFirstTable) {
  Write("20-order.rules.yaml", kFirst);
  ASSERT_NO_FATAL_FAILURE(Analyse());
  auto found = Findings("masked-row");
  // 'both' needs slow and faller together; 'dup' is inside scale2.
  ASSERT_EQ(found.size(), 2u);
  const std::string& text = files_["20-order.rules.yaml"];
  const int t = Table("order");
  const char* masked[] = {"both", "dup"};
  for (size_t i = 0; i < found.size(); ++i) {
    const Diagnostic& d = found[i];
    SCOPED_TRACE(FormatDiagnostic(d));
    EXPECT_EQ(d.severity, Diagnostic::Severity::kError);
    EXPECT_EQ(d.pos.line, LineOf(text, absl::StrCat("| ", masked[i], " ")));
    Example ex = Parse(d);
    const int r = Row(t, masked[i]);
    EXPECT_EQ(Match(t, r, ex), Tri::kMatch);
    bool earlier = false;
    for (int s = 0; s < r; ++s) earlier = earlier || Match(t, s, ex) == Tri::kMatch;
    EXPECT_TRUE(earlier) << "no earlier row takes the example";
  }
  EXPECT_THAT(found[0].message, HasSubstr("'slow'"));
  EXPECT_THAT(found[0].message, HasSubstr("'faller'"));
  EXPECT_THAT(found[1].message, HasSubstr("'scale2'"));
  // 'rest' is a catch-all: no gap.
  EXPECT_THAT(Findings("gap"), IsEmpty());
}

constexpr char kFirstText[] = R"(tables:
  - id: words
    title: First match on free text
    hit_policy: first
    inputs:
      text: free_text
    outputs:
      flags: decision
    rows: |
      | id    | text                   | flags                              | source |
      | chest | contains("chest")      | -                                  | local  |
      | pain  | contains("chest pain") | STRUCTURED_FREE_TEXT_CONFLICT      | local  |
      | exact | "Chest"                | -                                  | local  |
      | rest  | -                      | -                                  | local  |
)";

TEST_F(AnalysisTest, MaskedRowOnFreeTextIsAWarning) {
  Write("20-words.rules.yaml", kFirstText);
  ASSERT_NO_FATAL_FAILURE(Analyse());
  auto found = Findings("masked-row");
  // Any text containing "chest pain" or equal to "Chest" contains "chest".
  ASSERT_EQ(found.size(), 2u);
  const int t = Table("words");
  const char* masked[] = {"pain", "exact"};
  for (size_t i = 0; i < found.size(); ++i) {
    SCOPED_TRACE(FormatDiagnostic(found[i]));
    // Free text is checked on sample texts, so this is not proved.
    EXPECT_EQ(found[i].severity, Diagnostic::Severity::kWarning);
    EXPECT_EQ(found[i].pos.line, LineOf(files_["20-words.rules.yaml"],
                                        absl::StrCat("| ", masked[i], " ")));
    Example ex = Parse(found[i]);
    EXPECT_EQ(Match(t, Row(t, masked[i]), ex), Tri::kMatch);
    EXPECT_EQ(Match(t, Row(t, "chest"), ex), Tri::kMatch);
  }
}

// --- gaps --------------------------------------------------------------------

constexpr char kGap[] = R"(tables:
  - id: resp
    title: Respiration
    hit_policy: priority
    inputs:
      rr: observations.respiratory_rate
      spo2: observations.spo2_percent
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id   | rr      | spo2  | pathway         | urgency    | source |
      | r1   | <= 8    | -     | ACUTE           | IMMEDIATE  | local  |
      | r2   | [9..20] | >= 94 | PRIMARY_CARE    | WITHIN_24H | local  |
      | r3   | > 20    | -     | CLINICAL_REVIEW | WITHIN_1H  | local  |
  - id: temp
    title: Temperature (a double, so 38.05 falls between the rows)
    hit_policy: unique
    inputs:
      t: observations.temperature_celsius
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id   | t       | pathway         | urgency    | source |
      | cool | < 38    | PRIMARY_CARE    | WITHIN_24H | local  |
      | hot  | >= 38.1 | CLINICAL_REVIEW | WITHIN_4H  | local  |
  - id: age
    title: Age, explicit about missing inputs
    hit_policy: first
    inputs:
      dob: patient.date_of_birth
      stated: patient.stated_age_years
    outputs:
      age_years: number
    rows: |
      | id       | dob     | stated  | age_years | source |
      | from_dob | present | -       | = floor(days_between(patient.date_of_birth, received_at) / 365.25) | DoS |
      | stated   | missing | present | = patient.stated_age_years | local |
  - id: flags_only
    title: Only flags
    hit_policy: first
    inputs:
      sc: findings.safeguarding_concern
    outputs:
      flags: decision
    rows: |
      | id  | sc  | flags                          | source |
      | yes | yes | SAFEGUARDING_REFERRAL_SAME_DAY | local  |
)";

TEST_F(AnalysisTest, Gaps) {
  Write("30-gap.rules.yaml", kGap);
  ASSERT_NO_FATAL_FAILURE(Analyse());
  auto found = Findings("gap");
  ASSERT_EQ(found.size(), 4u);
  const std::string& text = files_["30-gap.rules.yaml"];
  struct Want {
    const char* table;
    Diagnostic::Severity severity;
  };
  const Want want[] = {{"resp", Diagnostic::Severity::kError},
                       {"temp", Diagnostic::Severity::kError},
                       {"age", Diagnostic::Severity::kWarning},   // only when nothing recorded
                       {"flags_only", Diagnostic::Severity::kNote}};
  for (size_t i = 0; i < found.size(); ++i) {
    const Diagnostic& d = found[i];
    SCOPED_TRACE(FormatDiagnostic(d));
    EXPECT_EQ(d.severity, want[i].severity);
    EXPECT_EQ(d.pos.line, LineOf(text, absl::StrCat("id: ", want[i].table)));
    const int t = Table(want[i].table);
    Example ex = Parse(d);
    for (int r = 0; r < rs_->tables()[t].nrows; ++r) {
      EXPECT_EQ(Match(t, r, ex), Tri::kFail) << "row " << r << " matches " << d.example;
    }
  }
  // Integer field: the witness is a whole number in [9..20] with SpO2 < 94.
  EXPECT_EQ(found[0].example, R"({"observations":{"respiratory_rate":9,"spo2_percent":93}})");
  EXPECT_EQ(found[1].example, R"({"observations":{"temperature_celsius":38}})");
  EXPECT_THAT(found[2].message, HasSubstr("patient.date_of_birth"));
  EXPECT_THAT(found[2].message, HasSubstr("patient.stated_age_years"));
  // On whole-number inputs [9..20] and > 20 leave nothing between them.
  EXPECT_THAT(found[0].message, Not(HasSubstr("20.5")));
}

// --- score tables ----------------------------------------------------------------

constexpr char kScore[] = R"(tables:
  - id: chart
    title: A score chart
    hit_policy: collect
    score: CHART
    inputs:
      rr: observations.respiratory_rate
      hr: observations.pulse
    outputs:
      parameter: text
      points: number
    aggregates:
      chart_total: sum(points)
    rows: |
      | id    | rr       | hr       | parameter | points | source |
      | rr_lo | <= 8     | -        | rr        | 3      | chart  |
      | rr_ok | [9..20]  | -        | rr        | 0      | chart  |
      | rr_hi | >= 20    | -        | rr        | 2      | chart  |
      | hr_lo | -        | <= 40    | hr        | 3      | chart  |
      | hr_hi | -        | > 40     | hr        | 1      | chart  |
      | hr_x  | -        | > 130    | hr_extra  | 1      | chart  |
      | hr_x2 | -        | > 140    | hr_extra  | 1      | chart  |
  - id: response
    title: Response (reads the score, a variable)
    hit_policy: unique
    inputs:
      total: chart_total
      scale: observations.spo2_scale
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id     | total  | scale   | pathway         | urgency    | source |
      | high   | >= 5   | -       | ACUTE           | IMMEDIATE  | chart  |
      | medium | [3..6] | SCALE_2 | CLINICAL_REVIEW | WITHIN_1H  | chart  |
      | low    | < 3    | -       | PRIMARY_CARE    | WITHIN_24H | chart  |
      | mid1   | [3..4] | not(SCALE_2) | PRIMARY_CARE | WITHIN_12H | chart |
)";

TEST_F(AnalysisTest, ScoreParameterOverlap) {
  Write("40-chart.rules.yaml", kScore);
  ASSERT_NO_FATAL_FAILURE(Analyse());
  auto found = Findings("score-overlap");
  ASSERT_EQ(found.size(), 2u);
  const std::string& text = files_["40-chart.rules.yaml"];
  const int t = Table("chart");
  const char* pairs[][2] = {{"rr_ok", "rr_hi"}, {"hr_x", "hr_x2"}};
  for (size_t i = 0; i < found.size(); ++i) {
    const Diagnostic& d = found[i];
    SCOPED_TRACE(FormatDiagnostic(d));
    EXPECT_EQ(d.severity, Diagnostic::Severity::kError);
    EXPECT_EQ(d.pos.line, LineOf(text, absl::StrCat("| ", pairs[i][1], " ")));
    Example ex = Parse(d);
    EXPECT_EQ(Match(t, Row(t, pairs[i][0]), ex), Tri::kMatch);
    EXPECT_EQ(Match(t, Row(t, pairs[i][1]), ex), Tri::kMatch);
  }
  EXPECT_EQ(found[0].example, R"({"observations":{"respiratory_rate":20}})");
  // A variable among the inputs: the example is keyed by column ref.
  auto overlaps = Findings("overlap");
  ASSERT_EQ(overlaps.size(), 1u);
  EXPECT_EQ(overlaps[0].example, R"({"chart_total": 5, "observations.spo2_scale": "SCALE_2"})");
  const int resp = Table("response");
  Example ex = Parse(overlaps[0]);
  EXPECT_EQ(Match(resp, Row(resp, "high"), ex), Tri::kMatch);
  EXPECT_EQ(Match(resp, Row(resp, "medium"), ex), Tri::kMatch);
  // chart_total is a sum of whole points, at least 0: no gap below 0 or
  // between 4 and 5.
  EXPECT_THAT(Findings("gap"), IsEmpty());
  // hr_x and hr_x2 have the same outputs and one is inside the other.
  auto subsumed = Findings("subsumed-row");
  ASSERT_EQ(subsumed.size(), 1u);
  EXPECT_EQ(subsumed[0].pos.line, LineOf(text, "| hr_x2 "));
  EXPECT_THAT(subsumed[0].message, HasSubstr("'hr_x'"));
}

// --- subsumed rows -----------------------------------------------------------------

constexpr char kPriority[] = R"(tables:
  - id: prio
    title: Priority
    hit_policy: priority
    inputs:
      problem: problem
      age: patient.stated_age_years
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id     | problem           | age    | pathway   | urgency   | source |
      | any    | -                 | -      | -         | -         | local  |
      | falls  | FALL, COLLAPSE    | >= 65  | UCR       | WITHIN_2H | local  |
      | fall80 | FALL              | >= 80  | UCR       | WITHIN_2H | local  |
      | fall70 | FALL              | >= 70  | UCR       | WITHIN_4H | local  |
      | col    | COLLAPSE, FALL    | >= 65  | UCR       | WITHIN_2H | local  |
)";

TEST_F(AnalysisTest, SubsumedRows) {
  Write("50-prio.rules.yaml", kPriority);
  ASSERT_NO_FATAL_FAILURE(Analyse());
  auto found = Findings("subsumed-row");
  // fall80 inside falls; col the same as falls (reported once, on the later).
  ASSERT_EQ(found.size(), 2u);
  const std::string& text = files_["50-prio.rules.yaml"];
  const int t = Table("prio");
  const char* rows[] = {"fall80", "col"};
  for (size_t i = 0; i < found.size(); ++i) {
    const Diagnostic& d = found[i];
    SCOPED_TRACE(FormatDiagnostic(d));
    EXPECT_EQ(d.severity, Diagnostic::Severity::kWarning);
    EXPECT_EQ(d.pos.line, LineOf(text, absl::StrCat("| ", rows[i], " ")));
    EXPECT_THAT(d.message, HasSubstr("'falls'"));
    Example ex = Parse(d);
    EXPECT_EQ(Match(t, Row(t, rows[i]), ex), Tri::kMatch);
    EXPECT_EQ(Match(t, Row(t, "falls"), ex), Tri::kMatch);
  }
  EXPECT_THAT(Findings("gap"), IsEmpty());  // the 'any' row is a catch-all
}

// --- lowering a safety-critical outcome ------------------------------------------

constexpr char kLowering[] = R"(tables:
  - id: red
    title: Red flags
    hit_policy: priority
    inputs:
      arrest: {ref: findings.cardiac_or_respiratory_arrest, on_missing: no_match}
      pulse: observations.pulse
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id     | arrest | pulse | pathway            | urgency   | source | sc  |
      | arrest | yes    | -     | EMERGENCY_SERVICES | IMMEDIATE | JRCALC | yes |
      | brady  | -      | < 40  | ACUTE              | WITHIN_1H | local  | yes |
      | none   | -      | -     | -                  | -         | local  | -   |
  - id: plan
    title: Care plan
    hit_policy: first
    mode: override
    inputs:
      acp: {ref: findings.advance_care_plan_declines_hospital, on_missing: no_match}
      current: outcome.pathway
      pulse: observations.pulse
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id       | acp | current | pulse | pathway    | urgency   | source  |
      | declines | yes | ACUTE   | >= 30 | PALLIATIVE | WITHIN_1H | ReSPECT |
      | primary  | yes | PRIMARY_CARE | - | PALLIATIVE | WITHIN_4H | ReSPECT |
)";

TEST_F(AnalysisTest, LowersSafetyCriticalWithExample) {
  Write("60-plan.rules.yaml", kLowering);
  ASSERT_NO_FATAL_FAILURE(Analyse());
  auto found = Findings("lowers-safety-critical");
  // 'declines' can replace brady's ACUTE; 'primary' only sees PRIMARY_CARE,
  // which no safety-critical row gives.
  ASSERT_EQ(found.size(), 1u);
  const Diagnostic& d = found[0];
  EXPECT_EQ(d.severity, Diagnostic::Severity::kError);
  EXPECT_EQ(d.pos.line, LineOf(files_["60-plan.rules.yaml"], "| declines "));
  EXPECT_THAT(d.message, HasSubstr("red/brady"));
  Example ex = Parse(d);
  const int red = Table("red"), plan = Table("plan");
  EXPECT_EQ(Match(red, Row(red, "brady"), ex), Tri::kMatch);
  EXPECT_EQ(Match(plan, Row(plan, "declines"), ex,
                  {{"outcome.pathway", Value::Number(v1::PATHWAY_ACUTE)}}),
            Tri::kMatch);
  EXPECT_EQ(d.example,
            R"({"observations":{"pulse":30},"findings":{"advance_care_plan_declines_hospital":true}})");
}

// --- a clean rule set ----------------------------------------------------------------

constexpr char kClean[] = R"(tables:
  - id: points
    title: Two-parameter score
    hit_policy: collect
    score: MINI
    inputs:
      rr: observations.respiratory_rate
      hr: observations.pulse
    outputs:
      parameter: text
      points: number
    aggregates:
      total: sum(points)
      highest: max(points)
    rows: |
      | id    | rr       | hr       | parameter | points | source |
      | rr_lo | <= 8     | -        | rr        | 3      | chart  |
      | rr_ok | [9..20]  | -        | rr        | 0      | chart  |
      | rr_hi | > 20     | -        | rr        | 2      | chart  |
      | hr_lo | -        | <= 40    | hr        | 3      | chart  |
      | hr_ok | -        | (40..90] | hr        | 0      | chart  |
      | hr_hi | -        | > 90     | hr        | 1      | chart  |
  - id: response
    title: Response to the score (total is a whole number of at least 0)
    hit_policy: unique
    inputs:
      total: total
      highest: highest
    outputs:
      pathway: decision
      urgency: decision
    rows: |
      | id      | total  | highest        | pathway         | urgency    | source |
      | high    | >= 5   | -              | ACUTE           | IMMEDIATE  | chart  |
      | single3 | < 5    | 3              | CLINICAL_REVIEW | WITHIN_1H  | chart  |
      | low     | [0..4] | <= 2, missing  | VIRTUAL_WARD    | WITHIN_24H | chart  |
  - id: route
    title: Every pathway from the presenting problem
    hit_policy: unique
    inputs:
      problem: problem
      fall: findings.fall
    outputs:
      pathway: decision
      urgency: decision
      flags: decision
    rows: |
      | id     | problem          | fall   | pathway            | urgency    | flags | source |
      | arrest | COLLAPSE         | -      | EMERGENCY_SERVICES | IMMEDIATE  | -     | local  |
      | preg   | PREGNANCY_PROBLEM | -     | MATERNITY          | WITHIN_2H  | -     | local  |
      | mh     | SELF_HARM        | -      | MENTAL_HEALTH_CRISIS | WITHIN_1H | -    | local  |
      | mhc    | MENTAL_HEALTH    | -      | MENTAL_HEALTH_COMMUNITY | WITHIN_2W | - | local  |
      | eol    | END_OF_LIFE_CARE | -      | PALLIATIVE         | WITHIN_4H  | -     | local  |
      | fall   | FALL             | yes    | UCR                | WITHIN_2H  | FRAILTY | local |
      | nofall | FALL             | no, missing | COMMUNITY_NURSING | WITHIN_48H | - | local |
      | social | SOCIAL_CARE_NEED | -      | SOCIAL_CARE        | WITHIN_2W  | -     | local  |
      | info   | INFORMATION_REQUEST | -   | ADVICE_ONLY        | NONE       | -     | local  |
      | child  | FEVER            | -      | PAEDIATRIC         | WITHIN_4H  | -     | local  |
      | gp     | not(COLLAPSE, PREGNANCY_PROBLEM, SELF_HARM, MENTAL_HEALTH, END_OF_LIFE_CARE, FALL, SOCIAL_CARE_NEED, INFORMATION_REQUEST, FEVER) | - | PRIMARY_CARE | WITHIN_2W | - | local |
)";

TEST_F(AnalysisTest, CleanRuleSetHasNoFindings) {
  Write("10-clean.rules.yaml", kClean);
  ASSERT_NO_FATAL_FAILURE(Analyse());
  EXPECT_THAT(diags_.items(), IsEmpty()) << Dump(diags_);
}

// --- rows that can never match ---------------------------------------------------------

constexpr char kNever[] = R"(tables:
  - id: chart
    title: Points
    hit_policy: collect
    inputs:
      rr: observations.respiratory_rate
    outputs:
      points: number
    aggregates:
      pts: sum(points)
    rows: |
      | id | rr   | points | source |
      | a  | > 20 | 2      | chart  |
      | b  | -    | 1      | chart  |
  - id: use
    title: Uses the sum
    hit_policy: first
    inputs:
      pts: pts
    outputs:
      flags: decision
    rows: |
      | id    | pts  | flags   | source |
      | neg   | < 0  | FRAILTY | local  |
      | other | -    | -       | local  |
)";

TEST_F(AnalysisTest, RowThatCanNeverMatch) {
  Write("10-never.rules.yaml", kNever);
  ASSERT_NO_FATAL_FAILURE(Analyse());
  auto found = Findings("row-never-matches");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].pos.line, LineOf(files_["10-never.rules.yaml"], "| neg "));
  EXPECT_THAT(found[0].message, HasSubstr("'pts'"));
}

// --- differential check against brute force ---------------------------------------

// Small random tables over a whole-number field, a yes/no field and an enum
// field, checked against every combination of values (each field missing or
// one of its values; -2..12 covers every segment the cells can cut).
TEST_F(AnalysisTest, AgreesWithBruteForceOnRandomTables) {
  const char* num_cells[] = {"-",        "missing",   "present",  "< 4",       "<= 4",
                             "> 6",      ">= 6",      "[2..8]",   "(2..8)",    "[3..5)",
                             "3, 7",     "!= 5",      "not(3, 7)", "5, missing", "not([2..8])",
                             "[0..10]",  "< 0, > 10", "4",        "(4..9]",    ">= 0"};
  const char* bool_cells[] = {"-", "yes", "no", "missing", "present", "yes, missing", "not(yes)"};
  const char* enum_cells[] = {"-",
                              "ALERT",
                              "VOICE, PAIN",
                              "not(ALERT)",
                              "missing",
                              "present",
                              "ALERT, missing",
                              "not(ALERT, VOICE)",
                              "UNRESPONSIVE",
                              "NEW_CONFUSION, VOICE, PAIN, UNRESPONSIVE"};
  const char* policies[] = {"unique", "first", "priority"};
  uint32_t seed = 7;
  auto rnd = [&seed](int n) {
    seed = seed * 1664525 + 1013904223;
    return static_cast<int>((seed >> 10) % n);
  };
  verbose_ = false;
  const int kIters = 300;
  int checked = 0;
  for (int iter = 0; iter < kIters; ++iter) {
    const char* policy = policies[iter % 3];
    const int nrows = 2 + rnd(4);  // at most 10 pairs: none left unlisted
    std::string text = absl::StrCat(
        "tables:\n  - id: t\n    title: Random\n    hit_policy: ", policy,
        "\n    inputs:\n      p: ", rnd(3) == 0 ? "{ref: observations.pulse, on_missing: no_match}"
                                               : "observations.pulse",
        "\n      f: ", rnd(3) == 0 ? "{ref: findings.fall, on_missing: no_match}" : "findings.fall",
        "\n      c: observations.consciousness\n    outputs:\n      pathway: decision\n"
        "      urgency: decision\n    rows: |\n"
        "      | id | p | f | c | pathway | urgency | source |\n");
    for (int r = 0; r < nrows; ++r) {
      absl::StrAppend(&text, "      | r", r, " | ", num_cells[rnd(20)], " | ", bool_cells[rnd(7)],
                      " | ", enum_cells[rnd(10)], " | ",
                      rnd(2) ? "ACUTE | WITHIN_1H" : "UCR | WITHIN_2H", " | x |\n");
    }
    SCOPED_TRACE(text);
    Write("10-t.rules.yaml", text);
    ASSERT_NO_FATAL_FAILURE(Analyse());
    const CompiledTable& t = rs_->tables()[0];
    // Every combination: pulse -2..12 or missing, fall no/yes/missing,
    // consciousness 1..5 or missing.
    std::vector<std::vector<Value>> combos;
    for (int pv = -3; pv <= 12; ++pv) {
      for (int fv = -1; fv <= 1; ++fv) {
        for (int cv = 0; cv <= 5; ++cv) {
          combos.push_back({pv < -2 ? Value() : Value::Number(pv),
                            fv < 0 ? Value() : Value::Number(fv),
                            cv == 0 ? Value() : Value::Number(cv)});
        }
      }
    }
    auto eval = [&](int r, const std::vector<Value>& v) {
      Tri out = Tri::kMatch;
      for (int c = 0; c < 3; ++c) {
        Tri x = MatchCell(t.columns[c].cells[r], v[c], t.columns[c].unknown_if_missing);
        if (x == Tri::kFail) return Tri::kFail;
        if (x == Tri::kUnknown) out = Tri::kUnknown;
      }
      return out;
    };
    std::vector<std::vector<Tri>> m(nrows);
    for (int r = 0; r < nrows; ++r) {
      for (const auto& v : combos) m[r].push_back(eval(r, v));
    }
    auto present = [&](size_t i) {
      return combos[i][0].present && combos[i][1].present && combos[i][2].present;
    };
    auto row_of = [&](const Diagnostic& d) {
      for (int r = 0; r < nrows; ++r) {
        if (d.pos.line == LineOf(text, absl::StrCat("| r", r, " "))) return r;
      }
      return -1;
    };
    // Rows that never match.
    std::set<int> never_want, never_got;
    for (int r = 0; r < nrows; ++r) {
      bool any = false;
      for (Tri x : m[r]) any = any || x == Tri::kMatch;
      if (!any) never_want.insert(r);
    }
    for (const auto& d : Findings("row-never-matches")) never_got.insert(row_of(d));
    EXPECT_EQ(never_got, never_want);
    // Overlaps.
    if (std::string(policy) == "unique") {
      std::set<std::pair<int, int>> want, got;
      for (int a = 0; a < nrows; ++a) {
        for (int b = a + 1; b < nrows; ++b) {
          for (size_t i = 0; i < combos.size(); ++i) {
            if (m[a][i] == Tri::kMatch && m[b][i] == Tri::kMatch) want.insert({a, b});
          }
        }
      }
      for (const auto& d : Findings("overlap")) {
        int b = row_of(d);
        for (int a = 0; a < b; ++a) {
          if (absl::StrContains(d.message, absl::StrCat("'r", a, "'"))) got.insert({a, b});
        }
        Example ex = Parse(d);
        int matching = 0;
        for (int r = 0; r < nrows; ++r) matching += Match(0, r, ex) == Tri::kMatch;
        EXPECT_GE(matching, 2) << FormatDiagnostic(d);
      }
      EXPECT_EQ(got, want);
    }
    // Masked rows.
    if (std::string(policy) == "first") {
      std::set<int> want, got;
      for (int r = 1; r < nrows; ++r) {
        if (never_want.count(r)) continue;
        bool masked = true;
        for (size_t i = 0; i < combos.size() && masked; ++i) {
          if (m[r][i] != Tri::kMatch) continue;
          bool earlier = false;
          for (int s = 0; s < r; ++s) earlier = earlier || m[s][i] == Tri::kMatch;
          masked = earlier;
        }
        if (masked) want.insert(r);
      }
      for (const auto& d : Findings("masked-row")) {
        EXPECT_EQ(d.severity, Diagnostic::Severity::kError);
        got.insert(row_of(d));
      }
      EXPECT_EQ(got, want);
    }
    // Subsumed rows.
    if (std::string(policy) == "priority") {
      std::set<int> want, got;
      for (int r = 0; r < nrows; ++r) {
        if (never_want.count(r)) continue;
        for (int s = 0; s < nrows; ++s) {
          if (s == r || t.rows[s].rank != t.rows[r].rank) continue;
          bool inside = true, equal = true;
          for (size_t i = 0; i < combos.size(); ++i) {
            bool in_r = m[r][i] == Tri::kMatch, in_s = m[s][i] == Tri::kMatch;
            if (in_r && !in_s) inside = false;
            if (in_r != in_s) equal = false;
          }
          if (inside && !(equal && s > r)) want.insert(r);
        }
      }
      for (const auto& d : Findings("subsumed-row")) got.insert(row_of(d));
      EXPECT_EQ(got, want);
    }
    // Gaps: every row fails (undetermined rows are not a gap).
    {
      std::vector<int> rows;
      bool has_catch_all = false;
      for (int r = 0; r < nrows; ++r) {
        bool all = true;
        for (int c = 0; c < 3; ++c) all = all && t.columns[c].cells[r].kind == CellTest::Kind::kAny;
        if (all) {
          has_catch_all = true;
        } else {
          rows.push_back(r);
        }
      }
      bool gap_present = false, gap_any = false;
      for (size_t i = 0; i < combos.size(); ++i) {
        bool all_fail = true;
        for (int r : rows) all_fail = all_fail && m[r][i] == Tri::kFail;
        if (!all_fail) continue;
        gap_any = true;
        gap_present = gap_present || present(i);
      }
      auto gaps = Findings("gap");
      if (!gap_any || has_catch_all) {
        EXPECT_THAT(gaps, IsEmpty());
      } else {
        ASSERT_EQ(gaps.size(), 1u);
        Diagnostic::Severity want =
            gap_present ? Diagnostic::Severity::kError : Diagnostic::Severity::kWarning;
        EXPECT_EQ(gaps[0].severity, want);
        Example ex = Parse(gaps[0]);
        for (int r : rows) EXPECT_EQ(Match(0, r, ex), Tri::kFail) << FormatDiagnostic(gaps[0]);
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, kIters);
}

// --- scale -----------------------------------------------------------------------------

// A 10,000-row, 10-column table: a full grid over eight columns (5^4 x 2^4
// cells), and two columns whose cells accept every value in a different
// spelling. No two rows overlap and every referral matches one row.
std::string GridTable(const std::string& id, const std::string& policy, bool catch_all) {
  const char* problems[] = {"FALL", "COLLAPSE", "CHEST_PAIN", "FEVER",
                            "not(FALL, COLLAPSE, CHEST_PAIN, FEVER)"};
  const char* pulse[] = {"< 50", "[50..90)", "[90..110)", "[110..130)", ">= 130"};
  const char* rr[] = {"<= 8", "[9..11]", "[12..20]", "[21..24]", ">= 25"};
  const char* sbp[] = {"<= 90", "[91..100]", "[101..110]", "[111..219]", ">= 220"};
  const char* temp[] = {"< 38", ">= 38"};
  const char* yn[] = {"yes", "no"};
  const char* pathways[] = {"ACUTE IMMEDIATE", "CLINICAL_REVIEW WITHIN_1H", "UCR WITHIN_2H",
                            "PRIMARY_CARE WITHIN_24H", "COMMUNITY_NURSING WITHIN_48H"};
  std::string out = absl::StrCat(
      "  - id: ", id, "\n    title: Generated grid\n    hit_policy: ", policy,
      "\n    inputs:\n      problem: problem\n      pulse: observations.pulse\n"
      "      rr: observations.respiratory_rate\n      sbp: observations.systolic_bp\n"
      "      temp: observations.temperature_celsius\n      fall: findings.fall\n"
      "      head: findings.head_injury\n      anticoag: findings.on_anticoagulant\n"
      "      spo2: observations.spo2_percent\n      acvpu: observations.consciousness\n"
      "    outputs:\n      pathway: decision\n      urgency: decision\n    rows: |\n"
      "      | id | problem | pulse | rr | sbp | temp | fall | head | anticoag | spo2 | acvpu "
      "| pathway | urgency | source |\n");
  int n = 0;
  for (int a = 0; a < 5; ++a) {
    for (int b = 0; b < 5; ++b) {
      for (int c = 0; c < 5; ++c) {
        for (int d = 0; d < 5; ++d) {
          for (int e = 0; e < 16; ++e) {
            std::vector<std::string> po = absl::StrSplit(pathways[(a + b + c + d) % 5], ' ');
            absl::StrAppend(
                &out, "      | g", n, " | ", problems[a], " | ", pulse[b], " | ", rr[c], " | ",
                sbp[d], " | ", temp[e & 1], " | ", yn[(e >> 1) & 1], " | ", yn[(e >> 2) & 1],
                " | ", yn[(e >> 3) & 1], " | ", n % 2 ? ">= 0, < 0, missing" : "-", " | ",
                n % 3 ? "-" : "ALERT, NEW_CONFUSION, VOICE, PAIN, UNRESPONSIVE, missing", " | ",
                po[0], " | ", po[1], " | gen |\n");
            ++n;
          }
        }
      }
    }
  }
  if (catch_all) {
    absl::StrAppend(&out, "      | rest | - | - | - | - | - | - | - | - | - | - | CLINICAL_REVIEW "
                          "| WITHIN_4H | gen |\n");
  }
  return out;
}

TEST_F(AnalysisTest, TenThousandRowTableIsFast) {
  struct Case {
    const char* policy;
    bool catch_all;
  };
  for (const Case& c : {Case{"unique", false}, Case{"first", true}, Case{"priority", false}}) {
    SCOPED_TRACE(c.policy);
    Write("10-grid.rules.yaml",
          absl::StrCat("tables:\n", GridTable("grid", c.policy, c.catch_all)));
    v1::RuleSet proto;
    SourceMap sources;
    Diagnostics diags;
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(ReadRuleSetFiles(dir_, LoadOptions(), &proto, &sources, &diags)) << Dump(diags);
    auto rs = CompiledRuleSet::Compile(std::move(proto), &sources, &diags);
    ASSERT_NE(rs, nullptr) << Dump(diags);
    ASSERT_GE(rs->tables()[0].nrows, 10000);
    ASSERT_EQ(rs->tables()[0].columns.size(), 10u);
    auto t1 = std::chrono::steady_clock::now();
    std::clock_t c1 = std::clock();
    rules::Analyse(*rs, &diags);
    std::clock_t c2 = std::clock();
    auto t2 = std::chrono::steady_clock::now();
    std::printf("[ timing ] %s table, %d rows x 10 columns: read+compile %.0f ms, Analyse %.0f ms "
                "(%.0f ms CPU)\n",
                c.policy, rs->tables()[0].nrows,
                std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(t2 - t1).count(),
                1000.0 * (c2 - c1) / CLOCKS_PER_SEC);
    std::vector<std::string> table_findings;
    for (const auto& d : diags.items()) {
      if (d.code != "unreachable-pathway") table_findings.push_back(FormatDiagnostic(d));
    }
    EXPECT_THAT(table_findings, IsEmpty());
  }
}

// A table where each row has a different random box: the searches must stay
// within their caps and report "not proved" rather than run away.
TEST_F(AnalysisTest, RandomTableStaysWithinCaps) {
  std::string text =
      "tables:\n  - id: rnd\n    title: Random\n    hit_policy: first\n    inputs:\n"
      "      a: observations.pulse\n      b: observations.respiratory_rate\n"
      "      c: observations.systolic_bp\n      d: observations.spo2_percent\n"
      "    outputs:\n      pathway: decision\n      urgency: decision\n    rows: |\n"
      "      | id | a | b | c | d | pathway | urgency | source |\n";
  uint32_t seed = 12345;
  auto rnd = [&seed](int n) {
    seed = seed * 1103515245 + 12345;
    return static_cast<int>((seed >> 8) % n);
  };
  const int kRows = 3000;
  for (int r = 0; r < kRows; ++r) {
    absl::StrAppend(&text, "      | x", r);
    for (int c = 0; c < 4; ++c) {
      int lo = rnd(200), w = 1 + rnd(80);
      absl::StrAppend(&text, " | [", lo, "..", lo + w, "]");
    }
    absl::StrAppend(&text, " | ACUTE | WITHIN_1H | gen |\n");
  }
  Write("10-rnd.rules.yaml", text);
  auto t0 = std::chrono::steady_clock::now();
  std::clock_t c0 = std::clock();
  ASSERT_NO_FATAL_FAILURE(Analyse());
  std::clock_t c1 = std::clock();
  auto t1 = std::chrono::steady_clock::now();
  std::printf("[ timing ] random first table, %d rows x 4 columns: read+compile+Analyse %.0f ms "
              "(%.0f ms CPU)\n",
              kRows, std::chrono::duration<double, std::milli>(t1 - t0).count(),
              1000.0 * (c1 - c0) / CLOCKS_PER_SEC);
  // A gap is certain (pulse 0..); every reported example must be genuine.
  auto gaps = Findings("gap");
  ASSERT_EQ(gaps.size(), 1u);
  const int t = Table("rnd");
  if (gaps[0].severity == Diagnostic::Severity::kError) {
    Example ex = Parse(gaps[0]);
    for (int r = 0; r < rs_->tables()[t].nrows; ++r) EXPECT_EQ(Match(t, r, ex), Tri::kFail);
  }
  for (const auto& d : Findings("masked-row")) {
    if (d.severity != Diagnostic::Severity::kError) continue;
    Example ex = Parse(d);
    EXPECT_FALSE(ex.values.empty());
  }
}

// --- the default rule set ---------------------------------------------------------------

TEST(AnalysisDefaultRules, ReportsFindings) {
  if (!fs::exists("triage-rules/community-spa/ruleset.yaml")) GTEST_SKIP();
  v1::RuleSet proto;
  SourceMap sources;
  Diagnostics diags;
  if (!ReadRuleSetFiles("triage-rules/community-spa", LoadOptions(), &proto, &sources, &diags)) {
    GTEST_SKIP() << "default rules do not read";
  }
  auto rs = CompiledRuleSet::Compile(std::move(proto), &sources, &diags);
  if (rs == nullptr) GTEST_SKIP() << "default rules do not compile";
  Diagnostics analysis;
  auto t0 = std::chrono::steady_clock::now();
  Analyse(*rs, &analysis);
  auto t1 = std::chrono::steady_clock::now();
  std::printf("[ timing ] default rules: Analyse %.1f ms, %zu findings\n",
              std::chrono::duration<double, std::milli>(t1 - t0).count(),
              analysis.items().size());
  for (const auto& d : analysis.items()) std::printf("%s\n", FormatDiagnostic(d).c_str());
}

}  // namespace
}  // namespace frontdoor::rules
