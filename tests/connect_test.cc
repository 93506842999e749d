// Outbound associations (DataPlane::Connect) and the application's end of an
// association (Shutdown, Abort), on real kernel SCTP (in the guest):
//  - Connect to servers no one here wrote: socat (SCTP-LISTEN, echoing
//    through a pipe) over IPv4, over IPv6 (::1), and with a local bind of
//    both families; lksctp-tools' sctp_test -l, which reports what it got.
//    Messages go both ways.
//  - A port nobody listens on: CANT_STR_ASSOC reaches the application
//    (OnError by default; OnConnectFailed), and with reconnect on the
//    attempts go on with growing, jittered delays: exactly the seeded
//    schedule (control/backoff.h), observed through the callbacks. An INIT
//    nobody answers (netem drops everything on lo) times out; connectx's own
//    refusal is reported too.
//  - The peer process restarts: the connection comes back by itself.
//  - A hot outbound association is peeled to a worker, and messages keep
//    their per-stream order both ways across the move.
//  - Shutdown and Abort from the API, for inbound and outbound associations,
//    cold and peeled: the peer sees SHUTDOWN after every message accepted
//    before it, or ABORT; what the data plane had accepted and could not
//    send is counted and reported.
// No sleeps decide anything: every wait is for an event, with a generous
// bound.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "control/data_plane.h"
#include "control/reply_queue.h"
#include "dataplane/sctp_socket.h"
#include "tests/sctp_test_util.h"
#include "tests/waiting_handler.h"

extern char** environ;

namespace sctpdp {
namespace {

using testing::Pattern;
using testing::SeqOf;

constexpr int kStreams = 4;
const absl::Duration kLong = absl::Seconds(120);

// --- A peer process (socat, sctp_test): its output read line by line. -------

class Child {
 public:
  explicit Child(std::vector<std::string> argv) : argv_(std::move(argv)) { Start(); }
  ~Child() { Stop(SIGKILL); }

  // Waits (bounded, for output) until a line contains `what`.
  bool WaitFor(const std::string& what, absl::Duration timeout = kLong) {
    const absl::Time until = absl::Now() + timeout;
    while (true) {
      for (size_t nl; (nl = buffer_.find('\n')) != std::string::npos;) {
        const std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        lines_.push_back(line);
        if (line.find(what) != std::string::npos) return true;
      }
      const absl::Duration left = until - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) != 1) return false;
      char buf[4096];
      const ssize_t n = read(out_, buf, sizeof(buf));
      if (n <= 0) return false;  // it exited
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }
  // Lines containing `what` seen so far.
  int Count(const std::string& what) const {
    int n = 0;
    for (const std::string& l : lines_) n += l.find(what) != std::string::npos;
    return n;
  }
  const std::vector<std::string>& lines() const { return lines_; }
  // Ends it (`sig`) and reaps it; its exit status.
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return status_;
    kill(pid_, sig);
    return Reap();
  }
  // Waits for it to exit by itself.
  int Reap() {
    if (pid_ <= 0) return status_;
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    if (out_ >= 0) close(out_);
    out_ = -1;
    status_ = st;
    return st;
  }
  void Restart() {
    Stop();
    buffer_.clear();
    lines_.clear();
    Start();
  }

 private:
  void Start() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    std::vector<char*> args;
    for (std::string& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    const int err = posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    out_ = p[0];
    if (err != 0) {
      ADD_FAILURE() << "cannot run " << argv_[0] << ": " << std::strerror(err);
      pid_ = -1;
    }
  }

  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = -1;
  std::string buffer_;
  std::vector<std::string> lines_;
};

// An SCTP port nobody uses right now (bound, then closed).
uint16_t FreePort(bool v6 = false) {
  Fd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP));
  EXPECT_TRUE(fd) << std::strerror(errno);
  absl::StatusOr<SocketAddress> a = MakeAddress(v6 ? "::1" : "127.0.0.1", 0);
  EXPECT_EQ(bind(fd.get(), a->get(), a->length), 0) << std::strerror(errno);
  SocketAddress got;
  got.length = sizeof(got.storage);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&got.storage), &got.length);
  return PortOf(got.get());
}

// socat echoing every message back through a pipe; started when it says it
// listens. `listen`: SCTP-LISTEN or SCTP6-LISTEN with options.
std::unique_ptr<Child> SocatEcho(const std::string& listen) {
  auto c = std::make_unique<Child>(std::vector<std::string>{"socat", "-d", "-d", listen, "PIPE"});
  EXPECT_TRUE(c->WaitFor("listening on")) << "socat did not listen";
  return c;
}

// --- What the application sees -------------------------------------------------

class Recorder : public testing::WaitingHandler {
 public:
  bool echo = false;  // echo every message (ReplyQueue)
  bool override_connect_failed = true;
  std::unique_ptr<ReplyQueue> replies;

  std::unique_ptr<DataPlane> Start(const DataPlaneOptions& options) {
    auto dp = DataPlane::Create(options, this);
    EXPECT_TRUE(dp.ok()) << dp.status();
    if (!dp.ok()) return nullptr;
    replies = std::make_unique<ReplyQueue>(dp->get(), 0);
    const absl::Status s = (*dp)->Start();
    EXPECT_TRUE(s.ok()) << s;
    return s.ok() ? *std::move(dp) : nullptr;
  }

