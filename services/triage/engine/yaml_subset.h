#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_YAML_SUBSET_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_YAML_SUBSET_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/triage/engine/diagnostic.h"

namespace frontdoor::rules {

// A node of a strict-YAML document. Every scalar is kept as the string the
// author wrote; the schema that reads it decides its type.
struct YamlNode {
  enum class Kind { kScalar, kSequence, kMap };
  struct Entry {
    std::string key;
    SourcePos key_pos;
    std::unique_ptr<YamlNode> value;
  };

  Kind kind = Kind::kScalar;
  SourcePos pos;
  std::string scalar;
  bool block_scalar = false;  // written as `|` or `>`
  std::vector<std::unique_ptr<YamlNode>> items;  // kSequence
  std::vector<Entry> entries;                    // kMap, in file order

  // The value under `key` in a map, or null.
  const YamlNode* Find(absl::string_view key) const;
  const Entry* FindEntry(absl::string_view key) const;
  const char* KindName() const;
};

// Parses `text` as the strict YAML subset of docs/rule-language.md: one
// document; no anchors, aliases, tags, merge keys, duplicate keys, tabs or
// empty/null values. Every violation is reported to `diags` against `file`
// (all of them, where the parser can continue). Returns null if the text is
// not usable at all. Never throws.
std::unique_ptr<YamlNode> ParseStrictYaml(absl::string_view text,
                                          absl::string_view file,
                                          Diagnostics* diags);

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_YAML_SUBSET_H_
