// The portal's files, compiled into the binary by embed_files.cmake (the
// generated portal_files.cc defines these).

#ifndef FRONTDOOR_SERVICES_PORTAL_EMBEDDED_FILE_H_
#define FRONTDOOR_SERVICES_PORTAL_EMBEDDED_FILE_H_

#include <cstddef>

namespace frontdoor::portal::internal {

struct EmbeddedFile {
  const char* name;  // file name in services/portal/web/, e.g. "portal.js"
  const char* data;  // its bytes (followed by a NUL not counted in size)
  size_t size;
};

extern const EmbeddedFile kEmbeddedFiles[];
extern const int kEmbeddedFileCount;

}  // namespace frontdoor::portal::internal

#endif  // FRONTDOOR_SERVICES_PORTAL_EMBEDDED_FILE_H_
