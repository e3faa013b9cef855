#ifndef FRONTDOOR_SERVICES_ADMIN_ADMIN_SERVICE_H_
#define FRONTDOOR_SERVICES_ADMIN_ADMIN_SERVICE_H_

#include <list>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "frontdoor/v1/admin_service.grpc.pb.h"
#include "services/auth/authorizer.h"
#include "storage/referral_store.h"

namespace frontdoor::admin {

// Takes a backup of `store` into `dir` (store->Backup) and describes it:
// the directory, the id of the newest backup there and its size. Blocking
// (flush plus file copies): never call it on a gRPC callback thread.
absl::StatusOr<v1::BackupResponse> BackupStore(storage::ReferralStore* store,
                                               const std::string& dir);

// The newest backup in `dir` (backup_id and bytes; dir as given), or
// NOT_FOUND when `dir` holds no backup.
absl::StatusOr<v1::BackupResponse> DescribeLatestBackup(const std::string& dir);

// AdminService on the gRPC callback API.
//
// Backup validates the request on the callback thread (dir: required, an
// absolute path; INVALID_ARGUMENT otherwise) and runs the backup on a
// thread of its own (backups are rare and slow: a flush and file copies),
// finishing the call from there. Backups of one store are serialised by the
// store.
//
// Callers need the admin role (services/auth/permissions.cc).
//
// Thread-safe. `store` and `authorizer` must outlive the service; the destructor waits for
// backups still running.
class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  AdminServiceImpl(storage::ReferralStore* store,
                   const auth::Authorizer* authorizer);
  ~AdminServiceImpl() override;

  AdminServiceImpl(const AdminServiceImpl&) = delete;
  AdminServiceImpl& operator=(const AdminServiceImpl&) = delete;

  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* ctx,
                                   const v1::BackupRequest* request,
                                   v1::BackupResponse* response) override;

 private:
  struct Job {
    std::thread thread;
    bool done = false;
  };

  // Joins the threads of finished backups.
  void ReapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::ReferralStore* const store_;
  const auth::Authorizer* const authorizer_;
  absl::Mutex mu_;
  std::list<Job> jobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace frontdoor::admin

#endif  // FRONTDOOR_SERVICES_ADMIN_ADMIN_SERVICE_H_
