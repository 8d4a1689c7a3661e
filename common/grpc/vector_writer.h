// A server-streaming reactor that writes a list of messages computed up front, one
// after another, then finishes: for answers that are read in one go from the store
// but may be too long for one message.
#ifndef HIE_COMMON_GRPC_VECTOR_WRITER_H_
#define HIE_COMMON_GRPC_VECTOR_WRITER_H_

#include <utility>
#include <vector>

#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"

namespace hie {

template <typename Message>
class VectorWriter final : public grpc::ServerWriteReactor<Message> {
 public:
  // Starts writing at once; finishes with OK after the last message.
  explicit VectorWriter(std::vector<Message> messages) : messages_(std::move(messages)) { Next(); }
  // Finishes at once with `status`.
  explicit VectorWriter(const grpc::Status& status) { this->Finish(status); }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ == messages_.size()) {
      this->Finish(grpc::Status::OK);
      return;
    }
    this->StartWrite(&messages_[next_++]);
  }

  std::vector<Message> messages_;
  size_t next_ = 0;
};

}  // namespace hie

#endif  // HIE_COMMON_GRPC_VECTOR_WRITER_H_