  struct Failure {
    ConnectionId conn;
    absl::Status error;
    absl::Duration retry_in;
  };

  void OnAssociationUp(DataPlane& dp, const AssociationInfo& info) override {
    WaitingHandler::OnAssociationUp(dp, info);
    Note([&] { ups.push_back(info); });
  }
  void OnMessage(DataPlane&, const MessageView& m) override {
    Note([&] {
      bytes[m.assoc_id].append(m.payload.data(), m.payload.size());
      ++messages[m.assoc_id];
      auto& last = last_seq[m.assoc_id].try_emplace(m.stream, -1).first->second;
      if (int64_t{m.ppid} <= last) ++violations;
      last = m.ppid;
    });
    if (echo && replies->Echo(m) != SendResult::kOk) Note([&] { ++echo_failures; });
  }
  void OnWritable(DataPlane&, sctp_assoc_t id) override {
    if (echo) replies->OnWritable(id);
    Note([&] { ++writable; });
  }
  void OnMoved(DataPlane&, sctp_assoc_t id, int) override {
    Note([&] { moved.insert(id); });
  }
  void OnError(DataPlane&, sctp_assoc_t id, const absl::Status& e) override {
    Note([&] { errors.push_back(e); });
  }
  void OnConnectFailed(DataPlane& dp, ConnectionId conn, const absl::Status& e, absl::Duration retry_in) override {
    if (!override_connect_failed) return DataPlaneHandler::OnConnectFailed(dp, conn, e, retry_in);
    Note([&] { failures.push_back({conn, e, retry_in}); });
  }
  void OnConnectionClosed(DataPlane&, ConnectionId conn) override {
    Note([&] { closed.insert(conn); });
  }
  void OnAssociationDown(DataPlane&, sctp_assoc_t id, DownReason reason, const AssocStats&) override {
    if (echo) replies->OnAssociationDown(id);
    Note([&] { downs[id] = reason; });
  }

  // The n-th association up (0-based), once it is.
  AssociationInfo Up(size_t n = 0) {
    EXPECT_TRUE(Wait([&] { return ups.size() > n; })) << "association " << n << " never came up";
    std::lock_guard<std::mutex> l(mu_);
    return ups.size() > n ? ups[n] : AssociationInfo{};
  }
  size_t FailuresOf(ConnectionId conn) {
    size_t n = 0;
    for (const Failure& f : failures) n += f.conn == conn;
    return n;
  }

  std::vector<AssociationInfo> ups;
  std::map<sctp_assoc_t, std::string> bytes;
  std::map<sctp_assoc_t, uint64_t> messages;
  std::map<sctp_assoc_t, std::map<uint16_t, int64_t>> last_seq;
  std::set<sctp_assoc_t> moved;
  std::vector<absl::Status> errors;
  std::vector<Failure> failures;
  std::set<ConnectionId> closed;
  std::map<sctp_assoc_t, DownReason> downs;
  uint64_t violations = 0, echo_failures = 0, writable = 0;
};

DataPlaneOptions Options(bool listen = false) {
  DataPlaneOptions o;
  o.listen = listen;
  o.listener.streams = 8;
  o.worker_cpus = {-1, -1};
  o.worker.max_associations = 16;
  o.worker.buffer_count = 256;
  o.worker.retain_budget = 16;
  o.worker.send_buffer_count = 4096;
  o.worker.send_buffer_size = 4096;
  o.control.buffer_count = 256;
  o.control.retain_budget = 16;
  o.control.send_buffer_count = 4096;
  o.control.send_buffer_size = 4096;
  o.max_connections = 16;
  o.hotness.peel_messages_per_sec = 1e9;  // nothing moves unless a test says so
  o.evaluate_interval = absl::Milliseconds(10);
  return o;
}

ConnectOptions To(std::vector<std::string> remote, uint16_t port) {
  ConnectOptions c;
  c.remote = std::move(remote);
  c.port = port;
  c.reconnect.initial = absl::Milliseconds(20);
  c.reconnect.max = absl::Milliseconds(400);
  return c;
}

// Sends `payload` to `id` from this (non-data-plane) thread, waiting out
// backpressure.
void SendAll(DataPlane& dp, Recorder& rec, sctp_assoc_t id, uint16_t stream, uint32_t ppid,
             const std::string& payload) {
  for (;;) {
    uint64_t writable;
    {
      std::lock_guard<std::mutex> l(rec.mu_);
      writable = rec.writable;
    }
    const SendResult r = dp.Send(id, stream, ppid, payload);
    if (r == SendResult::kOk) return;
    ASSERT_TRUE(IsBackpressure(r)) << SendResultName(r);
    rec.Wait([&] { return rec.writable > writable; }, absl::Seconds(5));
  }
}

