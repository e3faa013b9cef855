#ifndef FRONTDOOR_SERVICES_TRIAGE_ENGINE_EXPLAIN_H_
#define FRONTDOOR_SERVICES_TRIAGE_ENGINE_EXPLAIN_H_

#include <string>

#include "frontdoor/v1/triage.pb.h"

namespace frontdoor::rules {

// Renders a decision for a clinician: the outcome and target, the row that
// decided it and its source, each score with its parameters' points, flags,
// the rows that fired, and any missing data that could have raised urgency.
std::string ExplainDecision(const v1::TriageDecision& decision);

// "ACUTE", "WITHIN_1H", "NEWS2_INCOMPLETE": the names rule files use.
std::string PathwayName(v1::Pathway p);
std::string UrgencyName(v1::Urgency u);
std::string FlagName(v1::Flag f);

}  // namespace frontdoor::rules

#endif  // FRONTDOOR_SERVICES_TRIAGE_ENGINE_EXPLAIN_H_
