#ifndef FRONTDOOR_SERVICES_COMMON_THREAD_NAME_H_
#define FRONTDOOR_SERVICES_COMMON_THREAD_NAME_H_

#include "absl/strings/string_view.h"

namespace frontdoor {

// Names the calling thread (at most 15 bytes are kept), so that `top -H`,
// perf and gdb tell the store's writer from a gRPC poller. Best effort.
void SetCurrentThreadName(absl::string_view name);

}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_COMMON_THREAD_NAME_H_
