// A DataPlaneHandler base for the guest tests: what its callbacks record is
// guarded by one mutex, each record wakes the test, which waits (bounded)
// for what it expects; and the associations that came up, by the peer's
// port (a test's client knows its own port).
#ifndef SCTPDP_TESTS_WAITING_HANDLER_H_
#define SCTPDP_TESTS_WAITING_HANDLER_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>

#include "absl/time/time.h"
#include "control/data_plane.h"

namespace sctpdp::testing {

class WaitingHandler : public DataPlaneHandler {
 public:
  void OnAssociationUp(DataPlane&, const AssociationInfo& info) override {
    Note([&] { by_port_[info.peer.port] = info.id; });
  }

  // Waits until `done` holds (checked under the lock); false after `timeout`.
  bool Wait(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(120)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, absl::ToChronoMilliseconds(timeout), done);
  }
  // The association whose peer's port is `port`, once up (0: none came).
  sctp_assoc_t IdForPort(uint16_t port) {
    sctp_assoc_t id = 0;
    Wait([&] { return (id = by_port_.count(port) ? by_port_[port] : 0) != 0; });
    return id;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint16_t, sctp_assoc_t> by_port_;

 protected:
  // Runs `fn` under the lock, then wakes the waiters.
  void Note(const std::function<void()>& fn) {
    std::lock_guard<std::mutex> l(mu_);
    fn();
    cv_.notify_all();
  }
};

}  // namespace sctpdp::testing

#endif  // SCTPDP_TESTS_WAITING_HANDLER_H_
