#include "cli/rpc_command.h"

#include "google/protobuf/util/json_util.h"

namespace hie::cli {

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

int FailRpc(const grpc::Status& status, const std::string& target) {
  absl::Status s = FromGrpcStatus(status);
  return Fail(absl::Status(s.code(), absl::StrCat(target, ": ", s.message())));
}

}  // namespace hie::cli
