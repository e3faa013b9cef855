#include "storage/fault_injection_fs.h"

#include <utility>

namespace frontdoor::storage {
namespace {

rocksdb::IOStatus Injected(const char* what) {
  return rocksdb::IOStatus::IOError(what, "injected fault");
}

class FaultInjectionWritableFile final
    : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultInjectionWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file,
                             FaultInjectionFileSystem* fs)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (fs_->ShouldFailAppend()) return Injected("append");
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (fs_->ShouldFailAppend()) return Injected("append");
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                         rocksdb::IODebugContext* dbg) override {
    fs_->WaitWhileHeld();
    if (fs_->ShouldFailSync()) return Injected("sync");
    fs_->CountSync();
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    fs_->WaitWhileHeld();
    if (fs_->ShouldFailSync()) return Injected("fsync");
    fs_->CountSync();
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes,
                              const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    if (fs_->ShouldFailSync()) return Injected("range sync");
    return FSWritableFileOwnerWrapper::RangeSync(offset, nbytes, options, dbg);
  }

 private:
  FaultInjectionFileSystem* const fs_;
};

}  // namespace

FaultInjectionFileSystem::FaultInjectionFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base)
    : FileSystemWrapper(std::move(base)) {}

void FaultInjectionFileSystem::Wrap(
    std::unique_ptr<rocksdb::FSWritableFile>* file) {
  *file = std::make_unique<FaultInjectionWritableFile>(std::move(*file), this);
}

rocksdb::IOStatus FaultInjectionFileSystem::NewWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->NewWritableFile(fname, options, result, dbg);
  if (s.ok()) Wrap(result);
  return s;
}

rocksdb::IOStatus FaultInjectionFileSystem::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s =
      target()->ReopenWritableFile(fname, options, result, dbg);
  if (s.ok()) Wrap(result);
  return s;
}

rocksdb::IOStatus FaultInjectionFileSystem::ReuseWritableFile(
    const std::string& fname, const std::string& old_fname,
    const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result,
    rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s =
      target()->ReuseWritableFile(fname, old_fname, options, result, dbg);
  if (s.ok()) Wrap(result);
  return s;
}

std::unique_ptr<rocksdb::Env> NewFaultInjectionEnv(
    std::shared_ptr<FaultInjectionFileSystem> fs) {
  return rocksdb::NewCompositeEnv(std::move(fs));
}

}  // namespace frontdoor::storage
