// The kernel's per-association statistics through DataPlane, on real kernel
// SCTP (in the guest): read on the one-to-many socket while the association
// is cold and on its own socket once it has moved, with its state, streams,
// path and counters as the kernel has them; the move's latency recorded;
// and a peer that stops reading reported as a stall, once, which ends when
// it reads again.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "control/data_plane.h"
#include "tests/sctp_test_util.h"
#include "tests/waiting_handler.h"

namespace sctpdp {
namespace {

using testing::LocalPort;
using testing::Loopback;

constexpr int kStreams = 4;

// Keeps what the data plane reports: ups by client port, moves, errors and
// every kernel statistics read.
class Watcher : public testing::WaitingHandler {
 public:
  bool echo = false;  // send every message back (Send: copied)
  void OnMessage(DataPlane& dp, const MessageView& m) override {
    if (echo) EXPECT_EQ(dp.Send(m.assoc_id, m.stream, m.ppid, m.payload), SendResult::kOk);
    Note([&] { ++messages_[m.assoc_id]; });
  }
  void OnMoved(DataPlane&, sctp_assoc_t id, int) override {
    Note([&] { moved_[id] = true; });
  }
  void OnError(DataPlane&, sctp_assoc_t id, const absl::Status& e) override {
    Note([&] { errors_.emplace_back(id, e); });
  }
  void OnKernelStats(DataPlane&, absl::Span<const AssociationKernelStats> reads) override {
    Note([&] {
      for (const AssociationKernelStats& r : reads) latest_[r.id] = r;
    });
  }