// Sends `count` text messages to `id` and waits until the peer's echo of
// all of them (socat: a byte stream through a pipe, so compared as one)
// has come back.
void ExchangeWithEcho(DataPlane& dp, Recorder& rec, sctp_assoc_t id, const std::string& tag, int count) {
  std::string sent;
  for (int i = 0; i < count; ++i) {
    const std::string m = tag + " message " + std::to_string(i) + "\n";
    SendAll(dp, rec, id, static_cast<uint16_t>(i % kStreams), 0, m);
    sent += m;
  }
  ASSERT_TRUE(rec.Wait([&] { return rec.bytes[id].size() >= sent.size(); }))
      << "echoed " << rec.bytes[id].size() << " of " << sent.size() << " bytes";
  std::lock_guard<std::mutex> l(rec.mu_);
  EXPECT_EQ(rec.bytes[id], sent);
}

// --- Servers no one here wrote -------------------------------------------------

TEST(ConnectTest, ExchangesMessagesBothWaysWithSocatOverIPv4) {
  const uint16_t port = FreePort();
  auto socat = SocatEcho("SCTP-LISTEN:" + std::to_string(port) + ",reuseaddr,bind=127.0.0.1");
  Recorder rec;
  std::unique_ptr<DataPlane> dp = rec.Start(Options());
  ASSERT_NE(dp, nullptr);
  EXPECT_EQ(dp->port(), 0);  // not listening: an appliance that originates
  absl::StatusOr<ConnectionId> conn = dp->Connect(To({"127.0.0.1"}, port));
  ASSERT_TRUE(conn.ok()) << conn.status();
  const AssociationInfo up = rec.Up();
  EXPECT_EQ(up.connection, *conn);
  EXPECT_EQ(up.peer.address, "127.0.0.1");
  EXPECT_EQ(up.peer.port, port);
  EXPECT_EQ(up.location, Location::kControl);
  ExchangeWithEcho(*dp, rec, up.id, "v4", 50);
  std::optional<ConnectionInfo> info = dp->Connection(*conn);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->state, ConnectionState::kUp);
  EXPECT_EQ(info->assoc, up.id);
  EXPECT_EQ(info->attempts, 1u);
  EXPECT_EQ(dp->Snapshot().connects, 1u);
  // Disconnect: a graceful end; socat sees it and exits.
  ASSERT_TRUE(dp->Disconnect(*conn).ok());
  ASSERT_TRUE(rec.Wait([&] { return rec.downs.count(up.id) && rec.closed.count(*conn); }));
  EXPECT_EQ(rec.downs[up.id], DownReason::kShutdown) << DownReasonName(rec.downs[up.id]);
  EXPECT_EQ(socat->Reap(), 0);
  EXPECT_EQ(dp->Connection(*conn)->state, ConnectionState::kClosed);
  EXPECT_EQ(dp->Snapshot().connections, 0u);
}

TEST(ConnectTest, ExchangesMessagesBothWaysWithSocatOverIPv6) {
  const uint16_t port = FreePort(true);
  auto socat = SocatEcho("SCTP6-LISTEN:" + std::to_string(port) + ",reuseaddr,bind=[::1]");
  Recorder rec;
  std::unique_ptr<DataPlane> dp = rec.Start(Options());
  ASSERT_NE(dp, nullptr);
  absl::StatusOr<ConnectionId> conn = dp->Connect(To({"::1"}, port));
  ASSERT_TRUE(conn.ok()) << conn.status();
  const AssociationInfo up = rec.Up();
  EXPECT_EQ(up.peer.address, "::1");
  ExchangeWithEcho(*dp, rec, up.id, "v6", 50);
}

// A local bind of both families (sctp_bindx of 127.0.0.1 and ::1) to a peer
// reached at both: the association's local addresses are both.
TEST(ConnectTest, MixedIPv4AndIPv6LocalBind) {
  const uint16_t port = FreePort(true);
  auto socat = SocatEcho("SCTP6-LISTEN:" + std::to_string(port) + ",reuseaddr");  // every address, both families
  Recorder rec;
  std::unique_ptr<DataPlane> dp = rec.Start(Options());
  ASSERT_NE(dp, nullptr);
  ConnectOptions c = To({"127.0.0.1", "::1"}, port);
  c.local = {"127.0.0.1", "::1"};
  absl::StatusOr<ConnectionId> conn = dp->Connect(c);
  ASSERT_TRUE(conn.ok()) << conn.status();
  const AssociationInfo up = rec.Up();
  const std::set<std::string> local(up.local_addresses.begin(), up.local_addresses.end());
  EXPECT_TRUE(local.count("127.0.0.1")) << "local addresses: " << up.local_addresses.size();
  EXPECT_TRUE(local.count("::1"));
  EXPECT_EQ(local.size(), 2u);
  std::printf("local: %zu addresses; peer: %s, %zu addresses\n", up.local_addresses.size(), up.peer.address.c_str(),
              up.peer_addresses.size());
  ExchangeWithEcho(*dp, rec, up.id, "mixed", 50);
}

