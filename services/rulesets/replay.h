// Replay ("what would change"): a candidate rule set evaluated over stored
// referrals against the active one, each referral as it was stored (its own
// received_at, so decisions are reproducible).
//
// The report (v1::ReplayReport) holds:
// - the transition matrix: (active pathway, urgency) -> (candidate pathway,
//   urgency) with counts, changed pairs only, most frequent first;
// - the changed referrals, every downgrade first (urgency less urgent under
//   the candidate: a higher Urgency number), then the other changes; at most
//   `max_changes` listed, the counts (changed, downgrades, upgrades) exact;
// - changes grouped by the candidate's row responsible for the new outcome
//   ("table/row"; "fallback" when no row gave one; "missing_data" when the
//   missing-data review raised it), with sample referral ids (downgrades
//   first), most downgrades first;
// - the candidate's rows that no replayed referral fired (matched), in table
//   order; empty when no referral was replayed (nothing to judge by).
//
// Which referrals are listed, and which ids are samples, does not depend on
// the number of threads: ties are broken by position in the source.
//
// Evaluation runs on `threads` worker threads, each with its own EvalResults
// (no allocation per evaluation); the source is read on the calling thread,
// which copies each accepted referral into an arena-backed batch.

#ifndef FRONTDOOR_SERVICES_RULESETS_REPLAY_H_
#define FRONTDOOR_SERVICES_RULESETS_REPLAY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral_service.pb.h"
#include "frontdoor/v1/rule_set_service.pb.h"
#include "services/triage/engine/compiled_rule_set.h"

namespace frontdoor::rulesets {

// Receives one stored referral; returns false to stop the source. The record
// is only valid during the call.
using ReplayVisitor = std::function<bool(const v1::ReferralRecord&)>;

// Feeds every stored referral to the visitor, on the calling thread, until
// the visitor returns false; returns the source's error, if any. Replay
// reads id, referral, received_at and pathway of each record, never its
// stored decision. Over the referral store:
//   storage::ReferralStore::ScanOptions scan;
//   scan.omit_decision = true;  // most of a record's parse time
//   ReplaySource source = [&](const ReplayVisitor& visit) {
//     return store->ScanReferrals(filter, scan, visit);
//   };
using ReplaySource = std::function<absl::Status(const ReplayVisitor&)>;

struct ReplayOptions {
  // Filters (ReplayRequest), applied to every record the source gives; a
  // store source may apply them too. Unset: everything.
  std::optional<absl::Time> received_after;   // inclusive (record.received_at)
  std::optional<absl::Time> received_before;  // exclusive
  v1::Pathway pathway = v1::PATHWAY_UNSPECIFIED;  // record.pathway(): now on it
  // Default 0: every matching referral. Otherwise the first `limit` in the
  // source's order (ScanReferrals: by id, which is not by time).
  int64_t limit = 0;
  // Default 2: evaluation threads (at least 1).
  int threads = 2;
  // Estimated number of records the source will give, filtered out or not
  // (e.g. the store's ApproximateReferralCount()), for progress; 0 if
  // unknown.
  int64_t expected_total = 0;
  // Called on the calling thread about every 1% of the estimate (every
  // 10,000 records without one) with the records the source has given so
  // far and the estimate (0 if unknown); with a limit and no estimate, with
  // the referrals taken and the limit. Evaluation trails the count by at
  // most a few thousand referrals. Returning false stops the replay, which
  // then fails CANCELLED. May be empty.
  std::function<bool(int64_t done, int64_t total)> progress;
  // Default 1000: changed referrals listed (downgrades first).
  int max_changes = 1000;
  // Default 5: sample referral ids per row in by_row.
  int samples_per_row = 5;
};

// Evaluates `active` and `candidate` on every referral of `source` that
// passes the filters. The rule sets and the source must outlive the call.
// An empty source gives a report with 0 referrals (not an error). Errors:
// the source's own (e.g. the store's UNAVAILABLE or DATA_LOSS), CANCELLED
// when `progress` returned false, INVALID_ARGUMENT for a negative limit.
absl::StatusOr<v1::ReplayReport> Replay(const rules::CompiledRuleSet& active,
                                        const rules::CompiledRuleSet& candidate,
                                        const ReplaySource& source,
                                        const ReplayOptions& options = {});

// A source over records held in memory (tests, benchmarks); `records` must
// outlive the source.
ReplaySource RecordsSource(const std::vector<v1::ReferralRecord>* records);

// Whether going from urgency `from` to `to` is a downgrade: both set and
// `to` less urgent (a higher number).
bool IsDowngrade(v1::Urgency from, v1::Urgency to);

// The row responsible for the outcome of `result` (evaluated with
// `rule_set`): "table/row", "fallback" when no row gave an outcome, or
// "missing_data" when the missing-data review raised it.
std::string ResponsibleRow(const rules::CompiledRuleSet& rule_set,
                           const rules::EvalResult& result);

}  // namespace frontdoor::rulesets

#endif  // FRONTDOOR_SERVICES_RULESETS_REPLAY_H_
