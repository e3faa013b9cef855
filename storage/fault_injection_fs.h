// A rocksdb::FileSystem wrapper for tests that makes writes to files fail on
// demand, as a disk that returns EIO would. RocksDB's own
// FaultInjectionTestFS is internal (Debian does not install it).

#ifndef FRONTDOOR_STORAGE_FAULT_INJECTION_FS_H_
#define FRONTDOOR_STORAGE_FAULT_INJECTION_FS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace frontdoor::storage {

// Thread-safe. While failing (SetFailSyncs(true)), Sync/Fsync/RangeSync of
// every writable file opened through it return an IOError; with
// SetFailAppends(true), Append does too. While held (HoldSyncs(true)),
// Sync/Fsync wait until released, as on a very slow disk. Files opened
// before arming are affected as well.
class FaultInjectionFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultInjectionFileSystem(std::shared_ptr<rocksdb::FileSystem> base =
                                        rocksdb::FileSystem::Default());

  const char* Name() const override {
    return "FrontdoorFaultInjectionFileSystem";
  }

  void SetFailSyncs(bool fail) { fail_syncs_.store(fail); }
  void SetFailAppends(bool fail) { fail_appends_.store(fail); }
  void HoldSyncs(bool hold) {
    absl::MutexLock lock(&hold_mu_);
    hold_ = hold;
  }
  // Sync/Fsync calls waiting in HoldSyncs(true) now.
  int held() {
    absl::MutexLock lock(&hold_mu_);
    return held_;
  }
  // Number of operations failed so far.
  int injected() const { return injected_.load(); }
  // Number of Sync/Fsync calls that reached the base file system (for
  // benchmarks: fsyncs per acknowledged record).
  int64_t syncs() const { return syncs_.load(); }

  rocksdb::IOStatus NewWritableFile(
      const std::string& fname, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(
      const std::string& fname, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(
      const std::string& fname, const std::string& old_fname,
      const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;

  // Internal: consulted by the wrapped files.
  bool ShouldFailSync() { return Inject(fail_syncs_.load()); }
  bool ShouldFailAppend() { return Inject(fail_appends_.load()); }
  void CountSync() { syncs_.fetch_add(1, std::memory_order_relaxed); }
  void WaitWhileHeld() {
    absl::MutexLock lock(&hold_mu_);
    ++held_;
    hold_mu_.Await(absl::Condition(
        +[](bool* hold) { return !*hold; }, &hold_));
    --held_;
  }

 private:
  bool Inject(bool fail) {
    if (fail) injected_.fetch_add(1);
    return fail;
  }
  void Wrap(std::unique_ptr<rocksdb::FSWritableFile>* file);

  std::atomic<bool> fail_syncs_{false};
  std::atomic<bool> fail_appends_{false};
  std::atomic<int> injected_{0};
  std::atomic<int64_t> syncs_{0};
  absl::Mutex hold_mu_;
  bool hold_ ABSL_GUARDED_BY(hold_mu_) = false;
  int held_ ABSL_GUARDED_BY(hold_mu_) = 0;
};

// An Env whose files go through `fs` (which must outlive it).
std::unique_ptr<rocksdb::Env> NewFaultInjectionEnv(
    std::shared_ptr<FaultInjectionFileSystem> fs);

}  // namespace frontdoor::storage

#endif  // FRONTDOOR_STORAGE_FAULT_INJECTION_FS_H_