// lksctp-tools' sctp_test as a server (-l) prints every message it
// receives: every one of ours, with its size, in order.
TEST(ConnectTest, SctpTestServerGetsEveryMessage) {
  for (const bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "IPv6" : "IPv4");
    const uint16_t port = FreePort(v6);
    const std::string host = v6 ? "::1" : "127.0.0.1";
    Child server({"stdbuf", "-oL", "sctp_test", "-H", host, "-P", std::to_string(port), "-l", "-d", "2"});
    ASSERT_TRUE(server.WaitFor("Receiving packets")) << "sctp_test did not listen";
    Recorder rec;
    std::unique_ptr<DataPlane> dp = rec.Start(Options());
    ASSERT_NE(dp, nullptr);
    absl::StatusOr<ConnectionId> conn = dp->Connect(To({host}, port));
    ASSERT_TRUE(conn.ok()) << conn.status();
    const AssociationInfo up = rec.Up();
    ASSERT_TRUE(server.WaitFor("COMMUNICATION_UP"));
    EXPECT_EQ(up.outbound_streams, 8);  // the fewer of ours (8) and sctp_test's (10)
    constexpr int kCount = 30;
    std::vector<size_t> sizes;
    for (int i = 0; i < kCount; ++i) {
      const size_t size = 1 + static_cast<size_t>(i) * 997;  // up to ~29 KB: several in pieces
      std::string m(size, static_cast<char>('a' + i % 26));
      SendAll(*dp, rec, up.id, 0, 1000 + i, m);  // one stream: sctp_test prints them in this order
      sizes.push_back(size);
    }
    for (int i = 0; i < kCount; ++i) {
      ASSERT_TRUE(server.WaitFor(absl::StrCat("Data ", sizes[i], " bytes."))) << "message " << i << " never arrived";
    }
    EXPECT_EQ(server.Count("recvmsg(sk=3) Data"), kCount);
    ASSERT_TRUE(dp->Disconnect(*conn).ok());
    ASSERT_TRUE(server.WaitFor("SHUTDOWN_COMPLETE"));
  }
}

// --- Failed attempts and reconnects -----------------------------------------------

// Nobody listens: the peer's kernel answers INIT with ABORT, CANT_STR_ASSOC
// comes back, and the attempts go on with the seeded schedule.
TEST(ConnectTest, RefusedConnectIsReportedAndRetriedWithGrowingJitteredDelays) {
  Recorder rec;
  std::unique_ptr<DataPlane> dp = rec.Start(Options());
  ASSERT_NE(dp, nullptr);
  ConnectOptions c = To({"127.0.0.1"}, FreePort());
  c.reconnect.initial = absl::Milliseconds(10);
  c.reconnect.max = absl::Milliseconds(160);
  c.reconnect.multiplier = 2;
  c.reconnect.jitter = 0.25;
  c.reconnect.seed = 4242;
  absl::StatusOr<ConnectionId> conn = dp->Connect(c);
  ASSERT_TRUE(conn.ok()) << conn.status();
  constexpr size_t kFailures = 8;
  ASSERT_TRUE(rec.Wait([&] { return rec.FailuresOf(*conn) >= kFailures; }));
  ASSERT_TRUE(dp->Disconnect(*conn).ok());
  ASSERT_TRUE(rec.Wait([&] { return rec.closed.count(*conn) > 0; }));
  std::lock_guard<std::mutex> l(rec.mu_);
  Backoff expected(c.reconnect, c.reconnect.seed);
  size_t n = 0;
  for (const Recorder::Failure& f : rec.failures) {
    if (f.conn != *conn || n >= kFailures) continue;
    EXPECT_EQ(f.error.code(), absl::StatusCode::kUnavailable) << f.error;
    EXPECT_NE(f.error.message().find("CANT_STR_ASSOC"), absl::string_view::npos) << f.error;
    // The schedule the seed gives, each delay within its bounds around a
    // base that doubles up to the cap.
    const absl::Duration base = expected.Base(static_cast<unsigned>(n));
    EXPECT_EQ(f.retry_in, expected.Next()) << "attempt " << n;
    EXPECT_GE(f.retry_in, base * 0.75 - absl::Nanoseconds(1));
    EXPECT_LE(f.retry_in, std::min(c.reconnect.max, base * 1.25) + absl::Nanoseconds(1));
    ++n;
  }
  EXPECT_EQ(n, kFailures);
  EXPECT_LT(expected.Base(0), expected.Base(3));
  EXPECT_EQ(expected.Base(5), c.reconnect.max);  // capped from the fifth on
  const std::optional<ConnectionInfo> info = dp->Connection(*conn);
  EXPECT_EQ(info->state, ConnectionState::kClosed);
  EXPECT_GE(info->attempts, kFailures);
  EXPECT_EQ(info->ups, 0u);
  EXPECT_EQ(info->seed, 4242u);
  EXPECT_GE(dp->Snapshot().connect_failures, kFailures);
  EXPECT_TRUE(rec.ups.empty());
}