  // The latest read of `id` that satisfies `want`, waited for.
  std::optional<AssociationKernelStats> AwaitRead(sctp_assoc_t id,
                                                  const std::function<bool(const AssociationKernelStats&)>& want) {
    std::optional<AssociationKernelStats> got;
    Wait([&] {
      auto it = latest_.find(id);
      if (it != latest_.end() && want(it->second)) got = it->second;
      return got.has_value();
    });
    return got;
  }
  std::map<sctp_assoc_t, uint64_t> messages_;
  std::map<sctp_assoc_t, bool> moved_;
  std::vector<std::pair<sctp_assoc_t, absl::Status>> errors_;
  std::map<sctp_assoc_t, AssociationKernelStats> latest_;
};

DataPlaneOptions Options() {
  DataPlaneOptions o;
  o.worker_cpus = {-1};
  o.worker.max_associations = 8;
  o.worker.buffer_count = 64;
  o.control.buffer_count = 64;
  o.worker.retain_budget = 16;
  o.control.retain_budget = 16;
  o.hotness.peel_messages_per_sec = 1e9;  // moves are the test's (PauseReceive)
  o.kernel_stats = {.interval = absl::Milliseconds(100), .stall_after = absl::Milliseconds(500)};
  return o;
}

std::unique_ptr<DataPlane> Start(const DataPlaneOptions& o, Watcher* w) {
  auto dp = DataPlane::Create(o, w);
  EXPECT_TRUE(dp.ok()) << dp.status();
  if (!dp.ok()) return nullptr;
  const absl::Status s = (*dp)->Start();
  EXPECT_TRUE(s.ok()) << s;
  return s.ok() ? *std::move(dp) : nullptr;
}

void SendSome(int fd, uint32_t from, uint32_t count) {
  for (uint32_t seq = from; seq < from + count; ++seq) {
    ASSERT_TRUE(testing::SendOn(fd, testing::Pattern(seq, 512), seq % kStreams, seq));
  }
}

// What every read of a healthy loopback association says, wherever it is read.
void ExpectHealthy(const AssociationKernelStats& k) {
  const SctpStatus& s = k.status;
  EXPECT_EQ(s.state, SCTP_ESTABLISHED) << SctpStateName(s.state);
  EXPECT_EQ(s.inbound_streams, kStreams);
  EXPECT_EQ(s.outbound_streams, kStreams);
  EXPECT_GT(s.peer_rwnd, 0u);
  EXPECT_GT(s.fragmentation_point, 0u);
  EXPECT_EQ(s.primary.address, "127.0.0.1");
  EXPECT_EQ(s.primary.state, SCTP_ACTIVE) << SctpPathStateName(s.primary.state);
  EXPECT_GT(s.primary.rto_ms, 0u);
  EXPECT_GT(s.primary.cwnd, 0u);
  ASSERT_EQ(s.paths.size(), 1u);
  EXPECT_TRUE(s.paths[0].primary);
  EXPECT_EQ(s.paths[0].address, "127.0.0.1");
  EXPECT_TRUE(s.has_counters) << "SCTP_GET_ASSOC_STATS (Linux 3.10+) did not answer";
  EXPECT_GT(s.counters.packets_in, 0u);
  EXPECT_GE(s.syscalls, 5u);  // STATUS, ASSOC_STATS, PR_ASSOC_STATUS, the addresses, one path
}

TEST(KernelStatsTest, ReadOnTheListenerThenOnTheWorkerAfterTheMove) {
  Watcher w;
  std::unique_ptr<DataPlane> dp = Start(Options(), &w);
  ASSERT_NE(dp, nullptr);
  Fd client = testing::Connect(Loopback(dp->port()), kStreams);
  const sctp_assoc_t id = w.IdForPort(LocalPort(client.get()));
  ASSERT_NE(id, 0);
  const int control = static_cast<int>(dp->workers());

  SendSome(client.get(), 0, 40);
  std::optional<AssociationKernelStats> cold = w.AwaitRead(
      id, [&](const AssociationKernelStats& k) { return k.status.counters.data_chunks_in >= 40; });
  ASSERT_TRUE(cold.has_value());
  EXPECT_EQ(cold->shard, control);
  ExpectHealthy(*cold);
  std::optional<AssociationKernelStats> queried = dp->KernelStats(id);
  ASSERT_TRUE(queried.has_value());
  EXPECT_GE(queried->status.counters.data_chunks_in, 40u);
  const std::vector<AssociationKernelStats> busiest = dp->BusiestKernelStats(5);
  ASSERT_EQ(busiest.size(), 1u);
  EXPECT_EQ(busiest[0].id, id);

  // A cold association is moved to be paused: then it lives on a worker.
  ASSERT_TRUE(dp->PauseReceive(id).ok());
  ASSERT_TRUE(w.Wait([&] { return w.moved_.count(id) > 0; }));
  ASSERT_TRUE(dp->ResumeReceive(id).ok());
  SendSome(client.get(), 40, 40);
  std::optional<AssociationKernelStats> hot = w.AwaitRead(id, [&](const AssociationKernelStats& k) {
    return k.shard != control && k.status.counters.data_chunks_in >= 80;
  });
  ASSERT_TRUE(hot.has_value());
  EXPECT_EQ(hot->shard, 0);
  ExpectHealthy(*hot);

  const DataPlaneStats s = dp->Snapshot();
  EXPECT_EQ(s.move_latency_us.count(), 1u);
  EXPECT_GE(s.kernel.reads, 2u);
  EXPECT_GE(s.kernel.syscalls, 8u);
  EXPECT_GE(s.kernel.data_chunks_in, 80u);
  EXPECT_EQ(s.kernel.associations, 1u);
  EXPECT_EQ(s.kernel.paths, 1u);
  EXPECT_EQ(s.kernel.paths_unreachable, 0u);
  EXPECT_EQ(s.kernel.stalls, 0u);
  std::lock_guard<std::mutex> l(w.mu_);
  EXPECT_TRUE(w.errors_.empty()) << w.errors_[0].second;
}

// Sends to `id` from the test thread until the data plane pushes back or
// `count` messages are accepted.
// Sends to `id` from the test thread, sequence-numbered (PPID and payload:
// the number; streams in turn), until the data plane pushes back or `count`
// messages are accepted: how many were.
uint32_t Flood(DataPlane& dp, sctp_assoc_t id, uint32_t count) {
  for (uint32_t seq = 0; seq < count; ++seq) {
    const SendResult r = dp.Send(id, static_cast<uint16_t>(seq % kStreams), seq, testing::Pattern(seq, 1024));
    if (r == SendResult::kQueueFull || r == SendResult::kNoBuffers) return seq;
    EXPECT_EQ(r, SendResult::kOk) << SendResultName(r);
  }
  return count;
}

// Reads `count` of Flood's messages from `fd`: each whole, and in order on
// its stream. The first thing wrong, or "".
std::string ReadInOrder(int fd, uint32_t count) {
  std::map<uint16_t, int64_t> last;
  for (uint32_t n = 0; n < count; ++n) {
    const testing::Received r = testing::Recv(fd);
    const uint32_t seq = testing::SeqOf(r.data);
    if (r.data != testing::Pattern(seq, 1024)) return "message " + std::to_string(n) + " missing or corrupt";
    int64_t& l = last.try_emplace(r.info.rcv_sid, -1).first->second;
    if (int64_t{seq} <= l) return "message " + std::to_string(seq) + " out of order";
    l = seq;
  }
  return "";
}

TEST(KernelStatsTest, APeerThatStopsReadingIsReportedOnceAsAStallThatEndsWhenItReads) {
  Watcher w;
  DataPlaneOptions o = Options();
  o.hotness.peel_all = true;  // on a worker, where sends are queued per association
  std::unique_ptr<DataPlane> dp = Start(o, &w);
  ASSERT_NE(dp, nullptr);
  Fd client = testing::Connect(Loopback(dp->port()), kStreams, /*rcvbuf=*/8192);
  const sctp_assoc_t id = w.IdForPort(LocalPort(client.get()));
  ASSERT_NE(id, 0);
  ASSERT_TRUE(w.Wait([&] { return w.moved_.count(id) > 0; }));

  // The client reads nothing: its window shuts and stays shut.
  const uint32_t accepted = Flood(*dp, id, 128);
  ASSERT_TRUE(w.Wait([&] { return !w.errors_.empty(); }));
  {
    std::lock_guard<std::mutex> l(w.mu_);
    ASSERT_EQ(w.errors_.size(), 1u);
    EXPECT_EQ(w.errors_[0].first, id);
    EXPECT_EQ(w.errors_[0].second.code(), absl::StatusCode::kDeadlineExceeded) << w.errors_[0].second;
    EXPECT_NE(w.errors_[0].second.message().find("stalled"), std::string::npos) << w.errors_[0].second;
  }
  std::optional<AssociationKernelStats> stalled = w.AwaitRead(id, [](const auto& k) { return k.stalled; });
  ASSERT_TRUE(stalled.has_value());
  EXPECT_EQ(stalled->status.peer_rwnd, 0u);
  // No default PR-SCTP policy: nothing waiting is given up.
  EXPECT_EQ(stalled->status.counters.abandoned_unsent + stalled->status.counters.abandoned_sent, 0u);
  EXPECT_EQ(dp->Snapshot().kernel.stalled, 1u);

  // It reads again: everything accepted arrives, in order; the stall ends,
  // reported once.
  EXPECT_EQ(ReadInOrder(client.get(), accepted), "");
  EXPECT_TRUE(w.AwaitRead(id, [](const auto& k) { return !k.stalled; }).has_value());
  const DataPlaneStats s = dp->Snapshot();
  EXPECT_EQ(s.kernel.stalls, 1u);
  std::lock_guard<std::mutex> l(w.mu_);
  EXPECT_EQ(w.errors_.size(), 1u);
}

// The listener's default PR-SCTP policy (SCTP_DEFAULT_PRINFO: TTL 50 ms)
// applies to the data plane's own sends, which name their stream and PPID
// (SCTP_SNDINFO) and no policy: to a peer that stops reading, what waits
// past its TTL is abandoned (the kernel's SCTP_PR_ASSOC_STATUS counts it).
void DefaultTtlAbandons(bool peeled) {
  Watcher w;
  DataPlaneOptions o = Options();
  o.hotness.peel_all = peeled;
  o.listener.tuning.pr_policy = PrPolicy::kTtl;
  o.listener.tuning.pr_value = 50;
  std::unique_ptr<DataPlane> dp = Start(o, &w);
  ASSERT_NE(dp, nullptr);
  Fd client = testing::Connect(Loopback(dp->port()), kStreams, /*rcvbuf=*/8192);
  const sctp_assoc_t id = w.IdForPort(LocalPort(client.get()));
  ASSERT_NE(id, 0);
  if (peeled) ASSERT_TRUE(w.Wait([&] { return w.moved_.count(id) > 0; }));
  Flood(*dp, id, 128);
  // Stalled for 500 ms: the messages waiting are past their 50 ms.
  ASSERT_TRUE(w.Wait([&] { return !w.errors_.empty(); }));
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    pollfd p{client.get(), POLLIN, 0};
    while (!stop.load()) {
      if (poll(&p, 1, 50) == 1) testing::Recv(client.get());
    }
  });
  std::optional<AssociationKernelStats> k = w.AwaitRead(id, [](const auto& k) {
    return k.status.counters.abandoned_unsent + k.status.counters.abandoned_sent > 0;
  });
  stop.store(true);
  reader.join();
  ASSERT_TRUE(k.has_value()) << "nothing abandoned: the default TTL did not apply";
  EXPECT_GT(dp->Snapshot().kernel.abandoned_unsent + dp->Snapshot().kernel.abandoned_sent, 0u);
}

