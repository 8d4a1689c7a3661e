#include "common/config/config_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/tokenizer.h"

namespace hie {
namespace {

namespace pb = google::protobuf;

// Collects the first error the parser reports, with its position.
class FirstErrorCollector : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (!has_error_) {
      has_error_ = true;
      line_ = line;
      column_ = column;
      message_ = message;
    }
  }
  void AddWarning(int, pb::io::ColumnNumber, const std::string&) override {}

  bool has_error() const { return has_error_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& message() const { return message_; }

 private:
  bool has_error_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

}  // namespace

absl::StatusOr<ConfigFile> ConfigFile::Load(const std::string& path, pb::Message* message) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string why = std::strerror(err);
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": ", why));
    if (err == EACCES) return absl::PermissionDeniedError(absl::StrCat(path, ": ", why));
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read: ", why));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return Parse(path, buffer.str(), message);
}

absl::StatusOr<ConfigFile> ConfigFile::Parse(const std::string& path, absl::string_view text,
                                             pb::Message* message) {
  auto tree = std::make_unique<pb::TextFormat::ParseInfoTree>();
  FirstErrorCollector errors;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(tree.get());
  parser.AllowPartialMessage(false);
  if (!parser.ParseFromString(std::string(text), message) || errors.has_error()) {
    // The tokenizer counts lines and columns from 0. Its value errors ("Expected
    // integer") do not say which field; the name before the colon on that line does.
    std::string field;
    std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
    if (errors.line() >= 0 && static_cast<size_t>(errors.line()) < lines.size()) {
      absl::string_view line = absl::StripLeadingAsciiWhitespace(lines[errors.line()]);
      size_t end = 0;
      while (end < line.size() && (absl::ascii_isalnum(line[end]) || line[end] == '_')) ++end;
      absl::string_view rest = absl::StripLeadingAsciiWhitespace(line.substr(end));
      if (end > 0 && !rest.empty() && rest.front() == ':' &&
          errors.message().find(std::string(line.substr(0, end))) == std::string::npos) {
        field = absl::StrCat("field \"", line.substr(0, end), "\": ");
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        path, ":", errors.line() + 1, ":", errors.column() + 1, ": ", field, errors.message()));
  }
  return ConfigFile(path, message->GetDescriptor(), std::move(tree));
}

absl::Status ConfigFile::FieldError(absl::string_view field_path, absl::string_view what) const {
  // Walk the dotted path through the parse tree to find where the field was written.
  const pb::Descriptor* descriptor = root_;
  const pb::TextFormat::ParseInfoTree* tree = tree_.get();
  pb::TextFormat::ParseLocation location(-1, -1);
  std::vector<absl::string_view> parts = absl::StrSplit(field_path, '.');
  for (size_t i = 0; i < parts.size() && descriptor != nullptr && tree != nullptr; ++i) {
    absl::string_view part = parts[i];
    int index = -1;
    if (size_t bracket = part.find('['); bracket != absl::string_view::npos) {
      absl::string_view number = part.substr(bracket + 1);
      number = number.substr(0, number.find(']'));
      if (!absl::SimpleAtoi(number, &index)) index = -1;
      part = part.substr(0, bracket);
    }
    const pb::FieldDescriptor* field = descriptor->FindFieldByName(std::string(part));
    if (field == nullptr) break;
    int at = field->is_repeated() ? (index < 0 ? 0 : index) : -1;
    location = tree->GetLocation(field, at);
    if (i + 1 < parts.size()) {
      if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) break;
      tree = tree->GetTreeForNested(field, at);
      descriptor = field->message_type();
    }
  }
  if (location.line < 0) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": field \"", field_path, "\": ", what));
  }
  return absl::InvalidArgumentError(absl::StrCat(path_, ":", location.line + 1, ":",
                                                 location.column + 1, ": field \"", field_path,
                                                 "\": ", what));
}

std::string ConfigFile::ResolvePath(absl::string_view path) const {
  if (path.empty() || path.front() == '/') return std::string(path);
  std::filesystem::path base = std::filesystem::path(path_).parent_path();
  if (base.empty()) base = std::filesystem::current_path();
  return std::filesystem::absolute(base / std::string(path)).lexically_normal().string();
}

}  // namespace hie
