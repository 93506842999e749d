// Multi-homing on real kernel SCTP (in the guest): the data plane in the
// guest's own network namespace, its peer in another, joined by two veth
// pairs (two paths). Traffic runs as sequence-numbered round trips (the
// data plane echoes each message); the first path is cut (netem loss 100%
// on both of its ends) mid-run: SCTP_PEER_ADDR_CHANGE says unreachable and
// the round trips go on over the second path with nothing lost, duplicated
// or reordered; the path comes back (available again); SetPrimary moves the
// primary to the second path and back. Both while the association is on the
// one-to-many socket and after it was peeled. The failover time (cut to the
// first round trip completed after it) is printed with the settings that
// gave it.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sched.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "control/data_plane.h"
#include "dataplane/sctp_socket.h"
#include "dataplane/sctp_tuning.h"
#include "tests/sctp_test_util.h"
#include "tests/waiting_handler.h"

namespace sctpdp {
namespace {

constexpr int kStreams = 4;
constexpr char kNs[] = "sctpdp-peer";
// The two paths: this end .1, the peer .2.
const char* const kLocal[] = {"10.91.0.1", "10.92.0.1"};
const char* const kPeer[] = {"10.91.0.2", "10.92.0.2"};

bool Sh(const std::string& cmd) { return std::system(("PATH=$PATH:/usr/sbin:/sbin; " + cmd).c_str()) == 0; }

// The peer's namespace and the two veth pairs, torn down at the end.
class TwoPaths {
 public:
  TwoPaths() {
    ok_ = Sh(std::string("ip netns add ") + kNs);
    for (int i = 0; ok_ && i < 2; ++i) {
      const std::string dp = "dp" + std::to_string(i), pr = "pr" + std::to_string(i);
      ok_ = Sh("ip link add " + dp + " type veth peer name " + pr) && Sh("ip link set " + pr + " netns " + kNs) &&
            Sh("ip addr add " + std::string(kLocal[i]) + "/24 dev " + dp) && Sh("ip link set " + dp + " up") &&
            Sh(In("ip addr add " + std::string(kPeer[i]) + "/24 dev " + pr)) && Sh(In("ip link set " + pr + " up"));
    }
    ok_ = ok_ && Sh(In("ip link set lo up"));
  }
  // Deleting the namespace deletes the pairs (their peer ends were in it).
  ~TwoPaths() { Sh(std::string("ip netns del ") + kNs + "; ip link del dp0 2>/dev/null; ip link del dp1 2>/dev/null; true"); }
  bool ok() const { return ok_; }
  // Path `i` cut both ways (netem loss 100% on its two ends), or whole again.
  bool Cut(int i, bool cut) {
    const std::string dp = "dp" + std::to_string(i), pr = "pr" + std::to_string(i);
    if (cut) {
      return Sh("tc qdisc add dev " + dp + " root netem loss 100%") &&
             Sh(In("tc qdisc add dev " + pr + " root netem loss 100%"));
    }
    return Sh("tc qdisc del dev " + dp + " root") && Sh(In("tc qdisc del dev " + pr + " root"));
  }

 private:
  static std::string In(const std::string& cmd) { return std::string("ip netns exec ") + kNs + " " + cmd; }
  bool ok_ = false;
};

SctpTuning FastFailover() {
  SctpTuning t;
  t.rto_initial_ms = 200;
  t.rto_min_ms = 100;
  t.rto_max_ms = 400;
  t.max_retransmissions = 50;  // the association outlives a path
  t.path_max_retransmissions = 1;
  t.heartbeat_interval_ms = 100;
  return t;
}

// What the data plane reports; it echoes every message and checks the
// per-stream order (PPID: the sequence number).
class Watcher : public testing::WaitingHandler {
 public:
  void OnAssociationUp(DataPlane& dp, const AssociationInfo& info) override {
    WaitingHandler::OnAssociationUp(dp, info);
    Note([&] { id_ = info.id; });
  }
  void OnMessage(DataPlane& dp, const MessageView& m) override {
    EXPECT_EQ(dp.Send(m.assoc_id, m.stream, m.ppid, m.payload), SendResult::kOk);
    Note([&] {
      auto [it, fresh] = last_.try_emplace(m.stream, m.ppid);
      if (!fresh && m.ppid <= it->second) ++violations_;
      it->second = m.ppid;
    });
  }
  void OnMoved(DataPlane&, sctp_assoc_t, int) override { Note([&] { moved_ = true; }); }
  void OnError(DataPlane&, sctp_assoc_t, const absl::Status& e) override { Note([&] { errors_.push_back(e); }); }
  void OnPathChange(DataPlane&, sctp_assoc_t, const PathInfo& path, uint16_t change) override {
    Note([&] { changes_.emplace_back(path.address, change); });
  }
  void OnKernelStats(DataPlane&, absl::Span<const AssociationKernelStats> reads) override {
    Note([&] {
      for (const AssociationKernelStats& r : reads) primary_ = r.status.primary.address;
    });
  }

