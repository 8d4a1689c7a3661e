// A page that shows a federated record: the query run for it (FederatedQuery::Run, as
// $everything runs it), its holders' outcomes gathered, and the page made on a worker
// once the answer is in. The clinician's record page and the patient's own record use
// it; each says how its page reads.
#ifndef HIE_NODE_WEB_RECORD_QUERY_H_
#define HIE_NODE_WEB_RECORD_QUERY_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "http/request.h"
#include "node/domain/federated_query.h"
#include "node/web/pages.h"

namespace hie::node {

struct RecordPageRender {
  // The page for an answer (called on a worker).
  std::function<http::Response(const std::vector<HolderOutcome>& holders,
                               const QueryAnswer& answer)>
      answered;
  // The page for a query that failed (consent denied, the consent service away...).
  std::function<http::Response(const absl::Status& why)> failed;
};

// Runs `query` and answers `responder` with `render`'s page, or 503 when no worker can
// make it. Counts the query with web->options.query_started/query_done, so shutting down
// waits for it. `session` is whom a 503 page is for. Call on a worker.
void RunRecordQuery(std::shared_ptr<const Web> web, const http::SessionPrincipal& session,
                    FederatedQueryRequest query, RecordPageRender render,
                    http::Responder responder);

}  // namespace hie::node

#endif  // HIE_NODE_WEB_RECORD_QUERY_H_
