#include "node/hl7/hl7_message.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hie::node::hl7 {
namespace {

// The length of the valid UTF-8 sequence at `s[i]`, or 0.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// The first invalid byte's offset, or npos.
size_t FirstInvalidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return i;
    i += n;
  }
  return absl::string_view::npos;
}

// Invalid sequences replaced by U+FFFD.
std::string SanitizeUtf8(std::string s) {
  if (FirstInvalidUtf8(s) == absl::string_view::npos) return s;
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

std::string Latin1ToUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(static_cast<unsigned char>(c));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool IsSegmentId(absl::string_view id) {
  if (id.size() != 3 || !absl::ascii_isupper(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id) {
    if (!absl::ascii_isupper(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// Lines of text, split at CR, LF or CRLF; blank lines dropped.
std::vector<absl::string_view> Lines(absl::string_view text) {
  std::vector<absl::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\r' || text[i] == '\n') {
      absl::string_view line = text.substr(start, i - start);
      if (!absl::StripAsciiWhitespace(line).empty()) lines.push_back(line);
      start = i + 1;
    }
  }
  return lines;
}

absl::Status Refuse(Hl7Issue* out, Hl7Issue issue) {
  std::string reason = issue.reason;
  if (out != nullptr) *out = std::move(issue);
  return absl::InvalidArgumentError(reason);
}

}  // namespace

std::string Hl7Issue::Location() const {
  if (segment.empty()) return "message";
  std::string out = segment;
  if (field > 0) absl::StrAppend(&out, "-", field);
  if (field > 0 && component > 0) absl::StrAppend(&out, ".", component);
  return out;
}

absl::string_view Hl7Segment::Field(int n) const {
  if (n < 1 || n >= static_cast<int>(fields_.size())) return "";
  return fields_[n];
}

absl::StatusOr<Hl7Message> Hl7Message::Parse(absl::string_view text, Hl7Issue* issue) {
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<absl::string_view> lines = Lines(text);
  auto reject = [&](std::string segment, int field, int code, std::string reason) {
    Hl7Issue i;
    i.segment = std::move(segment);
    i.field = field;
    i.code = code;
    i.reject = true;
    i.reason = std::move(reason);
    return Refuse(issue, std::move(i));
  };
  if (lines.empty()) return reject("", 0, 100, "the message is empty: it must start with MSH");
  absl::string_view first = lines.front();
  if (!absl::StartsWith(first, "MSH")) {
    return reject("", 0, 100,
                  absl::StrCat("the message does not start with an MSH segment (it starts with \"",
                               first.substr(0, 3), "\")"));
  }
  if (first.size() < 8) {
    return reject("MSH", 2, 101, "MSH is too short to declare its encoding characters");
  }
  Hl7Message message;
  Hl7Delimiters& d = message.delimiters_;
  d.field = first[3];
  absl::string_view encoding = first.substr(4);
  encoding = encoding.substr(0, encoding.find(d.field));
  auto usable = [](char c) {
    return !absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != ' ' && c != '\r' &&
           c != '\n' && c != '\t';
  };
  bool bad = encoding.size() < 4 || encoding.size() > 5 || !usable(d.field);
  for (size_t i = 0; !bad && i < encoding.size(); ++i) {
    bad = !usable(encoding[i]) || encoding[i] == d.field || encoding.find(encoding[i]) != i;
  }
  if (bad) {
    return reject("MSH", 2, 102,
                  absl::StrCat("MSH-2 encoding characters \"", encoding,
                               "\" are unusable: the field separator and four (or five) "
                               "encoding characters must be distinct and not alphanumeric"));
  }
  d.component = encoding[0];
  d.repetition = encoding[1];
  d.escape = encoding[2];
  d.subcomponent = encoding[3];
  if (encoding.size() == 5) d.truncation = encoding[4];

  // The character set, from MSH-18 of the raw header (its name is plain ASCII).
  std::vector<absl::string_view> header = absl::StrSplit(first, d.field);
  absl::string_view charset = header.size() > 17 ? header[17] : "";
  charset = absl::StripAsciiWhitespace(charset.substr(0, charset.find(d.repetition)));
  charset = charset.substr(0, charset.find(d.component));
  std::string decoded;
  if (charset == "8859/1") {
    decoded = Latin1ToUtf8(text);
  } else if (charset.empty() || charset == "ASCII" || charset == "UNICODE" ||
             charset == "UNICODE UTF-8") {
    size_t bad_byte = FirstInvalidUtf8(text);
    if (charset == "ASCII" && bad_byte == absl::string_view::npos) {
      bad_byte = std::find_if(text.begin(), text.end(),
                              [](char c) { return static_cast<unsigned char>(c) >= 0x80; }) -
                 text.begin();
      if (bad_byte == text.size()) bad_byte = absl::string_view::npos;
    }
    if (bad_byte != absl::string_view::npos) {
      return reject("MSH", 18, 102,
                    absl::StrCat("byte ", bad_byte, " (0x",
                                 absl::Hex(static_cast<unsigned char>(text[bad_byte])), ") is not ",
                                 charset.empty() ? "UTF-8" : std::string(charset),
                                 ": declare the character set in MSH-18 (8859/1 for Latin-1)"));
    }
    decoded = std::string(text);
  } else {
    return reject("MSH", 18, 103,
                  absl::StrCat("character set \"", charset,
                               "\" is not supported (ASCII, 8859/1, UNICODE UTF-8 are)"));
  }

  lines = Lines(decoded);
  for (size_t n = 0; n < lines.size(); ++n) {
    absl::string_view line = lines[n];
    absl::string_view id = line.substr(0, line.find(d.field));
    id = absl::StripTrailingAsciiWhitespace(id);
    if (!IsSegmentId(id)) {
      return reject("", 0, 100,
                    absl::StrCat("line ", n + 1, " is not a segment (it starts with \"",
                                 line.substr(0, 12), "\")"));
    }
    if (n > 0 && id == "MSH") {
      return reject("MSH", 0, 100,
                    "a second MSH segment: send one message per MLLP frame (or split the batch)");
    }
    std::vector<std::string> fields;
    if (n == 0) {
      std::vector<absl::string_view> parts = absl::StrSplit(line, d.field);
      fields.emplace_back("MSH");
      fields.emplace_back(1, d.field);
      for (size_t i = 1; i < parts.size(); ++i) fields.emplace_back(parts[i]);
    } else {
      fields = absl::StrSplit(line, d.field);
      fields[0] = std::string(id);
    }
    message.segments_.emplace_back(std::string(id), std::move(fields));
  }
  if (message.MessageCode().empty()) {
    return reject("MSH", 9, 101,
                  "MSH-9 (message type) is empty: the message cannot be interpreted");
  }
  if (message.TriggerEvent().empty() && message.MessageCode() != "ACK") {
    return reject("MSH", 9, 101,
                  absl::StrCat("MSH-9 names message type ", message.MessageCode(),
                               " without a trigger event (MSH-9.2)"));
  }
  if (message.ControlId().empty()) {
    return reject("MSH", 10, 101,
                  "MSH-10 (message control id) is empty: it is what makes a resend recognisable");
  }
  return message;
}

std::vector<absl::string_view> Hl7Message::Repetitions(absl::string_view field) const {
  return absl::StrSplit(field, delimiters_.repetition);
}

absl::string_view Hl7Message::Component(absl::string_view value, int n) const {
  for (int i = 1; i < n; ++i) {
    size_t at = value.find(delimiters_.component);
    if (at == absl::string_view::npos) return "";
    value.remove_prefix(at + 1);
  }
  return value.substr(0, value.find(delimiters_.component));
}

absl::string_view Hl7Message::Subcomponent(absl::string_view component, int n) const {
  for (int i = 1; i < n; ++i) {
    size_t at = component.find(delimiters_.subcomponent);
    if (at == absl::string_view::npos) return "";
    component.remove_prefix(at + 1);
  }
  return component.substr(0, component.find(delimiters_.subcomponent));
}

std::string Hl7Message::Text(absl::string_view raw) const {
  raw = absl::StripAsciiWhitespace(raw);
  const Hl7Delimiters& d = delimiters_;
  if (raw.find(d.escape) == absl::string_view::npos) return SanitizeUtf8(std::string(raw));
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    size_t end = raw[i] == d.escape ? raw.find(d.escape, i + 1) : absl::string_view::npos;
    if (end == absl::string_view::npos) {
      out.push_back(raw[i]);
      continue;
    }
    absl::string_view seq = raw.substr(i + 1, end - i - 1);
    if (seq == "F") {
      out.push_back(d.field);
    } else if (seq == "S") {
      out.push_back(d.component);
    } else if (seq == "T") {
      out.push_back(d.subcomponent);
    } else if (seq == "R") {
      out.push_back(d.repetition);
    } else if (seq == "E") {
      out.push_back(d.escape);
    } else if (seq == "P" && d.truncation != 0) {
      out.push_back(d.truncation);
    } else if (seq == ".br") {
      out.push_back('\n');
    } else if (!seq.empty() && seq[0] == 'X' && seq.size() % 2 == 1) {
      for (size_t k = 1; k + 1 < seq.size(); k += 2) {
        int hi = HexValue(seq[k]), lo = HexValue(seq[k + 1]);
        if (hi < 0 || lo < 0) break;
        out.push_back(static_cast<char>(hi * 16 + lo));
      }
    } else if (seq == "H" || seq == "N" ||
               (!seq.empty() &&
                (seq[0] == 'Z' || seq[0] == 'C' || seq[0] == 'M' || seq[0] == '.'))) {
      // Highlighting, local, character-set switching and other formatting: no text.
    } else {
      out.append(raw.data() + i, end - i + 1);  // not an escape we know: as sent
    }
    i = end;
  }
  return SanitizeUtf8(std::move(out));
}

std::string Hl7Message::Value(const Hl7Segment& segment, int field, int component,
                              int subcomponent) const {
  absl::string_view raw = segment.Field(field);
  if (segment.id() == "MSH" && field <= 2) return std::string(raw);
  raw = raw.substr(0, raw.find(delimiters_.repetition));
  return Text(Subcomponent(Component(raw, component), subcomponent));
}

std::vector<std::string> SplitMessages(absl::string_view text) {
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<std::string> messages;
  std::string current;
  for (absl::string_view line : Lines(text)) {
    absl::string_view id = line.substr(0, 3);
    if (id == "FHS" || id == "BHS" || id == "BTS" || id == "FTS") continue;
    if (id == "MSH" && !current.empty()) {
      messages.push_back(std::move(current));
      current.clear();
    }
    absl::StrAppend(&current, line, "\r");
  }
  if (!current.empty()) messages.push_back(std::move(current));
  return messages;
}

}  // namespace hie::node::hl7
