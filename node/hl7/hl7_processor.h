// One HL7 v2 message in, its acknowledgement out: parse, convert to FHIR, and store
// through the node's FHIR ingest, record store and MPI outbox, exactly as a FHIR import
// is stored. The ACK is built only after the effects are durable.
//
// Acknowledgements (original mode): AA when the message was applied (or had been
// already); AR when it is refused as a message (no MSH, unusable delimiters, no message
// type, no control id, unsupported type or event, unknown character set) or when the
// node could not store it (then resending later may succeed); AE when its content is in
// error (a required segment or field missing, a value FHIR ingest refuses). AE and AR
// carry an ERR segment naming segment, field, HL7 error code (table 0357) and reason.
// A refused message changes nothing.
//
// Resends: a message with the same MSH-3, MSH-4 and MSH-10 as one already applied is
// acknowledged AA again without being applied twice. The control id is written in the
// same synced batch as the records, so a crash leaves either both or neither.
//
// Merges (ADT^A40, A34): the retired patient's records move to the survivor (a new
// version of each, naming the survivor), the retired Patient becomes inactive with a
// link to the survivor, later messages naming the retired id apply to the survivor, and
// the MPI is told to drop the retired registration while the survivor's changed
// Patient is registered again, both through the outbox; all in the same batch.
//
// Keys: ("hl7", "seen", MSH-3, MSH-4, MSH-10)   -> "AA"
//       ("hl7", "merged", retired patient id)    -> survivor patient id
#ifndef HIE_NODE_HL7_HL7_PROCESSOR_H_
#define HIE_NODE_HL7_HL7_PROCESSOR_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "node/domain/fhir_ingest.h"
#include "node/domain/outbox.h"
#include "node/domain/record_store.h"
#include "node/hl7/hl7_message.h"
#include "proto/hie/v1/mpi.pb.h"

namespace hie::node::hl7 {

struct Hl7ProcessorOptions {
  // MSH-3 / MSH-4 of the ACKs when the message names no receiver (MSH-5 / MSH-6).
  std::string application = "HIE";
  std::string facility;
};

struct Hl7Outcome {
  std::string ack;       // the ACK message, segments ended by CR, not framed
  std::string ack_code;  // "AA", "AE" or "AR"
  std::string control_id;
  std::string reason;  // why, for AE and AR (or what was left out, for AA)
  bool duplicate = false;
  // Records created or changed, and whether work for the MPI was staged.
  int64_t records_changed = 0;
  bool mpi_work_staged = false;
};

// Thread-safe; messages are applied one at a time.
class Hl7Processor {
 public:
  // All must outlive the processor; `outbox` may be null (no MPI).
  Hl7Processor(const FhirIngester* ingester, RecordStore* records, store::KvStore* store,
               Outbox* outbox, Clock* clock, Hl7ProcessorOptions options)
      : ingester_(ingester),
        records_(records),
        store_(store),
        outbox_(outbox),
        clock_(clock),
        options_(std::move(options)) {}

  Hl7Outcome Process(absl::string_view message);

  // The survivor of `patient_id` after the merges applied so far, or "" if it was never
  // retired.
  std::string SurvivorOf(const std::string& patient_id) const;

 private:
  const FhirIngester* ingester_;
  RecordStore* records_;
  store::KvStore* store_;
  Outbox* outbox_;
  Clock* clock_;
  const Hl7ProcessorOptions options_;
  absl::Mutex mu_;
};

// An acknowledgement for `message` (parsed, or null when it could not be), in the
// message's own delimiters: MSA with `code`, then one ERR per issue (severity E for AE and
// AR, W for AA); MSA-3 repeats the first issue's reason.
std::string BuildAck(const Hl7Message* message, const std::string& code,
                     const std::vector<Hl7Issue>& issues, absl::Time now,
                     const Hl7ProcessorOptions& options);

}  // namespace hie::node::hl7

#endif  // HIE_NODE_HL7_HL7_PROCESSOR_H_