// Reconnect off, and the handler keeps OnConnectFailed's default: the
// refusal is an OnError, and that was the only attempt.
// Out of descriptors (EMFILE): Connect cannot open its socket and says so at
// once (ResourceExhausted, naming the errno), leaves nothing behind, and the
// association already up goes on; with descriptors back the same Connect
// succeeds. (Accepting takes no descriptor here: associations arrive on the
// one-to-many socket; EMFILE at peeloff is in data_plane_test.)
TEST(ConnectTest, OutOfDescriptorsConnectFailsAtOnceAndTheOthersGoOn) {
  const uint16_t port = FreePort();
  auto socat = SocatEcho("SCTP-LISTEN:" + std::to_string(port) + ",reuseaddr,fork,bind=127.0.0.1");
  Recorder rec;
  std::unique_ptr<DataPlane> dp = rec.Start(Options());
  ASSERT_NE(dp, nullptr);
  ASSERT_TRUE(dp->Connect(To({"127.0.0.1"}, port)).ok());
  const AssociationInfo first = rec.Up();
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  const int probe = dup(0);
  close(probe);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(probe);  // no new descriptor for anyone
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  absl::StatusOr<ConnectionId> refused = dp->Connect(To({"127.0.0.1"}, port));
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_NE(refused.status().message().find("Too many open files"), absl::string_view::npos) << refused.status();
  EXPECT_EQ(refused.status().message().find("no kernel SCTP"), absl::string_view::npos) << refused.status();
  EXPECT_EQ(dp->Snapshot().connections, 1u);
  ExchangeWithEcho(*dp, rec, first.id, "after EMFILE", 20);
  ASSERT_TRUE(dp->Connect(To({"127.0.0.1"}, port)).ok());
  ExchangeWithEcho(*dp, rec, rec.Up(1).id, "second", 20);
}

TEST(ConnectTest, RefusedWithoutReconnectIsOneOnErrorAndTheConnectionCloses) {
  Recorder rec;
  rec.override_connect_failed = false;
  std::unique_ptr<DataPlane> dp = rec.Start(Options());
  ASSERT_NE(dp, nullptr);
  ConnectOptions c = To({"127.0.0.1"}, FreePort());
  c.reconnect.enabled = false;
  absl::StatusOr<ConnectionId> conn = dp->Connect(c);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(rec.Wait([&] { return rec.closed.count(*conn) > 0; }));
  std::lock_guard<std::mutex> l(rec.mu_);
  ASSERT_EQ(rec.errors.size(), 1u);
  EXPECT_EQ(rec.errors[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(rec.errors[0].message().find("CANT_STR_ASSOC"), absl::string_view::npos) << rec.errors[0];
  EXPECT_EQ(dp->Connection(*conn)->attempts, 1u);
  EXPECT_EQ(dp->Connection(*conn)->state, ConnectionState::kClosed);
}

// What sctp_connectx itself refuses (a multicast peer) is reported the same
// way, with its errno.
TEST(ConnectTest, ConnectxRefusalIsReported) {
  Recorder rec;
  std::unique_ptr<DataPlane> dp = rec.Start(Options());
  ASSERT_NE(dp, nullptr);
  ConnectOptions c = To({"224.0.0.1"}, 2905);
  c.reconnect.enabled = false;
  absl::StatusOr<ConnectionId> conn = dp->Connect(c);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(rec.Wait([&] { return rec.closed.count(*conn) > 0; }));
  std::lock_guard<std::mutex> l(rec.mu_);
  ASSERT_EQ(rec.failures.size(), 1u);
  EXPECT_NE(rec.failures[0].error.message().find("sctp_connectx"), absl::string_view::npos) << rec.failures[0].error;
  EXPECT_EQ(rec.failures[0].retry_in, absl::InfiniteDuration());
  // Bad options never reach the kernel.
  EXPECT_EQ(dp->Connect(To({"not-an-address"}, 1)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dp->Connect(To({"127.0.0.1"}, 0)).status().code(), absl::StatusCode::kInvalidArgument);
  ConnectOptions bad_local = To({"127.0.0.1"}, 2905);
  bad_local.local = {"192.0.2.77"};  // not an address of this machine: sctp_bindx refuses
  const absl::Status bind = dp->Connect(bad_local).status();
  EXPECT_NE(bind.message().find("sctp_bindx"), absl::string_view::npos) << bind;
}

// An INIT nobody answers (everything on lo dropped by netem): each attempt
// ends at connect_timeout, as DeadlineExceeded.
TEST(ConnectTest, AnUnansweredAttemptTimesOut) {
  ASSERT_EQ(std::system("PATH=$PATH:/usr/sbin:/sbin tc qdisc add dev lo root netem loss 100%"), 0)
      << "needs tc and sch_netem (the guest has them)";
  struct Restore {
    ~Restore() { (void)!std::system("PATH=$PATH:/usr/sbin:/sbin tc qdisc del dev lo root"); }
  } restore;
  Recorder rec;
  std::unique_ptr<DataPlane> dp = rec.Start(Options());
  ASSERT_NE(dp, nullptr);
  ConnectOptions c = To({"127.0.0.1"}, FreePort());
  c.connect_timeout = absl::Milliseconds(300);
  c.reconnect.max_attempts = 2;
  absl::StatusOr<ConnectionId> conn = dp->Connect(c);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(rec.Wait([&] { return rec.closed.count(*conn) > 0; }));
  std::lock_guard<std::mutex> l(rec.mu_);
  ASSERT_EQ(rec.failures.size(), 2u);
  for (const Recorder::Failure& f : rec.failures) {
    EXPECT_EQ(f.error.code(), absl::StatusCode::kDeadlineExceeded) << f.error;
  }
  EXPECT_NE(rec.failures[0].retry_in, absl::InfiniteDuration());
  EXPECT_EQ(rec.failures[1].retry_in, absl::InfiniteDuration());  // max_attempts
  EXPECT_TRUE(rec.ups.empty());
}

// The peer process goes away and comes back on the same port: the
// connection notices the end, fails while nobody listens, and is up again
// once the peer is: same connection, a new association.
TEST(ConnectTest, ReconnectsAfterThePeerProcessRestarts) {
  const uint16_t port = FreePort();
  const std::string listen = "SCTP-LISTEN:" + std::to_string(port) + ",reuseaddr,bind=127.0.0.1";
  auto socat = SocatEcho(listen);
  Recorder rec;
  std::unique_ptr<DataPlane> dp = rec.Start(Options());
  ASSERT_NE(dp, nullptr);
  absl::StatusOr<ConnectionId> conn = dp->Connect(To({"127.0.0.1"}, port));
  ASSERT_TRUE(conn.ok()) << conn.status();
  const AssociationInfo first = rec.Up(0);
  ExchangeWithEcho(*dp, rec, first.id, "before", 20);
  socat->Stop(SIGTERM);  // its socket closes: SHUTDOWN (or ABORT)
  ASSERT_TRUE(rec.Wait([&] { return rec.downs.count(first.id) > 0; }));
  ASSERT_TRUE(rec.Wait([&] { return rec.FailuresOf(*conn) >= 2; })) << "no failed attempt while the peer was away";
  socat = SocatEcho(listen);
  const AssociationInfo second = rec.Up(1);
  EXPECT_NE(second.id, first.id);
  EXPECT_EQ(second.connection, *conn);
  ExchangeWithEcho(*dp, rec, second.id, "after", 20);
  const std::optional<ConnectionInfo> info = dp->Connection(*conn);
  EXPECT_EQ(info->ups, 2u);
  EXPECT_GE(info->failures, 2u);
  EXPECT_EQ(info->state, ConnectionState::kUp);
}

// --- An outbound association that turns hot ------------------------------------------

// A one-to-one listening peer of the test's own.
struct Peer {
  Fd listener;
  uint16_t port = 0;
  Fd conn;

  static Peer Listen() {
    Peer p;
    p.listener = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP));
    EXPECT_TRUE(p.listener) << std::strerror(errno);
    sctp_initmsg init{};
    init.sinit_num_ostreams = init.sinit_max_instreams = 8;
    setsockopt(p.listener.get(), IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init));
    int on = 1;
    setsockopt(p.listener.get(), IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on));
    setsockopt(p.listener.get(), IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on));
    absl::StatusOr<SocketAddress> a = MakeAddress("127.0.0.1", 0);
    EXPECT_EQ(bind(p.listener.get(), a->get(), a->length), 0) << std::strerror(errno);
    SocketAddress got;
    got.length = sizeof(got.storage);
    getsockname(p.listener.get(), reinterpret_cast<sockaddr*>(&got.storage), &got.length);
    p.port = PortOf(got.get());
    EXPECT_EQ(listen(p.listener.get(), 8), 0);
    return p;
  }
  void Accept() {
    pollfd pf{listener.get(), POLLIN, 0};
    ASSERT_EQ(poll(&pf, 1, 60000), 1) << "nobody connected";
    conn = Fd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(conn) << std::strerror(errno);
  }
};

