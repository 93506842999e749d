// Test helpers for Worker: a handler that records what it sees and lets the
// test thread wait for a condition (no sleeps), and socketpair plumbing.
#ifndef SCTPDP_DATAPLANE_WORKER_TEST_UTIL_H_
#define SCTPDP_DATAPLANE_WORKER_TEST_UTIL_H_

#include <dirent.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "dataplane/fd.h"
#include "dataplane/worker.h"

namespace sctpdp {

struct Received {
  AssocHandle assoc;
  uint16_t stream = 0;
  uint32_t ppid = 0;
  bool copied = false;
  std::string payload;
};

struct Down {
  AssocHandle assoc;
  DownReason reason;
  AssocStats stats;
};

class RecordingHandler : public WorkerHandler {
 public:
  // Runs on the worker thread for every message, after it is recorded.
  std::function<void(Worker&, const MessageView&)> on_message;
  std::function<void(Worker&, AssocHandle)> on_writable;

  // Every callback records under mu_ and wakes waiters.
  void OnAdopted(Worker& w, AssocHandle assoc, sctp_assoc_t, uint64_t cookie) override {
    std::lock_guard<std::mutex> l(mu_);
    adopted_.push_back({assoc, cookie});
    cv_.notify_all();
  }
  void OnMessage(Worker& w, const MessageView& m) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      messages_.push_back({m.assoc, m.stream, m.ppid, m.copied, std::string(m.payload.begin(), m.payload.end())});
    cv_.notify_all();
    }
    if (on_message) on_message(w, m);
  }
  void OnEvent(Worker&, AssocHandle, const AssociationEvent& ev) override {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back(ev);
    cv_.notify_all();
  }
  void OnError(Worker&, AssocHandle, const absl::Status& error) override {
    std::lock_guard<std::mutex> l(mu_);
    errors_.push_back(error);
    cv_.notify_all();
  }
  void OnWritable(Worker& w, AssocHandle assoc) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++writable_;
    cv_.notify_all();
    }
    if (on_writable) on_writable(w, assoc);
  }
  void OnAssociationDown(Worker&, AssocHandle assoc, DownReason reason, const AssocStats& stats) override {
    std::lock_guard<std::mutex> l(mu_);
    downs_.push_back({assoc, reason, stats});
    cv_.notify_all();
  }

  // Waits until `done` holds (evaluated under the lock) or `timeout` passes.
  bool WaitFor(std::function<bool(RecordingHandler&)> done, absl::Duration timeout = absl::Seconds(30)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, absl::ToChronoMilliseconds(timeout), [&] { return done(*this); });
  }
  bool WaitMessages(size_t n) { return WaitFor([n](RecordingHandler& h) { return h.messages_.size() >= n; }); }
  bool WaitDowns(size_t n) { return WaitFor([n](RecordingHandler& h) { return h.downs_.size() >= n; }); }
  bool WaitAdopted(size_t n) { return WaitFor([n](RecordingHandler& h) { return h.adopted_.size() >= n; }); }
  bool WaitErrors(size_t n) { return WaitFor([n](RecordingHandler& h) { return h.errors_.size() >= n; }); }

  // Copies, under the lock.
  std::vector<Received> messages() { std::lock_guard<std::mutex> l(mu_); return messages_; }
  std::vector<Down> downs() { std::lock_guard<std::mutex> l(mu_); return downs_; }
  std::vector<absl::Status> errors() { std::lock_guard<std::mutex> l(mu_); return errors_; }
  std::vector<AssociationEvent> events() { std::lock_guard<std::mutex> l(mu_); return events_; }
  int writable() { std::lock_guard<std::mutex> l(mu_); return writable_; }
  AssocHandle adopted(size_t i) { std::lock_guard<std::mutex> l(mu_); return adopted_.at(i).first; }
  size_t adopted_count() { std::lock_guard<std::mutex> l(mu_); return adopted_.size(); }

  // Public for WaitFor predicates, which run under the lock (mu_).
  std::vector<Received> messages_;
  std::vector<Down> downs_;
  std::vector<absl::Status> errors_;
  std::vector<AssociationEvent> events_;
  std::vector<std::pair<AssocHandle, uint64_t>> adopted_;
  int writable_ = 0;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

// A one-shot event between threads (std-based, so TSan sees it).
class Notification {
 public:
  void Notify() {
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    cv_.notify_all();
  }
  bool WaitFor(absl::Duration timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, absl::ToChronoMilliseconds(timeout), [&] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// A connected AF_UNIX SEQPACKET pair: [0] for the worker, [1] for the test.
inline std::pair<Fd, Fd> SeqpacketPair() {
  int sv[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return {};
  return {Fd(sv[0]), Fd(sv[1])};
}

// Number of open descriptors of this process.
inline int OpenFdCount() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n - 3;  // ".", ".." and the DIR's own descriptor
}

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_WORKER_TEST_UTIL_H_