  bool Changed(const std::string& address, uint16_t change) const {
    for (const auto& [a, c] : changes_) {
      if (a == address && c == change) return true;
    }
    return false;
  }

  sctp_assoc_t id_ = 0;
  bool moved_ = false;
  std::map<uint16_t, uint32_t> last_;
  uint64_t violations_ = 0;
  std::vector<absl::Status> errors_;
  std::vector<std::pair<std::string, uint16_t>> changes_;
  std::string primary_;  // SCTP_STATUS's, at the last kernel read
};

// The peer: in its own namespace, one-to-one, bound to both of its
// addresses; round trips until told to stop, each checked.
class Peer {
 public:
  Peer(Watcher* w, uint16_t port) : w_(w), thread_([this, port] { Run(port); }) {}
  ~Peer() {
    stop_.store(true);
    thread_.join();
  }
  uint64_t rounds() const { return rounds_.load(); }
  // The longest pause between round trips completed from `t` on (the one
  // completed last before `t` included): the outage the application saw.
  absl::Duration LongestPauseSince(absl::Time t) {
    std::lock_guard<std::mutex> l(w_->mu_);
    absl::Duration longest;
    for (size_t i = 1; i < done_at_.size(); ++i) {
      if (done_at_[i] > t) longest = std::max(longest, done_at_[i] - done_at_[i - 1]);
    }
    return longest;
  }
  std::string failure() {
    std::lock_guard<std::mutex> l(w_->mu_);
    return failure_;
  }
  bool failed_locked() const { return !failure_.empty(); }  // REQUIRES: w_->mu_ held

