// Test support: the repository's example referrals (examples/referrals/),
// read as messages. Paths are relative to the source root, where ctest runs
// the tests.

#ifndef FRONTDOOR_SERVICES_COMMON_EXAMPLE_REFERRALS_H_
#define FRONTDOOR_SERVICES_COMMON_EXAMPLE_REFERRALS_H_

#include <fstream>
#include <sstream>
#include <string>

#include "frontdoor/v1/referral.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace frontdoor::testing {

// A NEWS2 7 acute deterioration: triaged to an urgent acute pathway.
inline constexpr char kExampleReferral[] =
    "examples/referrals/news2-7-acute-deterioration.json";

// The referral in the JSON file at `path`; a test failure if it cannot be
// read or parsed.
inline v1::Referral ReadExampleReferral(
    const std::string& path = kExampleReferral) {
  std::ifstream in(path);
  EXPECT_TRUE(in.is_open()) << path << ": cannot read";
  std::stringstream ss;
  ss << in.rdbuf();
  v1::Referral r;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(ss.str(), &r).ok())
      << path;
  return r;
}

}  // namespace frontdoor::testing

#endif  // FRONTDOOR_SERVICES_COMMON_EXAMPLE_REFERRALS_H_
