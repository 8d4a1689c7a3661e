#include "node/domain/known_peers.h"

#include <algorithm>
#include <utility>

namespace hie::node {

void KnownPeers::Saw(const std::string& org_id, const std::string& endpoint, std::string state,
                     absl::Duration elapsed, absl::Time when) {
  absl::MutexLock lock(&mu_);
  if (!peers_.contains(org_id) && peers_.size() >= max_peers_ && !peers_.empty()) {
    auto oldest = std::min_element(peers_.begin(), peers_.end(), [](const auto& a, const auto& b) {
      return a.second.last_seen < b.second.last_seen;
    });
    peers_.erase(oldest);
  }
  peers_[org_id] = KnownPeer{.org_id = org_id,
                             .endpoint = endpoint,
                             .last_state = std::move(state),
                             .last_seen = when,
                             .last_elapsed = elapsed};
}

std::vector<KnownPeer> KnownPeers::List() const {
  std::vector<KnownPeer> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [org, peer] : peers_) out.push_back(peer);
  }
  std::sort(out.begin(), out.end(),
            [](const KnownPeer& a, const KnownPeer& b) { return a.org_id < b.org_id; });
  return out;
}

}  // namespace hie::node
