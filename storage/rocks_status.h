#ifndef FRONTDOOR_STORAGE_ROCKS_STATUS_H_
#define FRONTDOOR_STORAGE_ROCKS_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace frontdoor::storage {

// A RocksDB status as an absl::Status with the closest canonical code
// (I/O errors and busy/timeouts are UNAVAILABLE; corruption is DATA_LOSS),
// its message prefixed with `what`.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what);

}  // namespace frontdoor::storage

#endif  // FRONTDOOR_STORAGE_ROCKS_STATUS_H_
