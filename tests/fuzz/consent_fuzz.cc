// Feeds arbitrary bytes to the FHIR Consent parser and, when they parse, to the decision
// engine: a refusal always names a path, a decision always says why.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "common/status/error_detail.h"
#include "consent/domain/directive.h"
#include "consent/domain/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto directive = hie::consent::ParseConsent(text);
  if (!directive.ok()) {
    auto detail = hie::GetErrorDetail(directive.status());
    if (!detail || detail->field_violations().empty()) std::abort();
    return 0;
  }
  hie::consent::Policy policy;
  for (const char* purpose : {"TREAT", "ETREAT", "HPAYMT"}) {
    hie::consent::DecisionRequest request{.requester_org = "org-b",
                                          .holder_org = "org-c",
                                          .purpose = purpose,
                                          .break_glass_reason = "fuzz",
                                          .now = absl::Now()};
    auto decision = hie::consent::Decide(policy, {&*directive}, request);
    if (!decision.ok() || decision->reason.empty()) std::abort();
  }
  return 0;
}
