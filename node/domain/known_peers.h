// The other practices' nodes this node has fetched from, as the consent service's grants
// named them (a node keeps no list of members: the directory is the operator's), with
// how each last answered. The admin's status page checks them now.
#ifndef HIE_NODE_DOMAIN_KNOWN_PEERS_H_
#define HIE_NODE_DOMAIN_KNOWN_PEERS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hie::node {

struct KnownPeer {
  std::string org_id;
  std::string endpoint;  // as the last grant that named the peer gave it
  // The last fetch: "OK", "DENIED", "TIMED_OUT", "UNREACHABLE", "FAILED" (HolderStateName).
  std::string last_state;
  absl::Time last_seen;
  absl::Duration last_elapsed;
};

// Thread-safe. Holds at most `max_peers`; a new peer beyond that replaces the one seen
// longest ago.
class KnownPeers {
 public:
  explicit KnownPeers(size_t max_peers = 1024) : max_peers_(max_peers) {}

  // Records how `org_id` at `endpoint` answered a fetch that ended at `when`.
  void Saw(const std::string& org_id, const std::string& endpoint, std::string state,
           absl::Duration elapsed, absl::Time when);

  // Every peer, by org id.
  std::vector<KnownPeer> List() const;

 private:
  const size_t max_peers_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, KnownPeer> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_KNOWN_PEERS_H_
