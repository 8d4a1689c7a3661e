// absl::Time and google.protobuf.Timestamp, one conversion each way (nanosecond exact).
#ifndef HIE_COMMON_TIME_PROTO_TIME_H_
#define HIE_COMMON_TIME_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace hie {

inline google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

inline absl::Time FromProtoTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(t));
}

}  // namespace hie

#endif  // HIE_COMMON_TIME_PROTO_TIME_H_
