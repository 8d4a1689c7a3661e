#include "node/web/record_query.h"

#include <utility>

#include "common/log/log.h"

namespace hie::node {
namespace {

class RecordPageObserver final : public QueryObserver {
 public:
  RecordPageObserver(std::shared_ptr<const Web> web, http::SessionPrincipal session,
                     RecordPageRender render, http::Responder responder)
      : web_(std::move(web)),
        session_(std::move(session)),
        render_(std::move(render)),
        responder_(std::move(responder)) {
    if (web_->options.query_started) web_->options.query_started();
  }

  void OnHolderSettled(const HolderOutcome& outcome) override {
    if (outcome.state != HolderState::kOk) {
      LogInfo("web record: holder ", outcome.org_id, " ", HolderStateName(outcome.state), ": ",
              outcome.message);
    }
    holders_.push_back(outcome);
  }

  void OnQueryDone(absl::StatusOr<QueryAnswer> answer) override {
    std::shared_ptr<const Web> web = std::move(web_);
    if (!answer.ok()) {
      responder_.Respond(render_.failed(answer.status()));
    } else {
      // The page of a large answer is made on a worker, not on the thread that reported.
      auto shared = std::make_shared<QueryAnswer>(*std::move(answer));
      const bool queued = web->options.run(
          [web, holders = std::move(holders_), shared, render = render_, responder = responder_] {
            responder.Respond(render.answered(holders, *shared));
            if (web->options.query_done) web->options.query_done();
          });
      if (queued) {
        delete this;
        return;
      }
      responder_.Respond(ErrorPage(*web, &session_, 503, "Too busy: try again."));
    }
    delete this;
    // Last: shutting down may free everything once the query is counted done.
    if (web->options.query_done) web->options.query_done();
  }

 private:
  std::shared_ptr<const Web> web_;
  const http::SessionPrincipal session_;
  const RecordPageRender render_;
  http::Responder responder_;
  std::vector<HolderOutcome> holders_;
};

}  // namespace

void RunRecordQuery(std::shared_ptr<const Web> web, const http::SessionPrincipal& session,
                    FederatedQueryRequest query, RecordPageRender render,
                    http::Responder responder) {
  FederatedQuery* engine = web->options.query.get();
  engine->Run(std::move(query), new RecordPageObserver(std::move(web), session, std::move(render),
                                                       std::move(responder)));
}

}  // namespace hie::node
