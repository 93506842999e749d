// DataPlane on real kernel SCTP (in the guest): hot associations are peeled
// off to workers while sporadic ones stay on the one-to-many socket, and
// sequence-numbered messages on several streams continue through the move
// with no gap, duplicate or reorder per stream, in both directions (the
// server echoes every message through DataPlane::Send), while the senders
// never pause. Also: EMFILE at peeloff, a peer abort during traffic, the
// association limit, and 1,000 idle associations beside 4 hot ones.
#include "control/data_plane.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <tuple>
#include <map>
#include <mutex>
#include <optional>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "control/reply_queue.h"
#include "tests/sctp_test_util.h"
#include "tests/waiting_handler.h"

namespace sctpdp {
namespace {

using testing::LocalPort;
using testing::Loopback;

using testing::Pattern;
using testing::SeqOf;
using testing::Connect;

constexpr int kStreams = 4;

// Records what the application sees, per association and stream, and echoes
// every message back through a ReplyQueue (in order under backpressure, from
// the receive buffer where it can).
class Recorder : public testing::WaitingHandler {
 public:
  bool echo = true;
  bool send_on_shutdown = false;  // send to an association the peer is shutting down
  std::unique_ptr<ReplyQueue> replies;

  // Creates and starts a data plane that reports to this recorder.
  std::unique_ptr<DataPlane> Start(const DataPlaneOptions& options) {
    auto dp = DataPlane::Create(options, this);
    EXPECT_TRUE(dp.ok()) << dp.status();
    if (!dp.ok()) return nullptr;
    replies = std::make_unique<ReplyQueue>(dp->get(), /*pause_at=*/0);  // the tests pause when they mean to
    const absl::Status s = (*dp)->Start();
    EXPECT_TRUE(s.ok()) << s;
    return s.ok() ? *std::move(dp) : nullptr;
  }

  void OnEvent(DataPlane& dp, sctp_assoc_t id, const AssociationEvent& ev) override {
    if (send_on_shutdown && ev.type == EventType::kShutdown) dp.Send(id, 0, 0, std::string("too late"));
  }
  void OnMessage(DataPlane& dp, const MessageView& m) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      auto& last = last_seq_[m.assoc_id].try_emplace(m.stream, -1).first->second;
      const int64_t seq = m.ppid;
      if (seq <= last) ++violations_;
      last = seq;
      ++messages_[m.assoc_id];
      ++total_;
      cv_.notify_all();
    }
    if (!echo) return;
    const SendResult r = replies->Echo(m);
    if (r != SendResult::kOk) {
      std::lock_guard<std::mutex> l(mu_);
      ++echo_failures_;
      last_echo_failure_ = SendResultName(r);
    }
  }
  void OnWritable(DataPlane&, sctp_assoc_t id) override {
    replies->OnWritable(id);
    std::lock_guard<std::mutex> l(mu_);
    ++writable_;
    ++writable_by_[id];
    cv_.notify_all();
  }
  void OnMoved(DataPlane&, sctp_assoc_t id, int worker) override {
    std::lock_guard<std::mutex> l(mu_);
    moved_.insert(id);
    cv_.notify_all();
  }
  void OnError(DataPlane&, sctp_assoc_t id, const absl::Status& e) override {
    std::lock_guard<std::mutex> l(mu_);
    errors_.push_back(e);
    cv_.notify_all();
  }
  void OnAssociationDown(DataPlane&, sctp_assoc_t id, DownReason reason, const AssocStats&) override {
    replies->OnAssociationDown(id);
    std::lock_guard<std::mutex> l(mu_);
    downs_[id] = reason;
    cv_.notify_all();
  }

  std::map<sctp_assoc_t, std::map<uint16_t, int64_t>> last_seq_;
  std::map<sctp_assoc_t, uint64_t> messages_;
  std::set<sctp_assoc_t> moved_;
  std::map<sctp_assoc_t, uint64_t> writable_by_;
  std::map<sctp_assoc_t, DownReason> downs_;
  std::vector<absl::Status> errors_;
  uint64_t total_ = 0, violations_ = 0, echo_failures_ = 0, writable_ = 0;
  std::string last_echo_failure_;
};

DataPlaneOptions SmallOptions() {
  DataPlaneOptions o;
  o.worker_cpus = {-1, -1};
  o.worker.max_associations = 64;
  o.worker.buffer_count = 256;
  o.worker.retain_budget = 16;
  o.worker.send_buffer_count = 8192;  // more than every echo in flight
  o.worker.send_buffer_size = 4096;
  o.worker.send_queue_limit = 4096;
  o.control.buffer_count = 256;
  o.control.retain_budget = 16;
  o.control.send_buffer_count = 8192;
  o.control.send_buffer_size = 4096;
  o.control.send_queue_limit = 4096;
  o.max_peeled_per_worker = 32;
  o.hotness.peel_messages_per_sec = 50;
  o.hotness.window = absl::Milliseconds(500);
  o.hotness.sustain = absl::Milliseconds(200);
  return o;
}

// Reads `count` echoes, checking per-stream order; returns false on a gap,
// duplicate or reorder.
bool ReadEchoes(int fd, uint32_t count, size_t size, std::string* why) {
  std::map<uint16_t, int64_t> last;
  std::set<uint32_t> seen;
  for (uint32_t n = 0; n < count; ++n) {
    testing::Received r = testing::Recv(fd);
    const uint32_t seq = SeqOf(r.data);
    if (r.data != Pattern(seq, size)) return *why = "corrupt or short echo", false;
    if (!seen.insert(seq).second) return *why = "duplicate " + std::to_string(seq), false;
    auto& l = last.try_emplace(r.info.rcv_sid, -1).first->second;
    if (int64_t{seq} <= l) return *why = "reordered on stream " + std::to_string(r.info.rcv_sid), false;
    l = seq;
  }
  return seen.size() == count ? true : (*why = "missing", false);
}

// A hot client: a sender that never pauses (until its association has moved
// and it sent at least `at_least`; bounded) and a reader of the echoes that
// checks them per stream.
struct HotClient {
  Fd fd;
  sctp_assoc_t id = 0;
  std::atomic<uint32_t> sent{0};
  std::atomic<bool> done{false};
  std::string failure;

  void Send(Recorder& rec, uint32_t at_least, size_t size) {
    for (uint32_t seq = 0; seq < 50 * at_least; ++seq) {
      if (seq >= at_least && seq % 50 == 0) {
        std::lock_guard<std::mutex> l(rec.mu_);
        if (rec.moved_.count(id)) break;
      }
      if (!testing::SendOn(fd.get(), Pattern(seq, size), seq % kStreams, seq)) break;
      sent.store(seq + 1);
    }
    done.store(true);
  }
  void ReadEchoes(size_t size) {
    std::map<uint16_t, int64_t> last;
    for (uint32_t n = 0; !(done.load() && n == sent.load()); ++n) {
      testing::Received r = testing::Recv(fd.get());
      const uint32_t seq = SeqOf(r.data);
      if (r.data != Pattern(seq, size)) return void(failure = "corrupt, short or missing echo");
      auto& l = last.try_emplace(r.info.rcv_sid, -1).first->second;
      if (int64_t{seq} <= l) return void(failure = "duplicate or reorder on stream " + std::to_string(r.info.rcv_sid));
      l = seq;
    }
  }
};

