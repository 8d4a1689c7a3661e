// A fixed set of threads for the REST handlers' slow work (reading and writing the
// store, verifying signatures), with a bounded queue: HTTP I/O threads never block, and
// work beyond what the queue holds is refused at once (the handler answers 429).
#ifndef HIE_NODE_REST_WORKERS_H_
#define HIE_NODE_REST_WORKERS_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace hie::node {

class Workers {
 public:
  Workers(int threads, size_t max_queued);
  // Drops what is still queued (never started), then joins the work in hand.
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  // Queues `work`; false if the queue is full (nothing queued).
  bool Submit(std::function<void()> work);

 private:
  void Run();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace hie::node

#endif  // HIE_NODE_REST_WORKERS_H_