 private:
  void Run(uint16_t port) {
    const int ns = open((std::string("/var/run/netns/") + kNs).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) return Fail("setns into the peer's namespace failed");
    close(ns);
    absl::StatusOr<Fd> fd = OpenSctpSocket({.type = SOCK_STREAM, .streams = kStreams, .events = false});
    if (!fd.ok()) return Fail(std::string(fd.status().message()));
    if (!ApplyTuning(fd->get(), FastFailover()).ok()) return Fail("tuning the peer's socket failed");
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    inet_pton(AF_INET, kLocal[0], &to.sin_addr);
    if (connect(fd->get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) return Fail("connect failed");
    for (uint32_t seq = 0; !stop_.load(); ++seq) {
      if (!testing::SendOn(fd->get(), testing::Pattern(seq, 200), seq % kStreams, seq)) return Fail("send failed");
      const testing::Received r = testing::Recv(fd->get());
      if (r.data != testing::Pattern(seq, 200)) return Fail("echo " + std::to_string(seq) + " wrong or missing");
      std::lock_guard<std::mutex> l(w_->mu_);
      done_at_.push_back(absl::Now());
      rounds_.store(seq + 1);
      w_->cv_.notify_all();
    }
  }
  void Fail(const std::string& why) {
    std::lock_guard<std::mutex> l(w_->mu_);
    failure_ = why;
    w_->cv_.notify_all();
  }

  Watcher* const w_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> rounds_{0};
  std::vector<absl::Time> done_at_;  // guarded by w_->mu_
  std::string failure_;              // guarded by w_->mu_
  std::thread thread_;
};

std::optional<PathInfo> PathOf(DataPlane& dp, sctp_assoc_t id, const std::string& address) {
  std::optional<AssociationInfo> info = dp.Association(id);
  if (!info) return std::nullopt;
  for (const PathInfo& p : info->paths) {
    if (p.address == address) return p;
  }
  return std::nullopt;
}

void FailOverAndBack(bool peeled) {
  TwoPaths net;
  ASSERT_TRUE(net.ok()) << "could not set up the namespace and the two veth pairs";
  Watcher w;
  DataPlaneOptions o;
  o.worker_cpus = {-1};
  o.listener.addresses = {kLocal[0], kLocal[1]};
  o.listener.streams = kStreams;
  o.listener.tuning = FastFailover();
  o.hotness.peel_all = peeled;
  o.hotness.peel_messages_per_sec = 1e9;
  o.kernel_stats = {.interval = absl::Milliseconds(100), .stall_after = absl::ZeroDuration()};
  absl::StatusOr<std::unique_ptr<DataPlane>> made = DataPlane::Create(o, &w);
  ASSERT_TRUE(made.ok()) << made.status();
  DataPlane& dp = **made;
  ASSERT_TRUE(dp.Start().ok());
  Peer peer(&w, dp.port());
  // Waits for `n` round trips in all (or the peer's failure).
  auto rounds = [&](uint64_t n) {
    EXPECT_TRUE(w.Wait([&] { return peer.rounds() >= n || peer.failed_locked(); })) << "round trips stopped";
    EXPECT_EQ(peer.failure(), "");
  };
  ASSERT_TRUE(w.Wait([&] { return w.id_ != 0 && (!peeled || w.moved_); }));
  const sctp_assoc_t id = w.id_;
  std::optional<PathInfo> first = PathOf(dp, id, kPeer[0]), second = PathOf(dp, id, kPeer[1]);
  ASSERT_TRUE(first && second) << "the association does not have both peer addresses";
  EXPECT_TRUE(first->primary);
  rounds(20);

  // The first path goes down mid-run.
  const uint64_t before = peer.rounds();
  const absl::Time cut = absl::Now();
  ASSERT_TRUE(net.Cut(0, true));
  ASSERT_TRUE(w.Wait([&] { return w.Changed(kPeer[0], SCTP_ADDR_UNREACHABLE); }));
  rounds(before + 20);
  const absl::Duration failover = peer.LongestPauseSince(cut);
  std::printf("failover (%s): path down -> round trips again over the second path after a pause of %.0f ms "
              "(rto initial/min/max 200/100/400 ms, heartbeat 100 ms, path max retransmissions 1)\n",
              peeled ? "peeled" : "cold", absl::ToDoubleMilliseconds(failover));
  EXPECT_EQ(PathOf(dp, id, kPeer[0])->state, SCTP_INACTIVE);

  // It comes back.
  ASSERT_TRUE(net.Cut(0, false));
  ASSERT_TRUE(w.Wait([&] { return w.Changed(kPeer[0], SCTP_ADDR_AVAILABLE); }));
  EXPECT_EQ(PathOf(dp, id, kPeer[0])->state, SCTP_ACTIVE);

  // SetPrimary: to the second path, and back; the kernel's reads say so.
  EXPECT_EQ(dp.SetPrimary(id, "10.99.0.9").code(), absl::StatusCode::kInvalidArgument);
  for (const char* primary : {kPeer[1], kPeer[0]}) {
    ASSERT_TRUE(dp.SetPrimary(id, primary).ok());
    ASSERT_TRUE(w.Wait([&] { return w.primary_ == primary; })) << "the kernel's primary stayed " << w.primary_;
    EXPECT_TRUE(PathOf(dp, id, primary)->primary);
    rounds(peer.rounds() + 10);
  }
  std::lock_guard<std::mutex> l(w.mu_);
  EXPECT_EQ(w.violations_, 0u);
  EXPECT_TRUE(w.errors_.empty()) << w.errors_.front();
  EXPECT_EQ(dp.Snapshot().path_changes, w.changes_.size());
}

TEST(FailoverTest, OnTheOneToManySocket) { FailOverAndBack(/*peeled=*/false); }
TEST(FailoverTest, AfterThePeel) { FailOverAndBack(/*peeled=*/true); }

}  // namespace
}  // namespace sctpdp