TEST(KernelStatsTest, TheDefaultPrPolicyAppliesOnTheOneToManySocket) { DefaultTtlAbandons(/*peeled=*/false); }
TEST(KernelStatsTest, TheDefaultPrPolicyAppliesOnAPeeledSocket) { DefaultTtlAbandons(/*peeled=*/true); }

// netem on the guest's loopback, for one test.
class LossyLoopback {
 public:
  explicit LossyLoopback(const char* spec) {
    const std::string cmd = std::string("PATH=$PATH:/usr/sbin:/sbin tc qdisc add dev lo root netem ") + spec;
    ok_ = std::system(cmd.c_str()) == 0;
  }
  ~LossyLoopback() {
    if (ok_) (void)!std::system("PATH=$PATH:/usr/sbin:/sbin tc qdisc del dev lo root");
  }
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

TEST(KernelStatsTest, RetransmissionsRiseUnderLoss) {
  Watcher w;
  w.echo = true;
  std::unique_ptr<DataPlane> dp = Start(Options(), &w);
  ASSERT_NE(dp, nullptr);
  Fd client = testing::Connect(Loopback(dp->port()), kStreams);
  const sctp_assoc_t id = w.IdForPort(LocalPort(client.get()));
  ASSERT_NE(id, 0);
  LossyLoopback loss("loss 10%");
  ASSERT_TRUE(loss.ok()) << "tc qdisc add dev lo root netem: failed";
  // Round trips until the data plane's echoes have been retransmitted (a
  // thread, so that the wait is on the reads, not on a clock).
  std::atomic<bool> stop{false};
  std::thread peer([&] {
    for (uint32_t seq = 0; !stop.load(); ++seq) {
      if (!testing::SendOn(client.get(), testing::Pattern(seq, 256), seq % kStreams, seq)) return;
      const testing::Received r = testing::Recv(client.get());
      if (testing::SeqOf(r.data) != seq) return ADD_FAILURE() << "echo " << seq << " lost or out of order";
    }
  });
  std::optional<AssociationKernelStats> k =
      w.AwaitRead(id, [](const auto& k) { return k.status.counters.retransmitted_chunks > 0; });
  stop.store(true);
  peer.join();
  ASSERT_TRUE(k.has_value());
  EXPECT_GT(dp->Snapshot().kernel.retransmitted_chunks, 0u);
}

}  // namespace
}  // namespace sctpdp
