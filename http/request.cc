#include "http/request.h"

#include <atomic>

#include "absl/strings/match.h"
#include "common/log/log.h"
#include "http/status.h"

namespace hie::http {

const std::string* Request::Header(absl::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? nullptr : &it->second;
}

const std::string* Request::Query(absl::string_view name) const {
  for (const QueryParam& param : query) {
    if (param.name == name) return &param.value;
  }
  return nullptr;
}

Response& Response::SetHeader(absl::string_view name, absl::string_view value) {
  std::erase_if(headers,
                [&](const auto& header) { return absl::EqualsIgnoreCase(header.first, name); });
  headers.emplace_back(std::string(name), std::string(value));
  return *this;
}

const std::string* Response::FindHeader(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

// The one answer that every copy of a Responder shares.
class Responder::State {
 public:
  State(std::function<void(Response)> send, std::string log_context)
      : send_(std::move(send)), log_context_(std::move(log_context)) {}

  // The last copy is gone: a handler that never answered must not leave the client
  // waiting until its deadline.
  ~State() {
    if (answered_.load()) return;
    LogWarning(log_context_, ": the handler dropped the request without answering");
    Send(ErrorResponse(absl::InternalError("no answer")));
  }

  bool Send(Response response) {
    if (answered_.exchange(true)) return false;
    // Only the first caller gets here, so send_ is no longer shared.
    std::function<void(Response)> send = std::move(send_);
    send(std::move(response));
    return true;
  }

  bool answered() const { return answered_.load(); }
  const std::string& log_context() const { return log_context_; }

 private:
  std::atomic<bool> answered_{false};
  std::function<void(Response)> send_;
  const std::string log_context_;
};

Responder::Responder(std::function<void(Response)> send, std::string log_context)
    : state_(std::make_shared<State>(std::move(send), std::move(log_context))) {}

bool Responder::Respond(Response response) const { return state_->Send(std::move(response)); }

bool Responder::RespondError(const absl::Status& status) const {
  if (!state_->Send(ErrorResponse(status))) return false;
  if (HttpStatusFor(status.code()) >= 500) {
    LogWarning(state_->log_context(), ": ", status.ToString());
  }
  return true;
}

bool Responder::answered() const { return state_->answered(); }

}  // namespace hie::http
