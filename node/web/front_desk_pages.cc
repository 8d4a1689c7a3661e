#include "node/web/pages.h"

namespace hie::node {

absl::Status AddFrontDeskPages(http::Router& router, std::shared_ptr<const Web> web) {
  (void)router;
  (void)web;
  return absl::OkStatus();
}

}  // namespace hie::node
