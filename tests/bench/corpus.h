// A deterministic generator of varied, valid frontdoor.v1.Referral messages
// for benchmarks and differential tests.
//
// Referral `i` of a corpus depends only on (seed, i): its generator is a
// std::mt19937_64 seeded from both, and every draw is made from the raw
// engine output (not from std::*_distribution, whose results differ between
// standard libraries), so the same seed gives the same corpus everywhere.
// Nothing is drawn from the clock.
//
// What the corpus covers:
// - every PresentingProblem (referrals 0..33 take them in turn, the rest at
//   random; about 1 in 200 later ones not coded), every ReferrerType;
// - ages 0 to 100 from date_of_birth and received_at (with infants under
//   3 months, 16-17 year olds and the very old), a stated age on about half
//   (a few of them wrong), and received_at at every local time of day in
//   Europe/London, nights included, across two years (both DST changes);
// - NEWS2 observations drawn from every band of the RCP chart and beyond it
//   to the ends of the schema's ranges (band edges often; 60% of patients are
//   stable, with most values in the normal band), each parameter
//   missing about 15% of the time and the whole block missing on a few;
//   SpO2 scale 1, scale 2 with and without documented hypercapnic failure and
//   88-92% target, and unspecified; on air, on oxygen, unknown;
// - findings: red flags rare (each about 1 in 1000, more where the presenting
//   problem makes them plausible: some red flag on about 6% of referrals),
//   chest pain timing and ECG, head injury and anticoagulants, falls, NG51
//   criteria, anaphylaxis, cauda equina, pregnancy (women 16-50), fever traffic
//   light (under 5s), Clinical Frailty Scale, mental health risk, safeguarding,
//   end of life and advance care plans, social circumstances; on some referrals
//   many findings are simply not recorded;
// - NHS numbers: valid Modulus 11 numbers from the 999 test range only.

#ifndef FRONTDOOR_TESTS_BENCH_CORPUS_H_
#define FRONTDOOR_TESTS_BENCH_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "frontdoor/v1/referral.pb.h"

namespace frontdoor::bench {

inline constexpr uint64_t kDefaultCorpusSeed =
    0x46524f4e54444f52;  // "FRONTDOR"

struct CorpusOptions {
  uint64_t seed = kDefaultCorpusSeed;
  // Probability that one NEWS2 parameter is not recorded (each independently).
  double observation_missing = 0.15;
  // Probability that a referral carries no observations at all.
  double no_observations = 0.04;
};

// Referral `index` of the corpus made with `options`.
v1::Referral GenerateReferral(uint64_t index,
                              const CorpusOptions& options = {});

// Referrals 0..n-1.
std::vector<v1::Referral> GenerateCorpus(size_t n,
                                         const CorpusOptions& options = {});

// A valid NHS number from the 999 test range (999 000 0000 to 999 999 9999,
// valid but never issued): "999" then the six digits of (k + j) mod 10^6 and
// the check digit, for the smallest j >= 0 that gives a valid number.
std::string TestNhsNumber(uint64_t k);

}  // namespace frontdoor::bench

#endif  // FRONTDOOR_TESTS_BENCH_CORPUS_H_
