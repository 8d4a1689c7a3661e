// An HL7 v2 message (versions 2.1 to 2.8) split by the encoding characters it declares
// in MSH-1 and MSH-2: segments, fields, repetitions, components and sub-components.
// Values stay as sent until read; reading one unescapes it (\F\ \S\ \T\ \R\ \E\ \Xhh\,
// \.br\ as a line break) after it has been split, so an escaped delimiter never splits.
//
// Segment endings may be CR, LF or CRLF (mixed), blank lines are skipped, and the text
// is turned into UTF-8 from the character set MSH-18 declares: empty, ASCII, UNICODE,
// UNICODE UTF-8 (each must be valid UTF-8; ASCII must be 7-bit) or 8859/1 (Latin-1).
// Z-segments and segments this code does not know are kept like any other.
//
// A message is refused (never guessed at) when it does not start with MSH, when its
// encoding characters are unusable (fewer than four, repeated, alphanumeric, or the
// field separator), when MSH-9 has no message code or trigger event, when MSH-10 (the
// control id) is empty, or when its character set is unknown or its bytes do not match it.
#ifndef HIE_NODE_HL7_HL7_MESSAGE_H_
#define HIE_NODE_HL7_HL7_MESSAGE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hie::node::hl7 {

// Where a message is wrong, for the ERR segment of its acknowledgement.
struct Hl7Issue {
  // The segment id ("MSH", "PID") and its 1-based position among the segments with that
  // id; empty when the problem is the message as a whole.
  std::string segment;
  int segment_sequence = 1;
  int field = 0;      // 0: the segment as a whole
  int component = 0;  // 0: the field as a whole
  // HL7 table 0357: 100 segment sequence error, 101 required field missing, 102 data
  // type error, 103 table value not found, 200 unsupported message type, 201
  // unsupported event code, 203 unsupported version id, 207 application internal error.
  int code = 207;
  // True: the message is rejected as such (MSA AR); false: its content is in error (AE).
  bool reject = false;
  std::string reason;

  // "PID-7", "MSH-9.2", "MSH".
  std::string Location() const;
};

struct Hl7Delimiters {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
  char truncation = 0;  // v2.7's fifth encoding character, when declared
};

class Hl7Segment {
 public:
  Hl7Segment(std::string id, std::vector<std::string> fields)
      : id_(std::move(id)), fields_(std::move(fields)) {}

  const std::string& id() const { return id_; }
  // The raw text of field `n` (1-based), "" when absent. MSH-1 is the field separator
  // and MSH-2 the encoding characters, as HL7 numbers them.
  absl::string_view Field(int n) const;
  // The number of the last field present.
  int field_count() const { return static_cast<int>(fields_.size()) - 1; }

 private:
  std::string id_;
  std::vector<std::string> fields_;  // [0] is the id
};

// Immutable after Parse; thread-compatible.
class Hl7Message {
 public:
  // Parses one message. Errors: InvalidArgument with the reason; `issue` (if not null)
  // says where, and whether the message is rejected (AR) or in error (AE).
  static absl::StatusOr<Hl7Message> Parse(absl::string_view text, Hl7Issue* issue = nullptr);

  const Hl7Delimiters& delimiters() const { return delimiters_; }
  const std::vector<Hl7Segment>& segments() const { return segments_; }

  // The repetitions of a field, raw (one, possibly empty, when the field is not repeated).
  std::vector<absl::string_view> Repetitions(absl::string_view field) const;
  // Component `n` (1-based) of a raw field or repetition; sub-component `n` of a raw
  // component. "" when absent.
  absl::string_view Component(absl::string_view value, int n) const;
  absl::string_view Subcomponent(absl::string_view component, int n) const;
  // Escape sequences resolved; surrounding spaces trimmed.
  std::string Text(absl::string_view raw) const;

  // The unescaped value at field.component.subcomponent of the first repetition.
  std::string Value(const Hl7Segment& segment, int field, int component = 1,
                    int subcomponent = 1) const;

  // The header, unescaped.
  const Hl7Segment& header() const { return segments_.front(); }
  std::string MessageCode() const { return Value(header(), 9, 1); }      // "ADT"
  std::string TriggerEvent() const { return Value(header(), 9, 2); }     // "A01"
  std::string ControlId() const { return Value(header(), 10); }          // MSH-10
  std::string SendingApplication() const { return Value(header(), 3); }  // MSH-3.1
  std::string SendingFacility() const { return Value(header(), 4); }     // MSH-4.1
  std::string Version() const { return Value(header(), 12); }            // "2.5.1"

 private:
  Hl7Message() = default;
  Hl7Delimiters delimiters_;
  std::vector<Hl7Segment> segments_;
};

// Splits a file or stream holding several messages (no batch envelope needed; FHS, BHS,
// BTS and FTS lines are dropped) into one text per message, each starting at an MSH
// segment. Text before the first MSH is returned as a message of its own so that it is
// refused rather than lost.
std::vector<std::string> SplitMessages(absl::string_view text);

}  // namespace hie::node::hl7

#endif  // HIE_NODE_HL7_HL7_MESSAGE_H_
