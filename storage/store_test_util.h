// Helpers for tests and benchmarks of the referral store: temporary
// directories and records. Test code only.

#ifndef FRONTDOOR_STORAGE_STORE_TEST_UTIL_H_
#define FRONTDOOR_STORAGE_STORE_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "services/common/proto_time.h"
#include "services/common/temp_dir.h"
#include "absl/time/time.h"
#include "frontdoor/v1/referral_service.pb.h"
#include "storage/referral_store.h"

namespace frontdoor::storage::testing {

// A fresh directory, removed with its contents on destruction.
class TempDir : public frontdoor::testing::TempDir {
 public:
  TempDir() : frontdoor::testing::TempDir("frontdoor_store") {}
};

inline google::protobuf::Timestamp ToProto(absl::Time t) { return ToProtoTime(t); }

struct RecordSpec {
  std::string id;
  v1::ReferralStatus status = v1::REFERRAL_STATUS_TRIAGED;
  v1::Pathway pathway = v1::PATHWAY_UCR;
  std::string service_id;
  std::string nhs_number;
  absl::Time received = absl::FromUnixSeconds(1700000000);
  std::optional<absl::Time> due;
  std::optional<absl::Time> next_sla_check;
  int64_t version = 1;
};

// A record with a realistic amount of text (about 400 bytes serialized).
inline v1::ReferralRecord MakeRecord(const RecordSpec& spec) {
  v1::ReferralRecord r;
  r.set_id(spec.id);
  r.set_status(spec.status);
  r.set_pathway(spec.pathway);
  r.set_urgency(v1::URGENCY_WITHIN_2H);
  r.mutable_service()->set_service_id(spec.service_id);
  r.mutable_service()->set_service_name(
      spec.service_id.empty() ? "" : "Service " + spec.service_id);
  *r.mutable_received_at() = ToProto(spec.received);
  *r.mutable_updated_at() = ToProto(spec.received);
  if (spec.due) *r.mutable_due_at() = ToProto(*spec.due);
  if (spec.next_sla_check)
    *r.mutable_next_sla_check() = ToProto(*spec.next_sla_check);
  r.set_version(spec.version);
  r.set_request_id("req-" + spec.id);
  r.set_submitted_by("gp.surgery@example.nhs.uk");
  v1::Referral* ref = r.mutable_referral();
  ref->mutable_patient()->set_nhs_number(spec.nhs_number);
  ref->mutable_patient()->set_postcode_district("LS1");
  ref->mutable_patient()->set_contact_phone("0113 496 0000");
  ref->set_free_text(
      "Fall at home this morning, unable to get up for two hours, now "
      "mobilising with frame. "
      "Lives alone, carer visits twice daily. New confusion per daughter. No "
      "head injury. "
      "Please assess for urgent community response today.");
  *ref->mutable_received_at() = ToProto(spec.received);
  return r;
}

// Commits `record` (and nothing else) and waits.
inline absl::Status PutRecord(ReferralStore& store,
                              const v1::ReferralRecord& record) {
  return store.CommitAndWait([record](Txn& txn) {
    txn.PutReferral(record);
    return absl::OkStatus();
  });
}

}  // namespace frontdoor::storage::testing

#endif  // FRONTDOOR_STORAGE_STORE_TEST_UTIL_H_