// The peer sends sequence-numbered messages on every stream without pause
// (until the association has moved, and at least `at_least`); the data
// plane echoes each; the peer reads the echoes, checking order per stream.
TEST(ConnectTest, AHotOutboundAssociationIsPeeledAndKeepsOrderBothWays) {
  Peer peer = Peer::Listen();
  Recorder rec;
  rec.echo = true;
  DataPlaneOptions o = Options();
  o.hotness.peel_messages_per_sec = 50;
  o.hotness.window = absl::Milliseconds(500);
  o.hotness.sustain = absl::Milliseconds(200);
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  absl::StatusOr<ConnectionId> conn = dp->Connect(To({"127.0.0.1"}, peer.port));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_NO_FATAL_FAILURE(peer.Accept());
  const AssociationInfo up = rec.Up();
  EXPECT_EQ(up.location, Location::kControl);
  constexpr uint32_t kAtLeast = 1500;
  constexpr size_t kSize = 300;
  std::atomic<uint32_t> sent{0};
  std::atomic<bool> done{false};
  std::string failure;
  std::thread reader([&] {
    std::map<uint16_t, int64_t> last;
    for (uint32_t n = 0; !(done.load() && n == sent.load()); ++n) {
      testing::Received r = testing::Recv(peer.conn.get());
      const uint32_t seq = SeqOf(r.data);
      if (r.data != Pattern(seq, kSize)) return void(failure = "corrupt, short or missing echo");
      auto& l = last.try_emplace(r.info.rcv_sid, -1).first->second;
      if (int64_t{seq} <= l) return void(failure = "reordered on stream " + std::to_string(r.info.rcv_sid));
      l = seq;
    }
  });
  for (uint32_t seq = 0; seq < 50 * kAtLeast; ++seq) {
    if (seq >= kAtLeast && seq % 50 == 0) {
      std::lock_guard<std::mutex> l(rec.mu_);
      if (rec.moved.count(up.id)) break;
    }
    if (!testing::SendOn(peer.conn.get(), Pattern(seq, kSize), seq % kStreams, seq)) break;
    sent.store(seq + 1);
  }
  done.store(true);
  reader.join();
  EXPECT_EQ(failure, "");
  ASSERT_TRUE(rec.Wait([&] { return rec.messages[up.id] == sent.load(); }));
  std::lock_guard<std::mutex> l(rec.mu_);
  EXPECT_TRUE(rec.moved.count(up.id)) << "the hot outbound association was not peeled";
  EXPECT_EQ(rec.violations, 0u);
  EXPECT_EQ(rec.echo_failures, 0u);
  EXPECT_EQ(dp->Association(up.id)->location, Location::kWorker);
  EXPECT_EQ(dp->Association(up.id)->connection, *conn);
  EXPECT_EQ(dp->Snapshot().peeled, 1u);
  std::printf("%u messages each way; moved after %llu on the one-to-many socket\n", sent.load(),
              (unsigned long long)dp->Association(up.id)->messages_in_control);
}