TEST(DataPlaneTest, HotAreMovedSporadicStayAndNothingIsLostOrReorderedEitherWay) {
  Recorder rec;
  std::unique_ptr<DataPlane> dp = rec.Start(SmallOptions());
  ASSERT_NE(dp, nullptr);
  const sockaddr_in server = Loopback(dp->port());
  constexpr int kHot = 4, kCold = 8;
  constexpr uint32_t kHotMessages = 1500, kColdMessages = 3;
  constexpr size_t kSize = 200;
  std::vector<HotClient> hot(kHot);
  std::vector<Fd> cold;
  for (HotClient& h : hot) h.fd = testing::Connect(server, kStreams);
  for (int i = 0; i < kCold; ++i) cold.push_back(testing::Connect(server, kStreams));
  for (HotClient& h : hot) h.id = rec.IdForPort(LocalPort(h.fd.get()));
  std::vector<sctp_assoc_t> cold_ids;
  for (auto& c : cold) cold_ids.push_back(rec.IdForPort(LocalPort(c.get())));
  std::vector<std::thread> threads;
  for (HotClient& h : hot) {
    threads.emplace_back([&] { h.Send(rec, kHotMessages, kSize); });
    threads.emplace_back([&] { h.ReadEchoes(kSize); });
  }
  // Sporadic: a message now and then (paced: this is load, not a wait).
  for (uint32_t seq = 0; seq < kColdMessages; ++seq) {
    for (auto& c : cold) ASSERT_TRUE(testing::SendOn(c.get(), Pattern(seq, kSize), seq % kStreams, seq));
    timespec pause{0, 300'000'000};
    nanosleep(&pause, nullptr);
  }
  for (auto& c : cold) {
    std::string why;
    EXPECT_TRUE(ReadEchoes(c.get(), kColdMessages, kSize, &why)) << why;
  }
  for (auto& t : threads) t.join();
  std::lock_guard<std::mutex> l(rec.mu_);
  EXPECT_EQ(rec.violations_, 0u);
  EXPECT_EQ(rec.echo_failures_, 0u) << rec.last_echo_failure_;
  for (const HotClient& h : hot) {
    EXPECT_EQ(h.failure, "") << "hot association " << h.id;
    EXPECT_EQ(rec.messages_[h.id], h.sent.load()) << h.id;
    EXPECT_TRUE(rec.moved_.count(h.id)) << "hot association " << h.id << " was not moved";
    EXPECT_EQ(dp->Association(h.id)->location, Location::kWorker);
  }
  for (sctp_assoc_t id : cold_ids) {
    EXPECT_EQ(rec.messages_[id], kColdMessages) << id;
    EXPECT_FALSE(rec.moved_.count(id)) << "sporadic association " << id << " was moved";
    EXPECT_EQ(dp->Association(id)->location, Location::kControl);
  }
  const DataPlaneStats s = dp->Snapshot();
  EXPECT_EQ(s.peeled, uint64_t{kHot});
  EXPECT_EQ(s.on_workers, size_t{kHot});
  EXPECT_EQ(s.on_control, size_t{kCold});
  std::printf("control: %llu msgs in, workers: %llu msgs in, peeled %llu, held runs flushed %llu\n",
              (unsigned long long)s.control.totals.messages_in, (unsigned long long)s.workers.totals.messages_in,
              (unsigned long long)s.peeled, (unsigned long long)(s.control.held_flushes + s.workers.held_flushes));
}

