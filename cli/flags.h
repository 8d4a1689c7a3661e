// A small command-line parser for hiectl's subcommands: "--name value", "--name=value",
// boolean "--name", repeatable options, positional arguments, options in any order.
#ifndef HIE_CLI_FLAGS_H_
#define HIE_CLI_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace hie::cli {

// Thread-compatible. Destinations must outlive Parse().
class FlagSet {
 public:
  // `usage` e.g. "hiectl ca issue --dir D --org ORG --name NAME --out PREFIX".
  FlagSet(std::string usage, std::string description, std::string example);

  void String(std::string name, std::string* out, std::string value_name, std::string help);
  void Strings(std::string name, std::vector<std::string>* out, std::string value_name,
               std::string help);
  void Int(std::string name, int* out, std::string value_name, std::string help);
  void Bool(std::string name, bool* out, std::string help);

  // Parses `args`. Non-option words go to `positional` (an error if it is null).
  // "--help"/"-h" sets help_requested() and stops. Errors: InvalidArgument naming the
  // option (unknown, missing value, not a number, unexpected argument).
  absl::Status Parse(const std::vector<std::string>& args, std::vector<std::string>* positional);

  bool help_requested() const { return help_requested_; }
  // True if the option was given on the command line.
  bool WasSet(const std::string& name) const;
  std::string Help() const;

 private:
  enum class Kind { kString, kStrings, kInt, kBool };
  struct Flag {
    std::string name;
    Kind kind;
    void* out;
    std::string value_name;
    std::string help;
    bool set = false;
  };
  Flag* Find(const std::string& name);

  std::string usage_;
  std::string description_;
  std::string example_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

}  // namespace hie::cli

#endif  // HIE_CLI_FLAGS_H_