// --- Shutdown and Abort from the API ---------------------------------------------------

struct EndCase {
  bool outbound;  // Connect's, else accepted
  bool peeled;    // on a worker, else cold on its one-to-many socket
  bool abort;     // Abort, else Shutdown
};

std::string Name(const ::testing::TestParamInfo<EndCase>& p) {
  return std::string(p.param.outbound ? "Outbound" : "Inbound") + (p.param.peeled ? "Peeled" : "Cold") +
         (p.param.abort ? "Abort" : "Shutdown");
}

// Reads `fd` until its end (EOF: 0 in `end_errno`; an error: its errno),
// checking every message (a Pattern of `size` bytes, in order per stream);
// `got` counts them.
void ReadUntilTheEnd(int fd, size_t size, uint32_t* got, int* end_errno) {
  std::vector<uint32_t> next(kStreams);
  for (uint16_t s = 0; s < kStreams; ++s) next[s] = s;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 60000), 1) << "no end after " << *got << " messages";
    static char buf[1 << 16];
    const RecvResult r = RecvWithInfo(fd, absl::MakeSpan(buf, sizeof(buf)), 0);
    if (r.bytes <= 0) {
      *end_errno = r.bytes < 0 ? static_cast<int>(-r.bytes) : 0;
      return;
    }
    const std::string data(buf, static_cast<size_t>(r.bytes));
    const uint32_t seq = SeqOf(data);
    ASSERT_EQ(data, Pattern(seq, size)) << "message " << *got;
    ASSERT_LT(r.info.rcv_sid, kStreams);
    ASSERT_EQ(seq, next[r.info.rcv_sid]) << "stream " << r.info.rcv_sid;
    next[r.info.rcv_sid] += kStreams;
    ++*got;
  }
}

// The peer's end of the association: one that accepted the data plane's
// Connect (`outbound`: `peer` keeps its listener, `conn` names the
// connection), or a client of its listener.
void OpenPeer(bool outbound, DataPlane& dp, Peer* peer, Fd* peer_fd, std::optional<ConnectionId>* conn) {
  if (!outbound) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(dp.port());
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *peer_fd = testing::Connect(to);
    return;
  }
  *peer = Peer::Listen();
  absl::StatusOr<ConnectionId> cn = dp.Connect(To({"127.0.0.1"}, peer->port));
  ASSERT_TRUE(cn.ok()) << cn.status();
  *conn = *cn;
  ASSERT_NO_FATAL_FAILURE(peer->Accept());
  *peer_fd = std::move(peer->conn);
}

// Ends `id` from the API; from then on a send and a second Shutdown are
// refused (kNoAssociation and NotFound once it is gone).
void EndFromTheApi(DataPlane& dp, sctp_assoc_t id, bool abort) {
  const absl::Status ended = abort ? dp.Abort(id) : dp.Shutdown(id);
  ASSERT_TRUE(ended.ok()) << ended;
  const SendResult after = dp.Send(id, 0, 0, std::string("after the end"));
  EXPECT_TRUE(after == SendResult::kClosing || after == SendResult::kNoAssociation) << SendResultName(after);
  const absl::StatusCode again = dp.Shutdown(id).code();
  EXPECT_TRUE(again == absl::StatusCode::kFailedPrecondition || again == absl::StatusCode::kNotFound) << again;
}

// What the data plane did with the messages it accepted: handed to the
// kernel, or dropped and reported (OnError).
uint64_t HandedOf(const DataPlaneStats& s) { return s.control.totals.messages_out + s.workers.totals.messages_out; }
uint64_t ReportedOf(const DataPlaneStats& s) {
  return s.dropped_sends + s.control.totals.send_dropped + s.workers.totals.send_dropped +
         s.control.totals.send_errors + s.workers.totals.send_errors;
}

