// Loading of protobuf text-format configuration files (*.textproto).
//
// Every error names the file, the line and column, and the field:
//   node.textproto:7:3: field "server.tls.cert_fil": no such field in hie.v1.TlsConfig
//   node.textproto:12:19: field "server.max_message_bytes": must be in 1024..67108864
#ifndef HIE_COMMON_CONFIG_CONFIG_FILE_H_
#define HIE_COMMON_CONFIG_CONFIG_FILE_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace hie {

// A parsed configuration file and where each field was written in it, so that checks
// made after parsing can point at the offending line. Thread-compatible.
class ConfigFile {
 public:
  // Reads `path` and parses it into `message` (which must outlive nothing: it is not
  // retained). Errors: NotFound / PermissionDenied if the file cannot be read;
  // InvalidArgument "path:line:col: ..." for a syntax error, an unknown field or enum
  // value, or a value of the wrong type.
  static absl::StatusOr<ConfigFile> Load(const std::string& path,
                                         google::protobuf::Message* message);

  // Parses `text` as if read from a file named `path` (used by tests and --check).
  static absl::StatusOr<ConfigFile> Parse(const std::string& path, absl::string_view text,
                                          google::protobuf::Message* message);

  ConfigFile(ConfigFile&&) = default;
  ConfigFile& operator=(ConfigFile&&) = default;

  // InvalidArgument "path:line:col: field \"a.b.c\": what". `field_path` is dotted
  // field names from the root message, with "[i]" for an element of a repeated field
  // ("holders[2].address"). A field not written in the file is reported without a line.
  absl::Status FieldError(absl::string_view field_path, absl::string_view what) const;

  // `path` made absolute against the directory holding the config file; absolute
  // paths and "" are returned unchanged.
  std::string ResolvePath(absl::string_view path) const;

  const std::string& path() const { return path_; }

 private:
  ConfigFile(std::string path, const google::protobuf::Descriptor* root,
             std::unique_ptr<google::protobuf::TextFormat::ParseInfoTree> tree)
      : path_(std::move(path)), root_(root), tree_(std::move(tree)) {}

  std::string path_;
  const google::protobuf::Descriptor* root_;
  std::unique_ptr<google::protobuf::TextFormat::ParseInfoTree> tree_;
};

}  // namespace hie

#endif  // HIE_COMMON_CONFIG_CONFIG_FILE_H_
