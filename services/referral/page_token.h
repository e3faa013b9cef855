#ifndef FRONTDOOR_SERVICES_REFERRAL_PAGE_TOKEN_H_
#define FRONTDOOR_SERVICES_REFERRAL_PAGE_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace frontdoor::referral {

// Page tokens bind a store position to the query that produced it, so a
// token from another query (or a forged one) is refused with
// INVALID_ARGUMENT rather than silently returning the wrong rows.
// `query` is the request with its page_token and page_size cleared.
std::string EncodePageToken(const google::protobuf::Message& query, const std::string& position);
absl::StatusOr<std::string> DecodePageToken(const google::protobuf::Message& query,
                                            const std::string& token);

}  // namespace frontdoor::referral

#endif  // FRONTDOOR_SERVICES_REFERRAL_PAGE_TOKEN_H_
