// hiectl org enroll|suspend|reinstate|set-endpoint|show|list: the exchange operator's
// directory of member organisations, kept by hie-mpi.

#include <chrono>
#include <iostream>

#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "cli/connection.h"
#include "cli/flags.h"
#include "cli/rpc_command.h"
#include "common/grpc/status_convert.h"
#include "grpcpp/client_context.h"
#include "proto/hie/v1/directory.grpc.pb.h"

namespace hie::cli {
namespace {

using hie::v1::Organization;

std::string StateName(Organization::State state) {
  switch (state) {
    case Organization::STATE_ACTIVE:
      return "active";
    case Organization::STATE_SUSPENDED:
      return "suspended";
    default:
      return "unknown";
  }
}

void PrintOrg(const Organization& org) {
  std::cout << absl::StrFormat("%-20s %-10s %-24s %s%s\n", org.org_id(), StateName(org.state()),
                               org.endpoint().empty() ? "-" : org.endpoint(), org.display_name(),
                               org.sensitive() ? " [sensitive]" : "");
}

template <typename AddFlags, typename Rpc>
int RunDirectoryCall(const std::vector<std::string>& args, const std::string& name,
                     const std::string& usage, const std::string& description,
                     const std::string& example, AddFlags add_flags, Rpc rpc) {
  return RunRpcCommand<hie::v1::Directory>(args, name, usage, description, example, add_flags, rpc);
}

int Finish(const grpc::Status& status, const std::string& target) {
  return FailRpc(status, target);
}

int PrintOne(const grpc::Status& status, const Organization& org, bool json,
             const std::string& target) {
  if (!status.ok()) return Finish(status, target);
  if (json) {
    std::cout << ToJson(org) << "\n";
  } else {
    PrintOrg(org);
  }
  return kExitOk;
}

int RunEnroll(const std::vector<std::string>& args) {
  hie::v1::EnrollOrganizationRequest request;
  std::string org, name, endpoint, contact;
  bool sensitive = false;
  return RunDirectoryCall(
      args, "org enroll",
      "hiectl org enroll --org ORG --name NAME [--endpoint HOST:PORT] [--contact C] "
      "[--sensitive] [--json]",
      "Enrolls an organisation in the exchange (operators only). ORG is the id in its\n"
      "certificates (hie://org/ORG). --sensitive marks an organisation whose mere\n"
      "appearance in a patient's cross-reference discloses something (a substance-use\n"
      "programme, say): it is named to a requester only where consent covers it.",
      "hiectl org enroll --profile operator.profile --target 127.0.0.1:41001 --org org-a "
      "--name \"Main Street Clinic\" --endpoint node.main-street.example:7443",
      [&](FlagSet& flags) {
        flags.String("org", &org, "ORG", "the organisation id (required)");
        flags.String("name", &name, "NAME", "display name (required)");
        flags.String("endpoint", &endpoint, "HOST:PORT", "where its hie-node listens");
        flags.String("contact", &contact, "C", "who to call about its node");
        flags.Bool("sensitive", &sensitive, "its presence alone discloses something");
      },
      [&](hie::v1::Directory::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (org.empty() || name.empty()) {
          return UsageError("org enroll",
                            absl::InvalidArgumentError("--org and --name are required"));
        }
        request.set_org_id(org);
        request.set_display_name(name);
        request.set_endpoint(endpoint);
        request.set_contact(contact);
        request.set_sensitive(sensitive);
        Organization out;
        return PrintOne(stub.EnrollOrganization(&context, request, &out), out, json, target);
      });
}

int RunStateChange(const std::vector<std::string>& args, bool suspend) {
  std::string org, reason;
  const std::string verb = suspend ? "suspend" : "reinstate";
  return RunDirectoryCall(
      args, "org " + verb, absl::StrCat("hiectl org ", verb, " --org ORG --reason TEXT [--json]"),
      suspend ? "Suspends an organisation: its nodes are refused by the MPI from the next call\n"
                "and it is no longer named in grants. Its registrations stay."
              : "Lifts a suspension.",
      absl::StrCat("hiectl org ", verb,
                   " --profile operator.profile --target 127.0.0.1:41001 "
                   "--org org-a --reason \"",
                   suspend ? "certificate compromised" : "resolved", "\""),
      [&](FlagSet& flags) {
        flags.String("org", &org, "ORG", "the organisation id (required)");
        flags.String("reason", &reason, "TEXT", "why, for the record (required)");
      },
      [&](hie::v1::Directory::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (org.empty() || reason.empty()) {
          return UsageError("org " + verb,
                            absl::InvalidArgumentError("--org and --reason are required"));
        }
        Organization out;
        grpc::Status status;
        if (suspend) {
          hie::v1::SuspendOrganizationRequest request;
          request.set_org_id(org);
          request.set_reason(reason);
          status = stub.SuspendOrganization(&context, request, &out);
        } else {
          hie::v1::ReinstateOrganizationRequest request;
          request.set_org_id(org);
          request.set_reason(reason);
          status = stub.ReinstateOrganization(&context, request, &out);
        }
        return PrintOne(status, out, json, target);
      });
}

int RunSetEndpoint(const std::vector<std::string>& args) {
  std::string org, endpoint;
  return RunDirectoryCall(
      args, "org set-endpoint", "hiectl org set-endpoint --org ORG --endpoint HOST:PORT [--json]",
      "Changes where other practices' nodes reach an organisation's hie-node.",
      "hiectl org set-endpoint --profile operator.profile --target 127.0.0.1:41001 --org org-a "
      "--endpoint 10.0.0.5:7443",
      [&](FlagSet& flags) {
        flags.String("org", &org, "ORG", "the organisation id (required)");
        flags.String("endpoint", &endpoint, "HOST:PORT", "the new endpoint (required)");
      },
      [&](hie::v1::Directory::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (org.empty() || endpoint.empty()) {
          return UsageError("org set-endpoint",
                            absl::InvalidArgumentError("--org and --endpoint are required"));
        }
        hie::v1::SetEndpointRequest request;
        request.set_org_id(org);
        request.set_endpoint(endpoint);
        Organization out;
        return PrintOne(stub.SetEndpoint(&context, request, &out), out, json, target);
      });
}

int RunShow(const std::vector<std::string>& args) {
  std::string org;
  return RunDirectoryCall(
      args, "org show", "hiectl org show --org ORG [--json]", "Shows one organisation.",
      "hiectl org show --profile operator.profile --target 127.0.0.1:41001 --org org-a",
      [&](FlagSet& flags) { flags.String("org", &org, "ORG", "the organisation id (required)"); },
      [&](hie::v1::Directory::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        if (org.empty()) {
          return UsageError("org show", absl::InvalidArgumentError("--org is required"));
        }
        hie::v1::GetOrganizationRequest request;
        request.set_org_id(org);
        Organization out;
        return PrintOne(stub.GetOrganization(&context, request, &out), out, json, target);
      });
}

int RunList(const std::vector<std::string>& args) {
  std::string state;
  return RunDirectoryCall(
      args, "org list", "hiectl org list [--state active|suspended] [--json]",
      "Lists the member organisations in id order.",
      "hiectl org list --profile operator.profile --target 127.0.0.1:41001 --state suspended",
      [&](FlagSet& flags) {
        flags.String("state", &state, "STATE", "only active or only suspended organisations");
      },
      [&](hie::v1::Directory::Stub& stub, grpc::ClientContext& context, bool json,
          const std::string& target) {
        hie::v1::ListOrganizationsRequest request;
        if (state == "active") {
          request.set_state(Organization::STATE_ACTIVE);
        } else if (state == "suspended") {
          request.set_state(Organization::STATE_SUSPENDED);
        } else if (!state.empty()) {
          return UsageError("org list",
                            absl::InvalidArgumentError("--state must be active or suspended"));
        }
        request.set_page_size(1000);
        hie::v1::ListOrganizationsResponse response;
        grpc::Status status = stub.ListOrganizations(&context, request, &response);
        if (!status.ok()) return Finish(status, target);
        if (json) {
          std::cout << ToJson(response) << "\n";
        } else {
          for (const auto& org : response.organizations()) PrintOrg(org);
        }
        return kExitOk;
      });
}

}  // namespace

std::vector<Command> OrgCommands() {
  return {
      {{"org", "enroll"}, "enroll a member organisation (operator)", RunEnroll},
      {{"org", "suspend"},
       "suspend a member organisation (operator)",
       [](const std::vector<std::string>& a) { return RunStateChange(a, true); }},
      {{"org", "reinstate"},
       "lift a suspension (operator)",
       [](const std::vector<std::string>& a) { return RunStateChange(a, false); }},
      {{"org", "set-endpoint"}, "change where an organisation's node listens", RunSetEndpoint},
      {{"org", "show"}, "show one member organisation", RunShow},
      {{"org", "list"}, "list member organisations", RunList},
  };
}

}  // namespace hie::cli
