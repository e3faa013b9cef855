#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_PROTO_YAML_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_PROTO_YAML_H_

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "services/triage/engine/diagnostic.h"
#include "services/triage/engine/yaml_subset.h"

namespace frontdoor::rules {

// Fills `msg` from a strict-YAML map, by proto field names (snake_case, or
// the JSON lowerCamel name). Scalars are typed by the field: numbers, yes/no,
// enum values by short or full name, Timestamps as RFC 3339 text, Dates as
// YYYY-MM-DD or {year, month, day}. Unknown fields, bad values and wrong
// shapes are reported against `file` with their positions.
void YamlToMessage(const YamlNode& node, absl::string_view file,
                   google::protobuf::Message* msg, Diagnostics* diags);

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_PROTO_YAML_H_
