#include "cli/flags.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace hie::cli {

FlagSet::FlagSet(std::string usage, std::string description, std::string example)
    : usage_(std::move(usage)),
      description_(std::move(description)),
      example_(std::move(example)) {}

void FlagSet::String(std::string name, std::string* out, std::string value_name, std::string help) {
  flags_.push_back({std::move(name), Kind::kString, out, std::move(value_name), std::move(help)});
}
void FlagSet::Strings(std::string name, std::vector<std::string>* out, std::string value_name,
                      std::string help) {
  flags_.push_back({std::move(name), Kind::kStrings, out, std::move(value_name), std::move(help)});
}
void FlagSet::Int(std::string name, int* out, std::string value_name, std::string help) {
  flags_.push_back({std::move(name), Kind::kInt, out, std::move(value_name), std::move(help)});
}
void FlagSet::Bool(std::string name, bool* out, std::string help) {
  flags_.push_back({std::move(name), Kind::kBool, out, "", std::move(help)});
}

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

bool FlagSet::WasSet(const std::string& name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return flag.set;
  }
  return false;
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args,
                            std::vector<std::string>* positional) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      return absl::OkStatus();
    }
    if (arg == "--") {
      for (++i; i < args.size(); ++i) {
        if (positional == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", args[i], "\""));
        }
        positional->push_back(args[i]);
      }
      break;
    }
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      if (positional == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
      }
      positional->push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    Flag* flag = Find(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    }
    flag->set = true;
    if (flag->kind == Kind::kBool) {
      if (has_value) {
        if (value == "true" || value == "1") {
          *static_cast<bool*>(flag->out) = true;
        } else if (value == "false" || value == "0") {
          *static_cast<bool*>(flag->out) = false;
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat("--", name, " takes true or false, not \"", value, "\""));
        }
      } else {
        *static_cast<bool*>(flag->out) = true;
      }
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value (", flag->value_name, ")"));
      }
      value = args[++i];
    }
    switch (flag->kind) {
      case Kind::kString:
        *static_cast<std::string*>(flag->out) = value;
        break;
      case Kind::kStrings:
        static_cast<std::vector<std::string>*>(flag->out)->push_back(value);
        break;
      case Kind::kInt: {
        int parsed = 0;
        if (!absl::SimpleAtoi(value, &parsed)) {
          return absl::InvalidArgumentError(
              absl::StrCat("--", name, " takes a whole number, not \"", value, "\""));
        }
        *static_cast<int*>(flag->out) = parsed;
        break;
      }
      case Kind::kBool:
        break;
    }
  }
  return absl::OkStatus();
}

std::string FlagSet::Help() const {
  std::string out = absl::StrCat("Usage: ", usage_, "\n\n", description_, "\n");
  if (!flags_.empty()) {
    absl::StrAppend(&out, "\nOptions:\n");
    size_t width = 0;
    for (const Flag& flag : flags_) {
      width = std::max(width, flag.name.size() + flag.value_name.size() + 3);
    }
    for (const Flag& flag : flags_) {
      std::string left = absl::StrCat("--", flag.name);
      if (!flag.value_name.empty()) absl::StrAppend(&left, " ", flag.value_name);
      absl::StrAppend(&out, "  ", left, std::string(width + 2 - left.size(), ' '), flag.help, "\n");
    }
  }
  if (!example_.empty()) absl::StrAppend(&out, "\nExample:\n  ", example_, "\n");
  return out;
}

}  // namespace hie::cli
