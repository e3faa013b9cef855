#include "services/common/thread_name.h"

#include <pthread.h>

#include <string>

namespace frontdoor {

void SetCurrentThreadName(absl::string_view name) {
  std::string n(name.substr(0, 15));  // the kernel's limit, without the NUL
  pthread_setname_np(pthread_self(), n.c_str());
}

}  // namespace frontdoor
