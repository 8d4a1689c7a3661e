// The longitudinal record as a page shows it: the answer of one federated query
// (FederatedQuery::Run) rendered as HTML, for whoever reads it — a clinician's record
// page, a patient's own record in the portal. What a holder said about itself comes
// first (the per-holder status line), then what consent withheld and what that means,
// then the record in sections: the patient as each practice registered them, problems,
// medications, allergies, results (with a trend chart for each numeric observation
// measured at least twice), immunizations, and encounters and notes on a timeline,
// newest first. Each item names the practices it came from (a source badge each); an
// item into which duplicates from other practices were folded says so.
//
// Every text taken from a record, a holder or a category is escaped; the markup has no
// script and no style attribute (the charts are inline SVG with presentation attributes
// only, each with a text table beside it), so it fits the app's Content-Security-Policy.
#ifndef HIE_NODE_WEB_RECORD_VIEW_H_
#define HIE_NODE_WEB_RECORD_VIEW_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "node/domain/federated_query.h"

namespace hie::node {

// What differs between the pages that show a record.
struct RecordViewOptions {
  // The organisation whose node assembled the answer: its badge says "this practice".
  std::string own_org;
  // The heading level of the view's sections (2: <h2>; the page's title is above them).
  int heading_level = 2;
  // The answer was given for emergency access (break-the-glass): said at its top.
  bool emergency = false;
  // Each holder's count of records it withheld under the grant, in the status line.
  bool show_withheld_counts = true;
};

// Plain words for a sensitivity category a grant withholds ("42CFRPart2": "substance-use
// treatment records (42 CFR Part 2)"); the code itself for one it does not know.
std::string CategoryMeaning(absl::string_view category);

// The HTML of one answer: `holders` as the query reported them (OnHolderSettled, in
// order), `answer` as OnQueryDone gave it. Reads answer.bundle's entries (its const
// members only), so it may run beside nothing that pages the same BundleWriter. A
// fragment for a page's <main>, every text in it escaped.
std::string RecordViewHtml(const std::vector<HolderOutcome>& holders, const QueryAnswer& answer,
                           const RecordViewOptions& options);

}  // namespace hie::node

#endif  // HIE_NODE_WEB_RECORD_VIEW_H_