// Each client sends `each` messages of `size` bytes (Pattern) round-robin
// over `streams` streams, at most `window` awaiting their echo, and checks
// the echoes come back in order; one thread per client. What failed, per
// client ("" for none).
std::vector<std::string> EchoInWindows(std::vector<Fd>& clients, uint32_t each, uint32_t window, size_t size,
                                       uint16_t streams) {
  std::vector<std::thread> threads;
  std::vector<std::string> failures(clients.size());
  for (size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back([&, i] {
      uint32_t echoed = 0;
      for (uint32_t seq = 0; seq < each; ++seq) {
        if (!testing::SendOn(clients[i].get(), Pattern(seq, size), seq % streams, seq / streams)) {
          return void(failures[i] = "send failed");
        }
        for (; seq + 1 - echoed >= window || (seq + 1 == each && echoed < each); ++echoed) {
          if (SeqOf(testing::Recv(clients[i].get()).data) != echoed) return void(failures[i] = "echo out of order");
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return failures;
}

// Echo on workers (every association peeled at once), in a closed loop that
// keeps each worker's retained buffers within budget: the per-message path
// takes no shared lock, copies no payload in user space and hands nothing
// across threads. Counted, not timed.
TEST(DataPlaneTest, EchoOnWorkersTakesNoSharedLockAndCopiesNothingPerMessage) {
  Recorder rec;
  DataPlaneOptions o = SmallOptions();
  o.hotness.peel_all = true;
  o.worker.retain_budget = 120;
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  constexpr int kAssocs = 4, kWindow = 8;
  constexpr uint32_t kEach = 1500;
  constexpr size_t kSize = 300;
  std::vector<Fd> clients;
  std::vector<sctp_assoc_t> ids;
  for (int i = 0; i < kAssocs; ++i) {
    clients.push_back(testing::Connect(Loopback(dp->port()), kStreams));
    ids.push_back(rec.IdForPort(LocalPort(clients.back().get())));
  }
  ASSERT_TRUE(rec.Wait([&] { return rec.moved_.size() == kAssocs; }));
  const DataPlaneStats before = dp->Snapshot();
  for (const std::string& f : EchoInWindows(clients, kEach, kWindow, kSize, kStreams)) EXPECT_EQ(f, "");
  const DataPlaneStats after = dp->Snapshot();
  const uint64_t messages = uint64_t{kAssocs} * kEach;
  // Counted when received (before its echo left): every echo came back above.
  EXPECT_EQ(after.workers.totals.messages_in - before.workers.totals.messages_in, messages);
  EXPECT_EQ(after.send_copies - before.send_copies, 0u);
  EXPECT_EQ(after.workers.totals.reassemblies - before.workers.totals.reassemblies, 0u);
  EXPECT_EQ(after.cross_thread_sends - before.cross_thread_sends, 0u);
  const double locks_per_message = double(after.shared_locks - before.shared_locks) / double(messages);
  std::printf("%llu echoes: %.4f shared-lock acquisitions and %llu copies per message\n",
              (unsigned long long)messages, locks_per_message,
              (unsigned long long)(after.send_copies - before.send_copies));
  EXPECT_LE(locks_per_message, 0.01);
}

// Echo of cold associations on the one-to-many socket (never peeled): within
// the control thread's retain budget every echo goes from its receive
// buffer, no copy; past it (a burst) Retain refuses and each refused echo is
// copied once, which is all that is copied (retain_refused == send_copies).
TEST(DataPlaneTest, EchoOnTheOneToManySocketCopiesOnlyPastTheRetainBudget) {
  Recorder rec;
  DataPlaneOptions o = SmallOptions();
  o.hotness.peel_messages_per_sec = 1e9;  // none is ever hot
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  constexpr int kAssocs = 4, kWindow = 2;  // 8 in flight, within retain_budget (16)
  constexpr uint32_t kEach = 500, kBurst = 300;
  constexpr size_t kSize = 300;
  std::vector<Fd> clients;
  for (int i = 0; i < kAssocs; ++i) {
    clients.push_back(testing::Connect(Loopback(dp->port()), kStreams));
    rec.IdForPort(LocalPort(clients.back().get()));
  }
  const DataPlaneStats before = dp->Snapshot();
  for (const std::string& f : EchoInWindows(clients, kEach, kWindow, kSize, 1)) EXPECT_EQ(f, "");
  const DataPlaneStats within = dp->Snapshot();
  EXPECT_EQ(within.control.totals.messages_in - before.control.totals.messages_in, uint64_t{kAssocs} * kEach);
  EXPECT_EQ(within.on_control, size_t{kAssocs});
  EXPECT_EQ(within.send_copies - before.send_copies, 0u);
  EXPECT_EQ(within.move_copies - before.move_copies, 0u);
  EXPECT_EQ(within.retain_refused - before.retain_refused, 0u);
  // A burst with no window: the replies wait for the socket's send chain
  // longer than the budget lasts.
  for (uint32_t seq = 0; seq < kBurst; ++seq) ASSERT_TRUE(testing::SendOn(clients[0].get(), Pattern(seq, kSize), 0, seq));
  std::string why;
  EXPECT_TRUE(ReadEchoes(clients[0].get(), kBurst, kSize, &why)) << why;
  const DataPlaneStats after = dp->Snapshot();
  const uint64_t refused = after.retain_refused - within.retain_refused;
  EXPECT_GT(refused, 0u) << "the burst never outran the retain budget";
  EXPECT_EQ(after.send_copies - within.send_copies, refused);
  EXPECT_EQ(after.move_copies, 0u);
  std::printf("%u echoes within the budget: 0 copies; a burst of %u: %llu refused, %llu copies\n",
              kAssocs * kEach, kBurst, (unsigned long long)refused, (unsigned long long)(after.send_copies - within.send_copies));
}

TEST(DataPlaneTest, PeerAbortDuringTrafficEndsItCleanly) {
  Recorder rec;
  rec.echo = false;
  std::unique_ptr<DataPlane> dp = rec.Start(SmallOptions());
  ASSERT_NE(dp, nullptr);
  Fd client = testing::Connect(Loopback(dp->port()), kStreams);
  sctp_assoc_t id = rec.IdForPort(LocalPort(client.get()));
  for (uint32_t seq = 0; seq < 600; ++seq) ASSERT_TRUE(testing::SendOn(client.get(), Pattern(seq, 100), 0, seq));
  linger lg{1, 0};
  ASSERT_EQ(setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  client.reset();  // ABORT, mid-stream
  ASSERT_TRUE(rec.Wait([&] { return rec.downs_.count(id) > 0; }));
  std::lock_guard<std::mutex> l(rec.mu_);
  EXPECT_EQ(rec.downs_[id], DownReason::kCommLost);
  EXPECT_EQ(rec.violations_, 0u);
  EXPECT_FALSE(dp->Association(id).has_value());
  EXPECT_EQ(dp->Snapshot().associations, 0u);
}

TEST(DataPlaneTest, PeeloffOutOfDescriptorsIsReportedAndCounted) {
  Recorder rec;
  DataPlaneOptions o = SmallOptions();
  o.hotness.peel_all = true;
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  Fd client(socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
  ASSERT_TRUE(client);
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  int probe = dup(0);
  close(probe);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(probe);  // no new descriptor for anyone
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  sockaddr_in server = Loopback(dp->port());
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&server), sizeof(server)), 0);
  const bool down = rec.Wait([&] { return !rec.downs_.empty(); }, absl::Seconds(30));
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_TRUE(down);
  std::lock_guard<std::mutex> l(rec.mu_);
  EXPECT_EQ(rec.downs_.begin()->second, DownReason::kError);
  EXPECT_EQ(dp->Snapshot().peel_no_fds, 1u);
  bool reported = false;
  for (const auto& e : rec.errors_) reported |= e.code() == absl::StatusCode::kResourceExhausted;
  EXPECT_TRUE(reported);
}

// One client association to `dp`; its id as the application knows it.
sctp_assoc_t ConnectOne(DataPlane& dp, Recorder& rec, Fd* client) {
  *client = Connect(Loopback(dp.port()));
  return rec.IdForPort(LocalPort(client->get()));
}

// With `id` paused: sends from `client` until they block, checks that the
// server's window is closed, resumes, and checks every message arrived in
// order per stream.
void FillPausedThenResume(DataPlane& dp, Recorder& rec, const Fd& client, sctp_assoc_t id) {
  // Send until the closed window (then the client's own send buffer) blocks.
  const std::string payload(1024, 'p');
  uint32_t sent = 0;
  bool blocked = false;
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (!blocked && absl::Now() < give_up) {
    // Per-stream sequence in the PPID, as the Recorder checks.
    if (testing::TrySendOn(client.get(), payload, static_cast<uint16_t>(sent % kStreams), sent / kStreams,
                           MSG_DONTWAIT) < 0) {
      ASSERT_EQ(errno, EAGAIN) << std::strerror(errno);
      blocked = true;
    } else {
      ++sent;
    }
  }
  ASSERT_TRUE(blocked) << "the client never blocked after " << sent << " messages: the worker kept reading";
  // The send buffer can also free up while the server's kernel still takes
  // data into its receive buffer: send on until no room comes for 2 s.
  pollfd p{client.get(), POLLOUT, 0};
  while (poll(&p, 1, 2000) == 1) {
    if (testing::TrySendOn(client.get(), payload, static_cast<uint16_t>(sent % kStreams), sent / kStreams,
                           MSG_DONTWAIT) >= 0) {
      ++sent;
    }
  }
  // The kernel's view: the server's advertised window is closed.
  sctp_status st{};
  socklen_t len = sizeof(st);
  ASSERT_EQ(getsockopt(client.get(), IPPROTO_SCTP, SCTP_STATUS, &st, &len), 0) << std::strerror(errno);
  EXPECT_LT(st.sstat_rwnd, payload.size()) << "peer window still open with the receive paused";
  uint64_t while_paused = 0;
  {
    std::lock_guard<std::mutex> l(rec.mu_);
    while_paused = rec.messages_[id];
  }
  EXPECT_LT(while_paused, sent);
  ASSERT_TRUE(dp.ResumeReceive(id).ok());
  ASSERT_TRUE(rec.Wait([&] { return rec.messages_[id] >= sent; }));
  std::lock_guard<std::mutex> l(rec.mu_);
  EXPECT_EQ(rec.messages_[id], sent);
  EXPECT_EQ(rec.violations_, 0u);
  EXPECT_EQ(dp.Snapshot().workers.recv_pauses, 1u);
}

// Receive flow control on a real SCTP association: paused, the worker stops
// reading, the kernel closes the window and the client's non-blocking sends
// end in EAGAIN; resumed, every message arrives, in order.
TEST(DataPlaneTest, PausedReceiveClosesThePeersWindowAndResumeDeliversInOrder) {
  Recorder rec;
  rec.echo = false;
  DataPlaneOptions o = SmallOptions();
  o.hotness.peel_all = true;
  o.listener.rcvbuf = 256 << 10;  // a window the client fills quickly
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  Fd client;
  const sctp_assoc_t id = ConnectOne(*dp, rec, &client);
  ASSERT_NE(id, 0);
  ASSERT_TRUE(rec.Wait([&] { return rec.moved_.count(id) > 0; }));
  EXPECT_EQ(dp->PauseReceive(424242).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(dp->PauseReceive(id).ok());
  FillPausedThenResume(*dp, rec, client, id);
}

// An association whose replies are stuck on the one-to-many socket (the
// client does not read, its window is shut, the listener's send waits for
// POLLOUT) still moves: the control thread cancels the listener's chain,
// the unsent replies go back in order and follow it. The move is asked for
// with PauseReceive once the listener is seen congested, so the timing is
// the test's, not the hotness policy's. Then the client reads every reply,
// in order per stream.
TEST(DataPlaneTest, ACongestedListenerDoesNotHoldAnAssociationBack) {
  Recorder rec;
  DataPlaneOptions o = SmallOptions();
  o.listener.sndbuf = 32 << 10;           // congested after a few replies
  o.hotness.peel_messages_per_sec = 1e9;  // nothing moves by itself
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  Fd client;
  const sctp_assoc_t id = ConnectOne(*dp, rec, &client);
  ASSERT_NE(id, 0);
  const std::string payload(1024, 'c');
  uint32_t sent = 0;
  // Congested: the listener's queue is full, so the application holds
  // replies, and its send chain waits for POLLOUT in the kernel (the client
  // reads nothing, so it stays there).
  bool congested = false;
  for (const absl::Time until = absl::Now() + absl::Seconds(60); !congested && absl::Now() < until;) {
    if (testing::SendOn(client.get(), payload, static_cast<uint16_t>(sent % kStreams), sent / kStreams)) ++sent;
    if (sent % 16 == 0) congested = rec.replies->waiting() > 0;
  }
  ASSERT_TRUE(congested) << "the listener never backed up after " << sent << " messages";
  ASSERT_TRUE(dp->PauseReceive(id).ok());  // moves it: it is cold
  ASSERT_TRUE(rec.Wait([&] { return rec.moved_.count(id) > 0; }, absl::Seconds(60)));
  // Usually the listener's chain is stuck in the kernel when the move comes
  // and is cancelled first (peel_waits); between two chains it is not (seen
  // in CI, 680fc26; the expectation had come back with ae1b3a5). Either way
  // every reply must arrive, in order.
  std::printf("peel waits: %llu\n", (unsigned long long)dp->Snapshot().peel_waits);
  ASSERT_TRUE(dp->ResumeReceive(id).ok());
  // Every reply, in order per stream, whether sent before or after the move.
  std::vector<uint32_t> next(kStreams, 0);
  for (uint32_t got = 0; got < sent; ++got) {
    testing::Received r = testing::Recv(client.get());
    if (!r.has_rcvinfo) {
      const DataPlaneStats st = dp->Snapshot();
      std::lock_guard<std::mutex> l(rec.mu_);
      FAIL() << "reply " << got << " of " << sent << " missing; out: control " << st.control.totals.messages_out
             << ", workers " << st.workers.totals.messages_out << "; queued: control "
             << st.control.totals.send_queue_depth << ", workers " << st.workers.totals.send_queue_depth
             << "; EAGAIN " << st.workers.totals.send_eagain << "; replies waiting " << rec.replies->waiting()
             << "; echo failures " << rec.echo_failures_ << " " << rec.last_echo_failure_;
    }
    const uint16_t stream = r.info.rcv_sid;
    ASSERT_LT(stream, kStreams);
    ASSERT_EQ(ntohl(r.info.rcv_ppid), next[stream]) << "stream " << stream;  // PPIDs travel in network order
    ++next[stream];
  }
}

// A peer that sends and stops reading holds at most send_queue_bytes of the
// server's send memory: its echoes fill the kernel's send buffer, then the
// queue up to the byte bound (well below the message bound), then Send says
// kQueueFull (counted) and the application keeps the rest (ReplyQueue).
// When the peer reads, every echo arrives once, in order per stream.
void StalledPeerIsHeldToTheByteBound(bool peeled) {
  constexpr uint64_t kBound = 16 << 10;
  Recorder rec;
  DataPlaneOptions o = SmallOptions();
  o.listener.sndbuf = 32 << 10;
  o.worker.send_queue_bytes = o.control.send_queue_bytes = kBound;
  o.hotness.peel_all = peeled;
  o.hotness.peel_messages_per_sec = peeled ? o.hotness.peel_messages_per_sec : 1e9;
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  Fd client;
  const sctp_assoc_t id = ConnectOne(*dp, rec, &client);
  ASSERT_NE(id, 0);
  if (peeled) ASSERT_TRUE(rec.Wait([&] { return rec.moved_.count(id) > 0; }));
  uint32_t sent = 0;
  for (const absl::Time until = absl::Now() + absl::Seconds(60); rec.replies->waiting() == 0 && absl::Now() < until;) {
    ASSERT_TRUE(testing::SendOn(client.get(), Pattern(sent, 1024), static_cast<uint16_t>(sent % kStreams), sent));
    ++sent;
  }
  const DataPlaneStats st = dp->Snapshot();
  const AssocStats& held = (peeled ? st.workers : st.control).totals;
  std::printf("%u sent; at the bound: %llu queued, %llu bytes, %llu refusals\n", sent,
              (unsigned long long)held.send_queue_depth, (unsigned long long)held.send_queue_bytes,
              (unsigned long long)held.send_queue_full);
  ASSERT_GT(rec.replies->waiting(), 0u) << "never backed up after " << sent << " messages";
  EXPECT_GT(held.send_queue_full, 0u);
  EXPECT_LE(held.send_queue_bytes, kBound);
  std::string why;
  EXPECT_TRUE(ReadEchoes(client.get(), sent, 1024, &why)) << why;
}

TEST(DataPlaneTest, AStalledPeerIsHeldToTheByteBoundOnTheOneToManySocket) {
  StalledPeerIsHeldToTheByteBound(/*peeled=*/false);
}

TEST(DataPlaneTest, AStalledPeerIsHeldToTheByteBoundOnAWorker) { StalledPeerIsHeldToTheByteBound(/*peeled=*/true); }

// A cold association shares the one-to-many socket, which cannot stop for
// it alone: pausing moves it to a worker first, however cold, then pauses it.
TEST(DataPlaneTest, PausingAColdAssociationMovesItFirst) {
  Recorder rec;
  rec.echo = false;
  DataPlaneOptions o = SmallOptions();
  o.hotness.peel_messages_per_sec = 1e9;  // nothing moves by itself
  o.listener.rcvbuf = 256 << 10;
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  Fd client;
  const sctp_assoc_t id = ConnectOne(*dp, rec, &client);
  ASSERT_NE(id, 0);
  ASSERT_TRUE(dp->PauseReceive(id).ok());
  ASSERT_TRUE(rec.Wait([&] { return rec.moved_.count(id) > 0; }));
  FillPausedThenResume(*dp, rec, client, id);
  EXPECT_EQ(dp->Snapshot().peeled, 1u);
}

TEST(DataPlaneTest, OverTheAssociationLimitTheNewcomerIsAborted) {
  Recorder rec;
  DataPlaneOptions o = SmallOptions();
  o.max_associations = 2;
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  const sockaddr_in server = Loopback(dp->port());
  Fd a = testing::Connect(server, kStreams), b = testing::Connect(server, kStreams);
  rec.IdForPort(LocalPort(a.get()));
  rec.IdForPort(LocalPort(b.get()));
  // The newcomer is aborted at COMM_UP: its connect() fails, or its first
  // read does, depending on when the ABORT lands.
  Fd c(socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
  if (connect(c.get(), reinterpret_cast<const sockaddr*>(&server), sizeof(server)) == 0) {
    pollfd p{c.get(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 30000), 1);
    char buf[8];
    EXPECT_LE(recv(c.get(), buf, sizeof(buf), 0), 0);
  } else {
    EXPECT_TRUE(errno == ECONNREFUSED || errno == ECONNRESET) << std::strerror(errno);
  }
  ASSERT_TRUE(rec.Wait([&] { return !rec.errors_.empty(); }));
  EXPECT_EQ(dp->Snapshot().rejected, 1u);
  EXPECT_EQ(dp->Snapshot().associations, 2u);
}

// A send that fails for one association on the one-to-many socket (EPIPE:
// the peer shut down) is that association's error, not the socket's: the
// others carry on.
TEST(DataPlaneTest, OneAssociationsSendErrorLeavesTheOthersAlone) {
  Recorder rec;
  rec.send_on_shutdown = true;
  std::unique_ptr<DataPlane> dp = rec.Start(SmallOptions());
  ASSERT_NE(dp, nullptr);
  const sockaddr_in server = Loopback(dp->port());
  Fd quitter = testing::Connect(server, kStreams);
  Fd stayer = testing::Connect(server, kStreams);
  rec.IdForPort(LocalPort(quitter.get()));
  rec.IdForPort(LocalPort(stayer.get()));
  // SCTP SHUTDOWN: the server's send in OnEvent(kShutdown) fails (EPIPE).
  ASSERT_EQ(shutdown(quitter.get(), SHUT_WR), 0);
  ASSERT_TRUE(rec.Wait([&] { return !rec.errors_.empty(); }));
  for (uint32_t seq = 0; seq < 3; ++seq) {
    ASSERT_TRUE(testing::SendOn(stayer.get(), Pattern(seq, 50), 0, seq));
    EXPECT_EQ(SeqOf(testing::Recv(stayer.get()).data), seq);
  }
  EXPECT_EQ(dp->Snapshot().control.associations_active, 1u);  // the listener lives
}

// Bundling (WorkerOptions::bundle_sends, on by default) for an association
// moved to a worker, whose peer has a big receive window (the worker bundles
// only then: WorkerOptions::kMinBundlePeerWindow).
struct Bundled {
  Recorder rec;
  std::unique_ptr<DataPlane> dp;
  Fd client;
  sctp_assoc_t id = 0;

  void Start() {
    DataPlaneOptions o = SmallOptions();
    o.hotness.peel_all = true;
    o.worker.bundle_sends = true;
    o.listener.sndbuf = WorkerOptions::kMinBundleSndbuf / 2;  // the kernel doubles it
    dp = rec.Start(o);
    ASSERT_NE(dp, nullptr);
    client = testing::Connect(Loopback(dp->port()), kStreams, 2 << 20);
    id = rec.IdForPort(LocalPort(client.get()));
    ASSERT_TRUE(rec.Wait([&] {
      auto a = dp->Association(id);
      return a.has_value() && a->location == Location::kWorker;
    }));
  }
  // Message seq goes on stream seq % kStreams, numbered on from earlier
  // calls. Without `stop_when_full` the application's thread waits out
  // backpressure; with it, it stops once the kernel pushes back: a send
  // refused (EAGAIN), or the queue full for 2 s (a chain's first send waits
  // for room inside the kernel, which counts no EAGAIN). Returns how many
  // this call sent.
  uint32_t SendUpTo(uint32_t count, size_t size, bool stop_when_full) {
    const uint64_t eagain_before = dp->Snapshot().workers.totals.send_eagain;
    uint32_t sent = 0;
    while (sent < count) {
      const uint32_t seq = next_seq + sent;
      uint64_t writable_before;
      {
        std::lock_guard<std::mutex> l(rec.mu_);
        writable_before = rec.writable_;
      }
      const SendResult r = dp->Send(id, seq % kStreams, seq, Pattern(seq, size));
      if (IsBackpressure(r)) {
        if (stop_when_full && dp->Snapshot().workers.totals.send_eagain > eagain_before) break;
        // Until there is room (OnWritable); no room for 2 s: the kernel pushes back.
        const bool room = rec.Wait([&] { return rec.writable_ > writable_before; }, absl::Seconds(2));
        if (!room && stop_when_full) break;
        continue;
      }
      EXPECT_EQ(r, SendResult::kOk);
      if (r != SendResult::kOk) break;
      ++sent;
    }
    next_seq += sent;
    return sent;
  }
  // Reads `count` messages: in order within each stream (streams may
  // overtake each other), each once, and nothing missing from what was sent.
  void ExpectInOrder(uint32_t count, size_t size) {
    if (next.empty()) {
      for (uint16_t st = 0; st < kStreams; ++st) next.push_back(st);
    }
    for (uint32_t n = 0; n < count; ++n) {
      const auto got = testing::Recv(client.get());
      ASSERT_LT(got.info.rcv_sid, kStreams);
      uint32_t& want = next[got.info.rcv_sid];
      ASSERT_EQ(SeqOf(got.data), want) << "stream " << got.info.rcv_sid;
      ASSERT_EQ(got.data, Pattern(want, size));
      want += kStreams;
    }
    for (uint16_t st = 0; st < kStreams; ++st) EXPECT_GE(next[st], next_seq) << "stream " << st;
    std::lock_guard<std::mutex> l(rec.mu_);
    for (const absl::Status& e : rec.errors_) ADD_FAILURE() << e;
  }

  uint32_t next_seq = 0;       // the next message's sequence number
  std::vector<uint32_t> next;  // per stream: the sequence number expected next
};

// A burst from the application's thread goes in chains of MSG_MORE sends:
// every message arrives, none held back by the flag. A stream the association
// does not have is refused up front (kBadStream), not left for the kernel's
// EINVAL in the middle of a bundled run.
TEST(DataPlaneTest, BundledBurstsArriveWholeAndBadStreamsAreRefused) {
  Bundled b;
  ASSERT_NO_FATAL_FAILURE(b.Start());
  EXPECT_EQ(b.dp->Send(b.id, kStreams, 0, std::string("no such stream")), SendResult::kBadStream);
  EXPECT_EQ(b.dp->Send(b.id, 65535, 0, std::string("no such stream")), SendResult::kBadStream);
  constexpr uint32_t kBurst = 400;
  const uint32_t sent = b.SendUpTo(kBurst, 300, false);
  ASSERT_EQ(sent, kBurst);
  b.ExpectInOrder(sent, 300);
}

// The peer reads nothing until the worker's send buffer is full, then drains
// it all, a few times over. When the buffer fills right after a MSG_MORE
// send, the kernel refuses the next one (EAGAIN) and holds that run; the
// worker flushes it (WorkerStats::held_flushes, about 90 per fill). When it
// fills at a chain's first send, that send waits for room inside the kernel
// (about 1 fill in 7): no run is held then. Every message arrives, once, in
// order within its stream, and at least one fill took the flush.
TEST(DataPlaneTest, BundledRunsHeldBehindAFullBufferAreFlushedAndArriveInOrder) {
  Bundled b;
  ASSERT_NO_FATAL_FAILURE(b.Start());
  constexpr size_t kSize = 3000;
  constexpr uint32_t kMax = 20000;
  for (int fill = 0; fill < 6; ++fill) {
    const uint32_t sent = b.SendUpTo(kMax, kSize, true);
    ASSERT_LT(sent, kMax) << "the send buffer never filled";
    ASSERT_NO_FATAL_FAILURE(b.ExpectInOrder(sent, kSize));
    const DataPlaneStats s = b.dp->Snapshot();
    std::printf("fill %d: %u messages; so far %llu EAGAIN, %llu held runs flushed\n", fill, sent,
                (unsigned long long)s.workers.totals.send_eagain, (unsigned long long)s.workers.held_flushes);
    if (fill >= 1 && s.workers.held_flushes > 0) break;
  }
  EXPECT_GT(b.dp->Snapshot().workers.held_flushes, 0u);
}

// A message over max_message_size on the one-to-many socket: that
// association is aborted, its remaining pieces dropped; the socket and the
// other associations carry on.
TEST(DataPlaneTest, OversizeOnTheOneToManySocketAbortsOnlyThatAssociation) {
  Recorder rec;
  DataPlaneOptions o = SmallOptions();
  o.control.max_message_size = 50000;
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  const sockaddr_in server = Loopback(dp->port());
  Fd big = testing::Connect(server, kStreams);
  Fd other = testing::Connect(server, kStreams);
  const sctp_assoc_t big_id = rec.IdForPort(LocalPort(big.get()));
  rec.IdForPort(LocalPort(other.get()));
  int sndbuf = 1 << 20;
  ASSERT_EQ(setsockopt(big.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
  ASSERT_TRUE(testing::SendOn(big.get(), Pattern(0, 150000), 0, 0));
  ASSERT_TRUE(rec.Wait([&] { return rec.downs_.count(big_id) > 0; }));
  for (uint32_t seq = 0; seq < 3; ++seq) {
    ASSERT_TRUE(testing::SendOn(other.get(), Pattern(seq, 50), 1, seq));
    EXPECT_EQ(SeqOf(testing::Recv(other.get()).data), seq);
  }
  DataPlaneStats s = dp->Snapshot();
  EXPECT_EQ(s.control.oversize_messages, 1u);
  EXPECT_EQ(s.control.associations_active, 1u);  // the listener lives
  EXPECT_EQ(s.associations, 1u);
  std::lock_guard<std::mutex> l(rec.mu_);
  EXPECT_EQ(rec.messages_.count(big_id), 0u);  // never a piece of it
}

TEST(DataPlaneTest, ThousandIdleStayWhileFourHotAreMoved) {
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  lim.rlim_cur = lim.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  ASSERT_GE(lim.rlim_cur, 1100u);
  Recorder rec;
  rec.echo = false;
  std::unique_ptr<DataPlane> dp = rec.Start(SmallOptions());
  ASSERT_NE(dp, nullptr);
  const sockaddr_in server = Loopback(dp->port());
  std::vector<Fd> idle;
  for (int i = 0; i < 1000; ++i) idle.push_back(testing::Connect(server, kStreams));
  std::vector<Fd> hot;
  for (int i = 0; i < 4; ++i) hot.push_back(testing::Connect(server, kStreams));
  ASSERT_TRUE(rec.Wait([&] { return rec.by_port_.size() == 1004; }));
  // The hot ones send until they have been moved (bounded), without pause.
  std::vector<sctp_assoc_t> hot_ids;
  for (auto& h : hot) hot_ids.push_back(rec.IdForPort(LocalPort(h.get())));
  std::vector<std::thread> senders;
  std::atomic<uint64_t> sent{0};
  for (size_t i = 0; i < hot.size(); ++i) {
    senders.emplace_back([&, i] {
      for (uint32_t seq = 0; seq < 50000; ++seq) {
        if (seq % 50 == 0) {
          std::lock_guard<std::mutex> l(rec.mu_);
          if (rec.moved_.count(hot_ids[i]) && seq >= 200) break;
        }
        testing::SendOn(hot[i].get(), Pattern(seq, 100), seq % kStreams, seq);
        sent.fetch_add(1);
      }
    });
  }
  for (auto& t : senders) t.join();
  ASSERT_TRUE(rec.Wait([&] { return rec.total_ == sent.load(); }));
  DataPlaneStats s = dp->Snapshot();
  EXPECT_EQ(s.peeled, 4u);
  EXPECT_EQ(s.on_workers, 4u);
  EXPECT_EQ(s.on_control, 1000u);
  std::lock_guard<std::mutex> l(rec.mu_);
  EXPECT_EQ(rec.violations_, 0u);
}

// Sends `payload` to `id` on the thread that owns it (DataPlane::RunOn)
// and waits for the result.
SendResult SendOnOwner(DataPlane& dp, Recorder& rec, sctp_assoc_t id, const std::string& payload) {
  std::optional<SendResult> result;
  const absl::Status run = dp.RunOn(id, [&] {
    const SendResult r = dp.Send(id, 0, 0, payload);
    std::lock_guard<std::mutex> l(rec.mu_);
    result = r;
    rec.cv_.notify_all();
  });
  EXPECT_TRUE(run.ok()) << run;
  EXPECT_TRUE(rec.Wait([&] { return result.has_value(); }));
  return result.value_or(SendResult::kNoAssociation);
}

// The control thread's send memory is shared by its one-to-many sockets
// (here two connections'): an association refused because another socket's
// sends spent it hears OnWritable once they complete, although its own
// socket has nothing in flight to complete. (It used to wait for ever, and
// what the router held for it was dropped at Stop.)
TEST(DataPlaneTest, SendMemorySpentByAnotherSocketIsWaitedForNotForever) {
  Recorder rec;
  rec.echo = false;
  DataPlaneOptions o = SmallOptions();
  o.listen = false;
  o.hotness.peel_messages_per_sec = 1e9;  // both stay on the control thread
  o.control.send_buffer_count = 8;        // both sockets' messages in flight or queued, together
  o.cross_thread_limit = 32;
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  testing::Listener stalled = testing::MakeListener(), reader = testing::MakeListener();
  ConnectOptions c;
  c.remote = {"127.0.0.1"};
  c.sndbuf = 16 << 10;
  c.reconnect.enabled = false;
  for (const testing::Listener* l : {&stalled, &reader}) {
    c.port = ntohs(l->addr.sin_port);
    ASSERT_TRUE(dp->Connect(c).ok());
  }
  const sctp_assoc_t a = rec.IdForPort(ntohs(stalled.addr.sin_port)), b = rec.IdForPort(ntohs(reader.addr.sin_port));
  ASSERT_NE(a, 0);
  ASSERT_NE(b, 0);
  // The stalled peer reads nothing: its association's sends fill the
  // kernel, then the shared send memory, until a send to the other one is
  // refused for memory.
  const std::string payload(4000, 'a');
  uint64_t to_a = 0, to_b = 0;
  SendResult r = SendResult::kOk;
  for (int round = 0; round < 200 && r != SendResult::kNoBuffers; ++round) {
    while (dp->Send(a, 0, 0, payload) == SendResult::kOk) ++to_a;
    r = SendOnOwner(*dp, rec, b, "b");
    if (r == SendResult::kOk) ++to_b;
  }
  const DataPlaneStats st = dp->Snapshot();
  ASSERT_EQ(r, SendResult::kNoBuffers) << SendResultName(r) << " after " << to_a << " to a, " << to_b
                                        << " to b; control send buffers in use " << st.control.send_buffers_in_use
                                        << ", out " << st.control.totals.messages_out;
  // The stalled peer reads it all: the memory comes back, and b hears.
  for (uint64_t got = 0; got < to_a; ++got) {
    testing::Received m = testing::Recv(stalled.fd.get());
    ASSERT_TRUE(m.has_rcvinfo || (m.flags & MSG_NOTIFICATION)) << "message " << got << " of " << to_a;
    if (m.flags & MSG_NOTIFICATION) --got;
  }
  ASSERT_TRUE(rec.Wait([&] { return rec.writable_by_[b] > 0; }, absl::Seconds(60))) << "b never heard OnWritable";
  ASSERT_EQ(SendOnOwner(*dp, rec, b, "b"), SendResult::kOk);
  for (uint64_t got = 0; got <= to_b; ++got) {
    testing::Received m = testing::Recv(reader.fd.get());
    ASSERT_TRUE(m.has_rcvinfo || (m.flags & MSG_NOTIFICATION)) << "b's message " << got << " of " << to_b + 1;
    if (m.flags & MSG_NOTIFICATION) --got;
  }
}

// A handler that holds the first message until told, so the peer's
// messages pile up in the kernel behind a small buffer ring.
class HoldingRecorder : public Recorder {
 public:
  void OnMessage(DataPlane& dp, const MessageView& m) override {
    {
      std::unique_lock<std::mutex> l(hold_mu_);
      hold_cv_.wait(l, [&] { return released_; });
    }
    Recorder::OnMessage(dp, m);
  }
  void Release() {
    std::lock_guard<std::mutex> l(hold_mu_);
    released_ = true;
    hold_cv_.notify_all();
  }

 private:
  std::mutex hold_mu_;
  std::condition_variable hold_cv_;
  bool released_ = false;
};

// Waits until the kernel of `fd` has every message it was given acknowledged
// by the peer: SCTP_SENDER_DRY_EVENT (sent at once if already dry).
bool AwaitSenderDry(int fd) {
  sctp_event e{};
  e.se_type = SCTP_SENDER_DRY_EVENT;
  e.se_on = 1;
  if (setsockopt(fd, IPPROTO_SCTP, SCTP_EVENT, &e, sizeof(e)) != 0) return false;
  for (int i = 0; i < 16; ++i) {
    const testing::Received r = testing::Recv(fd);
    if (!(r.flags & MSG_NOTIFICATION) || r.data.size() < sizeof(sctp_sender_dry_event)) continue;
    const auto* sn = reinterpret_cast<const sctp_notification*>(r.data.data());
    if (sn->sn_header.sn_type == SCTP_SENDER_DRY_EVENT) return true;
  }
  return false;
}

// 200 numbered messages to a data plane whose handler holds the first one
// until Release: behind a ring of 8 receive buffers, the rest wait in the
// kernel, every one of them acknowledged to the client.
struct HeldBehindASmallRing {
  static constexpr uint32_t kMessages = 200;
  HoldingRecorder rec;
  std::unique_ptr<DataPlane> dp;
  Fd client;
  sctp_assoc_t id = 0;
  bool peeled = false;

  ~HeldBehindASmallRing() { rec.Release(); }  // before dp: its Stop must not wait on the handler
  // `cq_entries` 0: the default completion queue.
  void SetUp(bool peel, unsigned buffers = 8, unsigned cq_entries = 0) {
    peeled = peel;
    rec.echo = false;
    DataPlaneOptions o = SmallOptions();
    o.worker.buffer_count = o.control.buffer_count = buffers;
    if (cq_entries != 0) {
      o.worker.sq_entries = o.control.sq_entries = 8;
      o.worker.send_batch = o.control.send_batch = 8;
      o.worker.cq_entries = o.control.cq_entries = cq_entries;
    }
    o.worker.retain_budget = o.control.retain_budget = 2;
    o.hotness.peel_all = peeled;
    o.hotness.peel_messages_per_sec = peeled ? o.hotness.peel_messages_per_sec : 1e9;
    o.worker.stop_deadline = o.control.stop_deadline = absl::Seconds(60);  // a bound: done once read
    dp = rec.Start(o);
    ASSERT_NE(dp, nullptr);
    id = ConnectOne(*dp, rec, &client);
    ASSERT_NE(id, 0);
    if (peeled) {
      ASSERT_TRUE(rec.Wait([&] { return rec.moved_.count(id) > 0; }));
    }
    for (uint32_t seq = 0; seq < kMessages; ++seq) {
      ASSERT_TRUE(testing::SendOn(client.get(), Pattern(seq, 1024), 0, seq));
    }
    ASSERT_TRUE(AwaitSenderDry(client.get()));  // the server's kernel has every message
  }
  void ExpectAllInOrder() {
    std::lock_guard<std::mutex> l(rec.mu_);
    EXPECT_EQ(rec.messages_[id], kMessages);
    EXPECT_EQ(rec.violations_, 0u);
  }
  // Lets the handler go on, waits for every message and checks them; `ring`
  // gets the stats of the loop that served the association (its worker's,
  // or the control thread's).
  void ReleaseAndReadAll(WorkerStats* ring) {
    rec.Release();
    ASSERT_TRUE(rec.Wait([&] { return rec.messages_[id] >= kMessages; }));
    ExpectAllInOrder();
    const DataPlaneStats st = dp->Snapshot();
    *ring = peeled ? st.workers : st.control;
  }
};

// A handler slower than the peer: the ring of receive buffers runs dry
// (the multishot recvmsg ends with ENOBUFS, counted) and is armed again as
// buffers come back; every message arrives once, in order.
void SlowHandlerExhaustsTheRing(bool peeled) {
  HeldBehindASmallRing h;
  h.SetUp(peeled);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  WorkerStats ring;
  h.ReleaseAndReadAll(&ring);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  EXPECT_GT(ring.enobufs, 0u);
}

TEST(DataPlaneTest, ASlowHandlerRunsTheRingDryAndLosesNothingOnTheOneToManySocket) {
  SlowHandlerExhaustsTheRing(/*peeled=*/false);
}

TEST(DataPlaneTest, ASlowHandlerRunsTheRingDryAndLosesNothingOnAWorker) { SlowHandlerExhaustsTheRing(/*peeled=*/true); }

// Two peers each partway through a 4 MiB message on one worker, whose
// reassemblies may hold 5 MiB together: the one whose growth would pass
// that is aborted (ResourceExhausted, counted in reassembly_refused) and its
// memory freed; the other's message arrives whole. A 64 KiB receive buffer
// makes both arrive in pieces at once (each window-limited), as a pair of
// hostile peers would send them.
TEST(DataPlaneTest, ReassembliesTogetherAreHeldToTheBudget) {
  constexpr size_t kSize = 4 << 20;
  Recorder rec;
  rec.echo = false;
  DataPlaneOptions o = SmallOptions();
  o.worker_cpus = {-1};  // both on one worker: one budget
  o.hotness.peel_all = true;
  o.listener.rcvbuf = 64 << 10;
  o.worker.max_message_size = o.control.max_message_size = kSize;
  o.worker.max_reassembly_bytes = o.control.max_reassembly_bytes = kSize + (1 << 20);
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  Fd client[2];
  sctp_assoc_t id[2];
  for (int i = 0; i < 2; ++i) {
    id[i] = ConnectOne(*dp, rec, &client[i]);
    ASSERT_NE(id[i], 0);
    const int sndbuf = 2 * kSize;  // a message may not be larger than the send buffer
    ASSERT_EQ(setsockopt(client[i].get(), SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)), 0);
  }
  ASSERT_TRUE(rec.Wait([&] { return rec.moved_.count(id[0]) && rec.moved_.count(id[1]); }));
  std::thread senders[2];
  for (int i = 0; i < 2; ++i) {
    senders[i] = std::thread([&, i] { (void)testing::TrySendOn(client[i].get(), std::string(kSize, 'a' + i), 0, 0, 0); });
  }
  const bool ended = rec.Wait([&] { return rec.total_ + rec.downs_.size() >= 2; }, absl::Seconds(120));
  for (std::thread& t : senders) t.join();
  ASSERT_TRUE(ended) << "neither message ended";
  const DataPlaneStats st = dp->Snapshot();
  std::lock_guard<std::mutex> l(rec.mu_);
  std::printf("refused %llu; whole messages %llu; associations down %zu; held now %llu bytes\n",
              (unsigned long long)st.workers.reassembly_refused, (unsigned long long)rec.total_, rec.downs_.size(),
              (unsigned long long)st.workers.reassembly_bytes);
  EXPECT_EQ(st.workers.reassembly_refused, 1u);
  EXPECT_EQ(rec.total_, 1u);
  ASSERT_EQ(rec.downs_.size(), 1u);
  const sctp_assoc_t refused = rec.downs_.begin()->first;
  EXPECT_TRUE(refused == id[0] || refused == id[1]);
  EXPECT_EQ(rec.messages_[refused == id[0] ? id[1] : id[0]], 1u);
  EXPECT_EQ(rec.downs_.begin()->second, DownReason::kOversize) << DownReasonName(rec.downs_.begin()->second);
  bool reported = false;
  for (const auto& e : rec.errors_) reported |= e.code() == absl::StatusCode::kResourceExhausted;
  EXPECT_TRUE(reported);
  EXPECT_LT(st.workers.reassembly_bytes, kSize);  // the refused one's memory went back
}

// A completion queue smaller than what one wake-up brings: behind a held
// handler 200 messages gather in the kernel, and 64 receive buffers meet a
// 16-entry CQ. Completions past it wait in the kernel's overflow list
// (IORING_FEAT_NODROP; counted in cq_overflows), the multishot receive that
// could not post ends and is armed again; none is dropped, every message
// arrives once, in order.
void CompletionQueueOverflows(bool peeled) {
  HeldBehindASmallRing h;
  h.SetUp(peeled, /*buffers=*/64, /*cq_entries=*/16);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  WorkerStats ring;
  h.ReleaseAndReadAll(&ring);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  std::printf("cq_overflows %llu, cq_dropped %llu, recv_rearms %llu\n", (unsigned long long)ring.cq_overflows,
              (unsigned long long)ring.cq_dropped, (unsigned long long)ring.recv_rearms);
  EXPECT_GT(ring.cq_overflows, 0u) << "the CQ never overflowed: the case did not happen";
  EXPECT_EQ(ring.cq_dropped, 0u);
}

TEST(DataPlaneTest, ACompletionQueueOverflowLosesNothingOnTheOneToManySocket) {
  CompletionQueueOverflows(/*peeled=*/false);
}

TEST(DataPlaneTest, ACompletionQueueOverflowLosesNothingOnAWorker) { CompletionQueueOverflows(/*peeled=*/true); }

// Stop with messages the kernel acknowledged to the peer still unread: each
// reaches OnMessage before its socket closes. (Stop used to close a socket
// as soon as its sends had drained, and what the kernel held was lost.)
void StopReadsWhatTheKernelAcknowledged(bool peeled) {
  HeldBehindASmallRing h;
  h.SetUp(peeled);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  std::thread stopper([&] { h.dp->Stop(); });
  // Stop has begun once sends are refused as closing; then the handler goes on.
  while (h.dp->Send(h.id + 1000, 0, 0, std::string()) != SendResult::kClosing) std::this_thread::yield();
  h.rec.Release();
  stopper.join();
  h.ExpectAllInOrder();
}

TEST(DataPlaneTest, StopReadsWhatTheKernelAcknowledgedOnTheOneToManySocket) {
  StopReadsWhatTheKernelAcknowledged(/*peeled=*/false);
}

TEST(DataPlaneTest, StopReadsWhatTheKernelAcknowledgedOnAWorker) { StopReadsWhatTheKernelAcknowledged(/*peeled=*/true); }

}  // namespace
}  // namespace sctpdp
