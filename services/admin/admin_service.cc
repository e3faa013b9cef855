#include "services/admin/admin_service.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocksdb/env.h"
#include "rocksdb/utilities/backup_engine.h"
#include "services/common/grpc_status.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"

namespace frontdoor::admin {

absl::StatusOr<v1::BackupResponse> DescribeLatestBackup(
    const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("no backup in ", dir));
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(dir), &raw);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot read the backups in ", dir, ": ", s.ToString()));
  }
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  const rocksdb::BackupInfo* latest = nullptr;
  for (const rocksdb::BackupInfo& info : infos) {
    if (latest == nullptr || info.backup_id > latest->backup_id) latest = &info;
  }
  if (latest == nullptr) {
    return absl::NotFoundError(absl::StrCat("no backup in ", dir));
  }
  v1::BackupResponse response;
  response.set_dir(dir);
  response.set_backup_id(latest->backup_id);
  response.set_bytes(static_cast<int64_t>(latest->size));
  return response;
}

absl::StatusOr<v1::BackupResponse> BackupStore(storage::ReferralStore* store,
                                               const std::string& dir) {
  FRONTDOOR_RETURN_IF_ERROR(store->Backup(dir));
  // Backups are serialised by the store, so unless another one finished in
  // between, the newest backup is this one.
  return DescribeLatestBackup(dir);
}

AdminServiceImpl::AdminServiceImpl(storage::ReferralStore* store,
                                   const auth::Authorizer* authorizer)
    : store_(store), authorizer_(authorizer) {}

AdminServiceImpl::~AdminServiceImpl() {
  std::list<Job> jobs;
  {
    absl::MutexLock lock(&mu_);
    jobs.swap(jobs_);
  }
  for (Job& job : jobs) job.thread.join();
}

void AdminServiceImpl::ReapLocked() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->done) {
      it->thread.join();  // it has nothing left to do but return
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

grpc::ServerUnaryReactor* AdminServiceImpl::Backup(
    grpc::CallbackServerContext* ctx, const v1::BackupRequest* request,
    v1::BackupResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!auth::AdmitUnary(*authorizer_, ctx, reactor,
                        "/frontdoor.v1.AdminService/Backup")) {
    return reactor;
  }
  const std::string dir = request->dir();
  if (dir.empty()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "dir: is required"));
    return reactor;
  }
  if (dir[0] != '/') {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("dir: '", dir,
                     "' is not an absolute path (the server's working "
                     "directory is not the caller's)")));
    return reactor;
  }
  if (dir.find('\0') != std::string::npos) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "dir: contains a NUL character"));
    return reactor;
  }
  absl::MutexLock lock(&mu_);
  ReapLocked();
  Job& job = jobs_.emplace_back();
  Job* job_ptr = &job;  // std::list: stable until erased by ReapLocked
  job.thread = std::thread([this, job_ptr, reactor, response, dir] {
    log::Info("backup started", {{"dir", dir}});
    absl::StatusOr<v1::BackupResponse> result = BackupStore(store_, dir);
    if (result.ok()) {
      log::Info("backup done", {{"dir", dir},
                                {"backup_id", result->backup_id()},
                                {"bytes", result->bytes()}});
      *response = *std::move(result);
      reactor->Finish(grpc::Status::OK);
    } else {
      log::Error("backup failed", {{"dir", dir}, {"error", result.status()}});
      reactor->Finish(ToGrpcStatus(result.status()));
    }
    absl::MutexLock done_lock(&mu_);
    job_ptr->done = true;
  });
  return reactor;
}

}  // namespace frontdoor::admin
