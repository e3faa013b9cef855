#ifndef FRONTDOOR_SERVICES_COMMON_ARENA_ALLOCATOR_H_
#define FRONTDOOR_SERVICES_COMMON_ARENA_ALLOCATOR_H_

#include "google/protobuf/arena.h"
#include "grpcpp/support/message_allocator.h"

namespace frontdoor {

// Puts each call's request and response of a callback-API unary method on
// one protobuf arena, freed in one go when gRPC releases the call. For
// methods whose messages are large trees: a SubmitReferral response holds
// the whole record, whose decision has a message for every rule row that
// fired, and allocating and destroying them one by one was about 3% of the
// server's CPU a submission.
//
// Install with the generated service's SetMessageAllocatorFor_<Method>().
// The allocator must outlive the service; it keeps no state and may be
// used from any thread. Messages on an arena are copied, not moved, into
// messages elsewhere, so handlers need not care where they live.
template <typename Request, typename Response>
class ArenaMessageAllocator final
    : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    return new Holder();
  }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() {
      this->set_request(
          google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(
          google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    google::protobuf::Arena arena_;
  };
};

}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_COMMON_ARENA_ALLOCATOR_H_