// After an Abort (OnAssociationDown seen): every one of the `count`
// messages accepted was handed to the kernel or reported dropped. The end
// does not settle all of them: the sends a cold association had on the
// one-to-many socket's ring when the ABORT went come back (taken, failed or
// cancelled) on the control thread after OnAssociationDown, and a message
// the kernel took has no callback. Stop is the event that implies them: it
// joins every thread, and none exits while a send of its own is in the
// kernel (the control thread keeps a socket until its sends are back,
// OneToManyServer::MaybeRelease; a worker an association's slot,
// Worker::MaybeFinish). Stop itself must drop nothing here: the abort left
// nothing queued.
void ExpectEveryMessageAccounted(DataPlane& dp, Recorder& rec, uint32_t count, uint32_t got) {
  const DataPlaneStats at_down = dp.Snapshot();
  dp.Stop();
  const DataPlaneStats s = dp.Snapshot();
  const uint64_t handed = HandedOf(s);
  const uint64_t reported = ReportedOf(s);
  EXPECT_EQ(handed + reported, uint64_t{count}) << "handed to the kernel " << handed << ", reported " << reported;
  EXPECT_LE(got, handed);
  {
    std::lock_guard<std::mutex> l(rec.mu_);
    for (const absl::Status& e : rec.errors) {
      EXPECT_EQ(e.message().find("stopping"), absl::string_view::npos) << "dropped by Stop, not by the abort: " << e;
    }
  }
  std::printf("abort: the peer read %u, the kernel took %llu, %llu reported dropped (%llu settled after the end)\n",
              got, (unsigned long long)handed, (unsigned long long)reported,
              (unsigned long long)(handed + reported - HandedOf(at_down) - ReportedOf(at_down)));
}

class EndTest : public ::testing::TestWithParam<EndCase> {};

// Messages accepted, then the end: with Shutdown the peer reads every one
// of them, in order, then EOF (its SHUTDOWN); with Abort it reads a prefix
// in order, then ECONNRESET (its ABORT), and every message the data plane
// accepted was either handed to the kernel or reported dropped.
TEST_P(EndTest, ThePeerSeesItAfterWhatWasAccepted) {
  const EndCase c = GetParam();
  Recorder rec;
  DataPlaneOptions o = Options(/*listen=*/!c.outbound);
  o.hotness.peel_all = c.peeled;
  o.control.send_queue_limit = 64;  // backpressure on the way, so some wait in the router's backlog
  std::unique_ptr<DataPlane> dp = rec.Start(o);
  ASSERT_NE(dp, nullptr);
  Peer peer;
  Fd peer_fd;
  std::optional<ConnectionId> conn;
  ASSERT_NO_FATAL_FAILURE(OpenPeer(c.outbound, *dp, &peer, &peer_fd, &conn));
  const sctp_assoc_t id = rec.Up().id;
  if (c.peeled) {
    ASSERT_TRUE(rec.Wait([&] { return rec.moved.count(id) > 0; }));
  }
  constexpr uint32_t kCount = 400;
  constexpr size_t kSize = 1000;
  for (uint32_t seq = 0; seq < kCount; ++seq) {
    ASSERT_NO_FATAL_FAILURE(SendAll(*dp, rec, id, static_cast<uint16_t>(seq % kStreams), seq, Pattern(seq, kSize)));
  }
  ASSERT_NO_FATAL_FAILURE(EndFromTheApi(*dp, id, c.abort));
  // The peer reads until the end; the application hears of it (and, for a
  // connection the application ended, that it closed: no reconnect).
  uint32_t got = 0;
  int end_errno = 0;
  ASSERT_NO_FATAL_FAILURE(ReadUntilTheEnd(peer_fd.get(), kSize, &got, &end_errno));
  ASSERT_TRUE(rec.Wait([&] { return rec.downs.count(id) > 0 && (!conn || rec.closed.count(*conn) > 0); }));
  EXPECT_EQ(dp->Snapshot().associations, 0u);
  if (conn) {
    EXPECT_EQ(dp->Connection(*conn)->ups, 1u);
    EXPECT_EQ(dp->Connection(*conn)->state, ConnectionState::kClosed);
  }
  DownReason down;
  {
    std::lock_guard<std::mutex> l(rec.mu_);
    down = rec.downs[id];
  }
  if (c.abort) {
    EXPECT_EQ(end_errno, ECONNRESET) << "the peer saw no ABORT: " << std::strerror(end_errno);
    EXPECT_EQ(down, DownReason::kAborted) << DownReasonName(down);
    ExpectEveryMessageAccounted(*dp, rec, kCount, got);
  } else {
    EXPECT_EQ(end_errno, 0) << "the peer saw no SHUTDOWN: " << std::strerror(end_errno);
    EXPECT_EQ(got, kCount);
    EXPECT_EQ(down, DownReason::kShutdown) << DownReasonName(down);
  }
}

INSTANTIATE_TEST_SUITE_P(AllCases, EndTest,
                         ::testing::Values(EndCase{false, false, false}, EndCase{false, false, true},
                                           EndCase{false, true, false}, EndCase{false, true, true},
                                           EndCase{true, false, false}, EndCase{true, false, true},
                                           EndCase{true, true, false}, EndCase{true, true, true}),
                         Name);

}  // namespace
}  // namespace sctpdp
