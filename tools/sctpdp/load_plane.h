// `sctpdp load --engine=uring`: the load generator on the data plane. Its
// associations come from DataPlane::Connect and live as an appliance's do:
// cold ones on the control thread's one-to-many sockets, hot ones (by what
// they send) peeled to the io_uring workers. An association at full speed
// (rate 0) is driven by its owner: its messages are built in place in the
// owner's own send buffers, from the data plane's callbacks (Pump: at the
// start, after a move, on OnWritable, on each echo), so they take no
// thread hop and leave in bundled chains. Paced ones are the sending
// threads' (the schedule), built in place in parcels and handed over. The
// data plane's threads read the echoes and wake the sender they belong to.
#ifndef SCTPDP_TOOLS_SCTPDP_LOAD_PLANE_H_
#define SCTPDP_TOOLS_SCTPDP_LOAD_PLANE_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "control/data_plane.h"
#include "tools/sctpdp/load_common.h"

namespace sctpdp {

class LoadPlane final : private DataPlaneHandler {
 public:
  // The data plane, started, with every association up (their `id` and
  // `streams` set); null when it cannot be, said on stderr, with the exit
  // code in `*exit`. `all` and `progress` outlive it.
  static std::unique_ptr<LoadPlane> Open(const LoadFlags& f, std::vector<Association>& all,
                                         std::vector<Progress>& progress, int* exit);
  ~LoadPlane() override;
  // Sender `t`'s way out.
  std::unique_ptr<Link> LinkFor(size_t t);
  // The run starts: the driven associations begin sending on their
  // owners' threads until `stop`.
  void Start(const std::atomic<bool>& stop);
  // Ends every association gracefully once what it accepted has left (a
  // SHUTDOWN behind its queued sends) and waits for their ends, at most
  // `limit`; then stops the data plane. A message accepted and not sent
  // is an error (OnError), as is an association that did not end in time.
  void Finish(absl::Duration limit);
  void Stop();
  // Errors the data plane reported before Stop (each said on stderr).
  uint64_t errors() const { return errors_.load(); }
  DataPlaneStats Snapshot() const { return dp_->Snapshot(); }

 private:
  LoadPlane(const LoadFlags& f, std::vector<Association>& all, std::vector<Progress>& progress)
      : f_(f), layout_(f), all_(all), progress_(progress) {}
  DataPlaneOptions Options() const;
  // Connects every association and waits until each is up; an exit code
  // when one cannot be.
  std::optional<int> ConnectAll();
  Association* Find(sctp_assoc_t id) const;
  // Sends driven association `a`'s messages while its window (--echo
  // --window) has room and the owner takes them. On its owner's thread.
  void Pump(DataPlane& dp, Association& a);
  // Pump on `a`'s owner's thread (a move under way: OnMoved pumps).
  void Kick(Association& a);
  void Error(sctp_assoc_t id, const absl::Status& error);

  // DataPlaneHandler (the data plane's threads).
  void OnAssociationUp(DataPlane& dp, const AssociationInfo& info) override;
  void OnMessage(DataPlane& dp, const MessageView& m) override;
  void OnWritable(DataPlane& dp, sctp_assoc_t id) override;
  void OnMoved(DataPlane& dp, sctp_assoc_t id, int worker) override;
  void OnError(DataPlane& dp, sctp_assoc_t id, const absl::Status& error) override { Error(id, error); }
  void OnConnectFailed(DataPlane& dp, ConnectionId conn, const absl::Status& error,
                       absl::Duration retry_in) override;
  void OnAssociationDown(DataPlane& dp, sctp_assoc_t id, DownReason reason, const AssocStats& stats) override;

  const LoadFlags& f_;
  const PayloadLayout layout_;
  std::vector<Association>& all_;
  std::vector<Progress>& progress_;
  std::unique_ptr<DataPlane> dp_;
  std::atomic<bool> stopping_{false};
  const std::atomic<bool>* stop_ = nullptr;  // the run's end (Start)
  std::atomic<bool> running_{false};         // Start ran: driven ones send
  std::atomic<uint64_t> errors_{0};

  // While connecting (main thread and the control thread).
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<ConnectionId> connections_;                     // per association, in order
  std::unordered_map<ConnectionId, AssociationInfo> up_;      // guarded by mu_
  std::optional<absl::Status> failed_;                        // guarded by mu_
  // While finishing: associations ended (shut down) and Shutdowns refused
  // for backpressure, to retry at OnWritable.
  bool finishing_ = false;                                    // guarded by mu_
  size_t ended_ = 0;                                          // guarded by mu_
  std::vector<sctp_assoc_t> retry_shutdown_;                  // guarded by mu_
  // Association id -> its index in all_: written before the senders
  // start (published by `ready_`), read-only after.
  std::unordered_map<sctp_assoc_t, size_t> index_;
  std::atomic<bool> ready_{false};
};

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_LOAD_PLANE_H_
