// Host tests of Worker over AF_UNIX SEQPACKET socketpairs: real io_uring,
// real sockets, and a fault plan that puts each errno the dispatch handles
// through the same code path a kernel completion takes.
#include "dataplane/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "dataplane/parcel_pool.h"
#include "dataplane/ring.h"
#include "dataplane/ring_features.h"
#include "dataplane/worker_test_util.h"

namespace sctpdp {
namespace {

std::string Payload(int i, size_t size) {
  std::string s = "m" + std::to_string(i) + ":";
  s.resize(std::max(size, s.size()), static_cast<char>('a' + i % 26));
  return s;
}

// Reads one message from a (non-blocking) socket, waiting up to 10 s.
std::string ReadMessage(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 10000) != 1) return "<timeout>";
  char buf[70000];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);
  return n < 0 ? "<error>" : std::string(buf, n);
}

void WriteMessage(int fd, const std::string& s) {
  pollfd p{fd, POLLOUT, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1);
  ASSERT_EQ(send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())) << std::strerror(errno);
}

class WorkerTest : public ::testing::Test {
 protected:
  void Start(WorkerOptions options = {}) {
    if (!options.faults) options.faults = FaultPlanOptions{};  // errno injection, no delays
    options.buffer_count = options.buffer_count ? options.buffer_count : 64;
    options.send_buffer_count = std::min(options.send_buffer_count, 512u);
    options.max_associations = std::min(options.max_associations, 16u);
    auto w = Worker::Create(options, &handler_);
    ASSERT_TRUE(w.ok()) << w.status();
    worker_ = std::move(*w);
  }
  // Adopts one end of a new socketpair; returns the test's end.
  Fd AdoptPair(AssocHandle* handle) {
    auto [mine, theirs] = SeqpacketPair();
    size_t before = handler_.adopted_count();
    EXPECT_TRUE(worker_->Adopt(std::move(mine), 7, 99).ok());
    EXPECT_TRUE(handler_.WaitAdopted(before + 1));
    *handle = handler_.adopted(before);
    return std::move(theirs);
  }
  // Runs `fn` on the worker thread and waits for it.
  void OnWorker(std::function<void(Worker&)> fn) {
    Notification done;
    ASSERT_TRUE(worker_->Post([&](Worker& w) { fn(w); done.Notify(); }).ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(10)));
  }

  // One round trip through the worker's loop: completions the kernel had
  // already posted (e.g. of sends the peer has read) are processed after it.
  void Settle() { OnWorker([](Worker&) {}); }
  void BurstUnderCoalescing(bool by_naps, WorkerStats* stats);

  RecordingHandler handler_;
  std::unique_ptr<Worker> worker_;
};

TEST_F(WorkerTest, RejectsBadOptions) {
  RecordingHandler h;
  EXPECT_EQ(Worker::Create({.buffer_count = 100}, &h).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Worker::Create({.buffer_size = 16}, &h).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Worker::Create({.max_associations = 0}, &h).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Worker::Create({.buffer_count = 64, .retain_budget = 32}, &h).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Worker::Create({.send_batch = 0}, &h).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Worker::Create({.coalesce_delay = absl::Seconds(1)}, &h).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Worker::Create({.coalesce_min_batch = 0}, &h).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Worker::Create({}, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Worker::Create({.cpu = 4095}, &h).ok());  // no such CPU: pinning fails, clearly
}

TEST_F(WorkerTest, ReceivesInPlaceInOrderWithoutCopies) {
  Start();
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  constexpr int kCount = 500;
  for (int i = 0; i < kCount; ++i) WriteMessage(peer.get(), Payload(i, 1 + i % 3000));
  ASSERT_TRUE(handler_.WaitMessages(kCount));
  auto msgs = handler_.messages();
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(msgs[i].payload, Payload(i, 1 + i % 3000)) << i;
    EXPECT_FALSE(msgs[i].copied);
    EXPECT_EQ(msgs[i].assoc, h);
  }
  Settle();
  WorkerStats s = worker_->Snapshot();
  EXPECT_EQ(s.totals.messages_in, uint64_t{kCount});
  EXPECT_EQ(s.totals.copied_bytes, 0u);
  EXPECT_GE(s.cqes, uint64_t{kCount});
  EXPECT_GT(s.enter_calls, 0u);
}

TEST_F(WorkerTest, EchoSendsInOrderFromBuffersBuiltInPlace) {
  Start();
  handler_.on_message = [](Worker& w, const MessageView& m) {
    SendBuffer b = w.AcquireSendBuffer(m.payload.size());
    ASSERT_TRUE(b.valid());
    std::memcpy(b.data().data(), m.payload.data(), m.payload.size());
    ASSERT_EQ(w.Send(m.assoc, 0, 0, std::move(b)), SendResult::kOk);
  };
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  for (int i = 0; i < 200; ++i) {
    WriteMessage(peer.get(), Payload(i, 100));
    EXPECT_EQ(ReadMessage(peer.get()), Payload(i, 100));
  }
  Settle();
  WorkerStats s = worker_->Snapshot();
  EXPECT_EQ(s.totals.messages_out, 200u);
  EXPECT_EQ(s.totals.send_copied_bytes, 0u);
}

// Coalescing (WorkerOptions::coalesce_delay): messages already queued when
// the association arrives come as one batch, so the worker coalesces before
// the next reap. Nothing is lost or reordered, and sends queued meanwhile go
// out. `stats`: the worker's, at the end.
void WorkerTest::BurstUnderCoalescing(bool by_naps, WorkerStats* stats) {
  Start({.coalesce_delay = absl::Milliseconds(2), .coalesce_min_batch = 2, .coalesce_by_naps = by_naps});
  auto [mine, peer] = SeqpacketPair();
  constexpr int kBurst = 40, kCount = 400;
  for (int i = 0; i < kBurst; ++i) WriteMessage(peer.get(), Payload(i, 200));
  ASSERT_TRUE(worker_->Adopt(std::move(mine), 7, 99).ok());
  ASSERT_TRUE(handler_.WaitAdopted(1));
  const AssocHandle h = handler_.adopted(0);
  for (int i = kBurst; i < kCount; ++i) WriteMessage(peer.get(), Payload(i, 200));
  ASSERT_TRUE(handler_.WaitMessages(kCount));
  auto msgs = handler_.messages();
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(msgs[i].payload, Payload(i, 200)) << i;
  OnWorker([&](Worker& w) {
    for (int i = 0; i < kBurst; ++i) ASSERT_EQ(w.SendCopy(h, 0, 0, Payload(i, 64)), SendResult::kOk);
  });
  for (int i = 0; i < kBurst; ++i) ASSERT_EQ(ReadMessage(peer.get()), Payload(i, 64)) << i;
  Settle();
  *stats = worker_->Snapshot();
  const WorkerStats& s = *stats;
  if (ProbeRingFeatures().defer_taskrun) {
    EXPECT_GT(s.naps + s.gathers, 0u) << "a batch of " << kBurst << " did not lead to coalescing";
  }
  EXPECT_LT(s.enter_calls, uint64_t{kCount});
  EXPECT_EQ(s.totals.messages_out, uint64_t{kBurst});
}

// By min-timeout waits where the ring has them (6.12; the build hosts run
// 6.18), else by naps.
TEST_F(WorkerTest, CoalescingUnderBurstsKeepsOrder) {
  WorkerStats s;
  ASSERT_NO_FATAL_FAILURE(BurstUnderCoalescing(/*by_naps=*/false, &s));
  if (ProbeRingFeatures().defer_taskrun) {
    auto probe = Ring::Create({.sq_entries = 8, .cq_entries = 16});
    ASSERT_TRUE(probe.ok()) << probe.status();
    EXPECT_EQ(s.gathers > 0, (*probe)->min_timeout()) << s.naps << " naps, " << s.gathers << " gathers";
  }
}

// coalesce_by_naps: naps on every kernel, min-timeout waits or not.
TEST_F(WorkerTest, CoalescingByNapsNapsEvenWhereWaitsExist) {
  WorkerStats s;
  ASSERT_NO_FATAL_FAILURE(BurstUnderCoalescing(/*by_naps=*/true, &s));
  EXPECT_EQ(s.gathers, 0u);
  if (ProbeRingFeatures().defer_taskrun) {
    EXPECT_GT(s.naps, 0u);
  }
}

// An echo takes one io_uring_enter, not two: the enter that submits the
// reply asks for its send's completion and one more (the count that
// Client::BeforeWait returns), so it sleeps until the next message instead
// of returning with only its own send's completion.
TEST_F(WorkerTest, AnEchoTakesOneEnter) {
  // A long wait_timeout: a completion counted as prompt that did not come
  // would show as a stall, not as an extra enter.
  Start({.wait_timeout = absl::Seconds(2)});
  handler_.on_message = [](Worker& w, const MessageView& m) {
    ASSERT_EQ(w.SendCopy(m.assoc, m.stream, m.ppid, m.payload), SendResult::kOk);
  };
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  Settle();
  const uint64_t before = worker_->Snapshot().enter_calls;
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i) {
    WriteMessage(peer.get(), Payload(i, 100));
    ASSERT_EQ(ReadMessage(peer.get()), Payload(i, 100)) << i;
  }
  const uint64_t enters = worker_->Snapshot().enter_calls - before;
  EXPECT_LE(enters, uint64_t{kCount} + kCount / 10) << enters << " enters for " << kCount << " echoes";
}

// PauseReceive stops reading: the socket fills until the peer's writes
// block (end-to-end backpressure); ResumeReceive delivers everything, in
// order.
TEST_F(WorkerTest, PausedReceiveBlocksThePeerAndResumeDeliversInOrder) {
  Start();
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  for (int i = 0; i < 10; ++i) WriteMessage(peer.get(), Payload(i, 100));
  ASSERT_TRUE(handler_.WaitMessages(10));
  OnWorker([&](Worker& w) {
    EXPECT_TRUE(w.PauseReceive(h));
    EXPECT_TRUE(w.PauseReceive(h));  // twice: still paused, no second cancel
  });
  // Fill the paused socket until the peer would block.
  int sent = 10;
  bool blocked = false;
  while (sent < 200000) {
    const std::string m = Payload(sent, 100);
    if (send(peer.get(), m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
      ASSERT_EQ(errno, EAGAIN) << std::strerror(errno);
      blocked = true;
      break;
    }
    ++sent;
  }
  ASSERT_TRUE(blocked) << "the peer never blocked: the paused worker kept reading";
  Settle();
  const size_t while_paused = handler_.messages().size();
  EXPECT_LT(while_paused, static_cast<size_t>(sent));
  bool resumed = false;
  OnWorker([&](Worker& w) { resumed = w.ResumeReceive(h); });
  EXPECT_TRUE(resumed);
  ASSERT_TRUE(handler_.WaitMessages(sent));
  auto msgs = handler_.messages();
  ASSERT_EQ(msgs.size(), static_cast<size_t>(sent));
  for (int i = 0; i < sent; ++i) ASSERT_EQ(msgs[i].payload, Payload(i, 100)) << i;
  WorkerStats s = worker_->Snapshot();
  EXPECT_EQ(s.recv_pauses, 1u);
  EXPECT_EQ(s.totals.messages_in, static_cast<uint64_t>(sent));
}

TEST_F(WorkerTest, APausedAssociationLearnsOfItsEndOnResumeAndStopEndsIt) {
  Start();
  AssocHandle h1, h2;
  Fd peer1 = AdoptPair(&h1);
  Fd peer2 = AdoptPair(&h2);
  bool paused = false;
  OnWorker([&](Worker& w) { paused = w.PauseReceive(h1) && w.PauseReceive(h2); });
  ASSERT_TRUE(paused);
  peer1.reset();  // seen only once the association reads again
  bool resumed = false;
  OnWorker([&](Worker& w) { resumed = w.ResumeReceive(h1); });
  ASSERT_TRUE(resumed);
  ASSERT_TRUE(handler_.WaitDowns(1));
  OnWorker([&](Worker& w) {  // h1 is gone: both refuse it
    EXPECT_FALSE(w.PauseReceive(h1));
    EXPECT_FALSE(w.ResumeReceive(h1));
  });
  worker_->Stop();  // h2 is still paused: Stop ends it all the same
  ASSERT_TRUE(handler_.WaitDowns(2));
}

TEST_F(WorkerTest, ManyQueuedSendsGoOutInOrderAcrossChains) {
  Start({.send_batch = 8});
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  constexpr int kCount = 300;
  OnWorker([&](Worker& w) {
    for (int i = 0; i < kCount; ++i) ASSERT_EQ(w.SendCopy(h, 0, 0, Payload(i, 64)), SendResult::kOk);
  });
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(ReadMessage(peer.get()), Payload(i, 64)) << i;
  Settle();
  WorkerStats s = worker_->Snapshot();
  EXPECT_EQ(s.totals.send_copied_bytes, uint64_t{kCount} * 64);
  EXPECT_EQ(s.totals.messages_out, uint64_t{kCount});
  EXPECT_EQ(s.zc_sends, 0u);  // AF_UNIX refuses SENDMSG_ZC: probed, fell back to sendmsg
}

// A protocol that supports SENDMSG_ZC (TCP): the probe succeeds, every send
// after it goes zero-copy, each buffer comes back with its notification CQE.
TEST_F(WorkerTest, SendZcIsUsedWhereTheSocketSupportsIt) {
  Start({.send_batch = 8});
  Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  Fd server(accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  ASSERT_TRUE(server);
  ASSERT_TRUE(worker_->Adopt(std::move(server), 1, 0).ok());
  ASSERT_TRUE(handler_.WaitAdopted(1));
  AssocHandle h = handler_.adopted(0);
  constexpr int kCount = 100;
  std::string expected;
  OnWorker([&](Worker& w) {
    for (int i = 0; i < kCount; ++i) {
      expected += Payload(i, 500);
      ASSERT_EQ(w.SendCopy(h, 0, 0, Payload(i, 500)), SendResult::kOk);
    }
  });
  std::string got;
  while (got.size() < expected.size()) {
    std::string chunk = ReadMessage(client.get());
    ASSERT_NE(chunk, "<timeout>");
    got += chunk;
  }
  EXPECT_TRUE(got == expected);
  // The peer closes; the association ends only after every send's request
  // and notification CQEs are in.
  client.reset();
  ASSERT_TRUE(handler_.WaitDowns(1));
  EXPECT_EQ(handler_.downs()[0].stats.messages_out, uint64_t{kCount});
  WorkerStats s = worker_->Snapshot();
  EXPECT_EQ(s.zc_sends, uint64_t{kCount});
  EXPECT_EQ(s.send_buffers_in_use, 0u);
}

TEST_F(WorkerTest, TinyBufferRingRunsDryAndLosesNothing) {
  Start({.buffer_count = 4, .retain_budget = 1});
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  constexpr int kCount = 2000;
  for (int i = 0; i < kCount; ++i) WriteMessage(peer.get(), Payload(i, 700));
  ASSERT_TRUE(handler_.WaitMessages(kCount));
  auto msgs = handler_.messages();
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(msgs[i].payload, Payload(i, 700)) << i;
  EXPECT_EQ(msgs.size(), size_t{kCount});
}

// Every receive errno the dispatch names, through the real ring.
TEST_F(WorkerTest, RecvFaultsThatEndTheMultishotAreRearmedWithoutLoss) {
  Start();
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  int sent = 0;
  for (int err : {ENOBUFS, EAGAIN, EINTR, ECANCELED}) {
    OnWorker([&](Worker& w) { w.InjectRecvFaultForTest(h, -err); });
    WriteMessage(peer.get(), "after-" + std::to_string(err));
    // Arrives only through the real multishot armed after the fault.
    ASSERT_TRUE(handler_.WaitMessages(++sent));
  }
  auto msgs = handler_.messages();
  EXPECT_EQ(msgs[0].payload, "after-" + std::to_string(ENOBUFS));
  EXPECT_EQ(msgs[3].payload, "after-" + std::to_string(ECANCELED));
  EXPECT_TRUE(handler_.downs().empty());
  WorkerStats s = worker_->Snapshot();
  EXPECT_EQ(s.enobufs, 1u);
  EXPECT_GE(s.recv_rearms, 8u);  // each fault: the cancel's re-arm, then the fault's
}

TEST_F(WorkerTest, RecvErrorsThatKillTheSocketEndTheAssociation) {
  Start();
  struct Case {
    int res;
    uint32_t flags;
    DownReason reason;
    bool reported;
  };
  const Case cases[] = {
      {-ECONNRESET, 0, DownReason::kCommLost, false}, {-ENOTCONN, 0, DownReason::kCommLost, false},
      {-ETIMEDOUT, 0, DownReason::kCommLost, false},  {-EINVAL, 0, DownReason::kError, true},
      {-EBADF, 0, DownReason::kError, true},          {-ENOMEM, 0, DownReason::kError, true},
      {0, 0, DownReason::kError, true},  // a result without a buffer
  };
  size_t downs = 0, errors = 0;
  for (const Case& c : cases) {
    AssocHandle h;
    Fd peer = AdoptPair(&h);
    OnWorker([&](Worker& w) { w.InjectRecvFaultForTest(h, c.res, c.flags); });
    ASSERT_TRUE(handler_.WaitDowns(++downs)) << c.res;
    EXPECT_EQ(handler_.downs().back().reason, c.reason) << c.res;
    EXPECT_EQ(handler_.downs().back().assoc, h);
    if (c.reported) ++errors;
    EXPECT_EQ(handler_.errors().size(), errors) << c.res;
  }
  EXPECT_EQ(worker_->Snapshot().associations_active, 0u);
}

TEST_F(WorkerTest, SendFaultsRetryInOrderOrDropWithAnError) {
  Start({.send_batch = 4});
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  OnWorker([&](Worker& w) {
    w.InjectSendFaultForTest(h, -EAGAIN);     // retried, POLL_FIRST
    ASSERT_EQ(w.SendCopy(h, 0, 0, std::string("a")), SendResult::kOk);
    ASSERT_EQ(w.SendCopy(h, 0, 0, std::string("b")), SendResult::kOk);
  });
  EXPECT_EQ(ReadMessage(peer.get()), "a");
  EXPECT_EQ(ReadMessage(peer.get()), "b");
  OnWorker([&](Worker& w) {
    w.InjectSendFaultForTest(h, -ECANCELED);  // retried
    ASSERT_EQ(w.SendCopy(h, 0, 0, std::string("c")), SendResult::kOk);
  });
  EXPECT_EQ(ReadMessage(peer.get()), "c");
  OnWorker([&](Worker& w) {
    w.InjectSendFaultForTest(h, -EMSGSIZE);   // dropped, reported
    ASSERT_EQ(w.SendCopy(h, 0, 0, std::string("dropped")), SendResult::kOk);
    ASSERT_EQ(w.SendCopy(h, 0, 0, std::string("d")), SendResult::kOk);
  });
  EXPECT_EQ(ReadMessage(peer.get()), "d");
  ASSERT_TRUE(handler_.WaitErrors(1));
  EXPECT_NE(handler_.errors()[0].message().find("Message too long"), std::string::npos) << handler_.errors()[0];
  Settle();
  WorkerStats s = worker_->Snapshot();
  EXPECT_EQ(s.totals.send_eagain, 1u);
  EXPECT_EQ(s.totals.send_errors, 1u);
  EXPECT_EQ(s.totals.messages_out, 4u);
  OnWorker([&](Worker& w) {
    w.InjectSendFaultForTest(h, -EPIPE);      // association is gone
    ASSERT_EQ(w.SendCopy(h, 0, 0, std::string("e")), SendResult::kOk);
  });
  ASSERT_TRUE(handler_.WaitDowns(1));
  EXPECT_EQ(handler_.downs()[0].reason, DownReason::kCommLost);
}

// A peer that does not read: its receive queue fills, the worker's sendmsg
// waits for POLLOUT, and the association's queue fills to a limit. A round
// that finds the queue still full from the round before means the socket is
// what holds it; `at_full(stats)` looks then. Reading drains the socket, then
// the queue: OnWritable, and every accepted message arrives once, in order.
class WorkerQueueTest : public WorkerTest {
 protected:
  void StallFillAndDrain(size_t size, absl::FunctionRef<void(const AssocStats&)> at_full) {
    AssocHandle h;
    Fd peer = AdoptPair(&h);
    int accepted = 0, writable_when_stuck = -1;
    for (int round = 0; round < 1000 && writable_when_stuck < 0; ++round) {
      OnWorker([&](Worker& w) {
        for (int i = 0;; ++i) {
          SendResult r = w.SendCopy(h, 0, 0, Payload(accepted, size));
          if (r == SendResult::kQueueFull) {
            if (i > 0) return;
            writable_when_stuck = handler_.writable();
            AssocStats st;
            ASSERT_TRUE(w.AssocSnapshot(h, &st));
            at_full(st);
            return;
          }
          ASSERT_EQ(r, SendResult::kOk);
          ++accepted;
        }
      });
    }
    ASSERT_GE(writable_when_stuck, 0) << "the queue never stayed full";
    for (int i = 0; i < accepted; ++i) ASSERT_EQ(ReadMessage(peer.get()), Payload(i, size)) << i;
    ASSERT_TRUE(handler_.WaitFor([&](RecordingHandler& r) { return r.writable_ > writable_when_stuck; }));
  }
};

TEST_F(WorkerQueueTest, QueueLimitGivesBackpressureThenWritable) {
  Start({.send_queue_limit = 4, .send_batch = 2});
  StallFillAndDrain(1000, [](const AssocStats& s) {
    EXPECT_EQ(s.send_queue_depth, 4u);
    EXPECT_GT(s.send_queue_full, 0u);
  });
}

// The byte bound: 1000-byte messages against 4500 bytes stop at 4 held (a
// fifth would pass it), long before the message limit: queued, and in the
// stuck chain (1 or 2 of them, as the queue stood when it was formed).
TEST_F(WorkerQueueTest, QueueByteLimitGivesBackpressureThenWritable) {
  Start({.send_queue_limit = 1000, .send_queue_bytes = 4500, .send_batch = 2});
  StallFillAndDrain(1000, [](const AssocStats& s) {
    EXPECT_GE(s.send_queue_depth, 2u);
    EXPECT_LE(s.send_queue_depth, 3u);
    EXPECT_EQ(s.send_queue_bytes, 4000u);
    EXPECT_GT(s.send_queue_full, 0u);
  });
}

// A message larger than the byte bound is still taken when the queue is
// empty: the bound never refuses what max_message_size allows.
TEST_F(WorkerTest, ALoneMessageLargerThanTheByteLimitIsTaken) {
  Start({.send_queue_bytes = 100});
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  OnWorker([&](Worker& w) { EXPECT_EQ(w.SendCopy(h, 0, 0, Payload(0, 5000)), SendResult::kOk); });
  EXPECT_EQ(ReadMessage(peer.get()), Payload(0, 5000));
}

TEST_F(WorkerTest, RetainKeepsTheBufferWithinBudget) {
  Start({.buffer_count = 8, .retain_budget = 2});
  std::vector<RetainedMessage> kept;
  int refused = 0;
  handler_.on_message = [&](Worker& w, const MessageView& m) {
    auto r = w.Retain(m);
    if (r.ok()) kept.push_back(std::move(*r));
    else ++refused;
  };
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  for (int i = 0; i < 5; ++i) WriteMessage(peer.get(), Payload(i, 10));
  ASSERT_TRUE(handler_.WaitMessages(5));
  OnWorker([&](Worker& w) {
    ASSERT_EQ(kept.size(), 2u);
    EXPECT_EQ(std::string(kept[0].payload.begin(), kept[0].payload.end()), Payload(0, 10));
    EXPECT_EQ(std::string(kept[1].payload.begin(), kept[1].payload.end()), Payload(1, 10));
    EXPECT_EQ(w.Snapshot().retained_buffers, 2u);
    for (auto& k : kept) w.Release(std::move(k));
    kept.clear();
    EXPECT_EQ(w.Snapshot().retained_buffers, 0u);
  });
  EXPECT_EQ(refused, 3);
  EXPECT_EQ(worker_->Snapshot().retain_refused, 3u);
}

TEST_F(WorkerTest, OversizeDatagramAbortsTheAssociation) {
  Start({.buffer_size = 1024});
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  WriteMessage(peer.get(), std::string(5000, 'z'));
  ASSERT_TRUE(handler_.WaitDowns(1));
  EXPECT_EQ(handler_.downs()[0].reason, DownReason::kOversize);
  EXPECT_EQ(worker_->Snapshot().oversize_messages, 1u);
}

TEST_F(WorkerTest, PeerCloseReleasesEverything) {
  Start();
  int fds_before = OpenFdCount();
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  WriteMessage(peer.get(), "bye");
  ASSERT_TRUE(handler_.WaitMessages(1));
  peer.reset();
  ASSERT_TRUE(handler_.WaitDowns(1));
  EXPECT_EQ(handler_.downs()[0].reason, DownReason::kPeerClosed);
  EXPECT_EQ(handler_.downs()[0].stats.messages_in, 1u);
  EXPECT_EQ(OpenFdCount(), fds_before);
  WorkerStats s = worker_->Snapshot();
  EXPECT_EQ(s.associations_active, 0u);
  EXPECT_EQ(s.associations_closed, 1u);
  // The handle is stale now.
  OnWorker([&](Worker& w) { EXPECT_EQ(w.SendCopy(h, 0, 0, std::string("x")), SendResult::kNoAssociation); });
}

TEST_F(WorkerTest, FullWorkerRefusesAdoptionClearly) {
  Start({.max_associations = 1});
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  auto [mine, theirs] = SeqpacketPair();
  ASSERT_TRUE(worker_->Adopt(std::move(mine), 8, 0).ok());
  ASSERT_TRUE(handler_.WaitErrors(1));
  EXPECT_EQ(handler_.errors()[0].code(), absl::StatusCode::kResourceExhausted);
  // The refused fd was closed: its peer sees EOF.
  EXPECT_EQ(ReadMessage(theirs.get()), "");
}

TEST_F(WorkerTest, StopDrainsQueuedSends) {
  Start();
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  OnWorker([&](Worker& w) {
    for (int i = 0; i < 50; ++i) ASSERT_EQ(w.SendCopy(h, 0, 0, Payload(i, 32)), SendResult::kOk);
  });
  worker_->Stop();
  for (int i = 0; i < 50; ++i) ASSERT_EQ(ReadMessage(peer.get()), Payload(i, 32));
  ASSERT_EQ(handler_.downs().size(), 1u);
  EXPECT_EQ(handler_.downs()[0].reason, DownReason::kStopped);
  EXPECT_FALSE(worker_->Post([](Worker&) {}).ok());
}

// A post from another loop's thread wakes the worker ring to ring: a
// MSG_RING CQE, no eventfd. Nothing else would wake it (the test thread is
// idle meanwhile), so the post runs only if that path works.
TEST_F(WorkerTest, MsgRingFromAnotherLoopWakesTheWorkerWithoutTheEventfd) {
  Start();
  RecordingHandler other_handler;
  auto other = Worker::Create({.index = 1, .buffer_count = 64, .retain_budget = 8, .send_buffer_count = 64}, &other_handler);
  ASSERT_TRUE(other.ok()) << other.status();
  Settle();  // the test's own posts so far are in
  const WorkerStats before = worker_->Snapshot();
  Notification ran;
  ASSERT_TRUE((*other)->Post([&](Worker&) { ASSERT_TRUE(worker_->Post([&](Worker&) { ran.Notify(); }).ok()); }).ok());
  ASSERT_TRUE(ran.WaitFor(absl::Seconds(10)));
  const WorkerStats after = worker_->Snapshot();
  ASSERT_TRUE(ProbeRingFeatures().op_msg_ring);  // the data plane's floor (ring_test)
  EXPECT_EQ(after.msg_ring_wakes, before.msg_ring_wakes + 1);
  EXPECT_EQ(after.eventfd_wakes, before.eventfd_wakes);
}

// The application keeps a received message and sends it back from the
// buffer it arrived in: no copy anywhere, and the buffer returns to the ring
// when the kernel is done with it.
TEST_F(WorkerTest, RetainedMessagesAreSentFromTheirReceiveBuffers) {
  Start({.buffer_count = 64, .retain_budget = 16});
  handler_.on_message = [](Worker& w, const MessageView& m) {
    absl::StatusOr<RetainedMessage> r = w.Retain(m);
    ASSERT_TRUE(r.ok()) << r.status();
    // Half of them in part: from the third byte on.
    const absl::Span<const char> part = m.ppid % 2 ? m.payload.subspan(2) : absl::Span<const char>();
    ASSERT_EQ(w.SendRetained(m.assoc, 0, 0, std::move(*r), part), SendResult::kOk);
  };
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  for (int i = 0; i < 300; ++i) {
    WriteMessage(peer.get(), Payload(i, 100));
    EXPECT_EQ(ReadMessage(peer.get()), Payload(i, 100)) << i;
  }
  Settle();
  WorkerStats s = worker_->Snapshot();
  EXPECT_EQ(s.totals.messages_out, 300u);
  EXPECT_EQ(s.totals.send_copies, 0u);
  EXPECT_EQ(s.totals.copied_bytes, 0u);
  EXPECT_EQ(s.retained_buffers, 0u);
}

// Another thread builds a message in a shared parcel; the worker sends it
// from there and gives the parcel back.
TEST_F(WorkerTest, ParcelsBuiltElsewhereAreSentInPlaceAndReleased) {
  auto parcels = ParcelPool::Create(64, 1024);
  ASSERT_TRUE(parcels.ok());
  Start({.parcels = parcels->get()});
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  for (int i = 0; i < 100; ++i) {
    const std::string m = Payload(i, 1 + (i * 37) % 3000);  // up to three segments
    SendBuffer b = (*parcels)->Acquire(m.size());
    ASSERT_TRUE(b.valid());
    b.Write(0, m);
    const uint32_t id = b.id();
    OnWorker([&](Worker& w) { ASSERT_EQ(w.Send(h, 0, 0, (*parcels)->AsBuffer(id)), SendResult::kOk); });
    EXPECT_EQ(ReadMessage(peer.get()), m) << i;
  }
  Settle();
  EXPECT_EQ((*parcels)->buffers_in_use(), 0u);
  EXPECT_EQ(worker_->Snapshot().totals.send_copies, 0u);
}

// Detach hands an association back alive: what was read is delivered here,
// what was queued comes back in order, and another worker carries on with
// the same socket without a gap.
TEST_F(WorkerTest, DetachHandsTheSocketAndItsQueueBackInOrder) {
  Start();
  RecordingHandler next_handler;
  auto next = Worker::Create({.index = 1, .buffer_count = 64, .retain_budget = 8, .send_buffer_count = 64}, &next_handler);
  ASSERT_TRUE(next.ok());
  AssocHandle h;
  Fd peer = AdoptPair(&h);
  for (int i = 0; i < 20; ++i) WriteMessage(peer.get(), Payload(i, 50));
  ASSERT_TRUE(handler_.WaitMessages(20));
  std::optional<absl::StatusOr<DetachedAssociation>> detached;
  Notification done;
  OnWorker([&](Worker& w) {
    // The peer does not read yet: some of these stay queued.
    for (int i = 0; i < 5; ++i) ASSERT_EQ(w.SendCopy(h, 0, 0, Payload(i, 40)), SendResult::kOk);
    w.Detach(h, [&](absl::StatusOr<DetachedAssociation> d) {
      detached = std::move(d);
      done.Notify();
    });
  });
  ASSERT_TRUE(done.WaitFor(absl::Seconds(10)));
  ASSERT_TRUE(detached->ok()) << detached->status();
  DetachedAssociation& d = **detached;
  EXPECT_EQ(d.assoc_id, 7);
  EXPECT_EQ(d.cookie, 99u);
  EXPECT_TRUE(handler_.downs().empty());
  ASSERT_TRUE((*next)->Adopt(std::move(d.fd), d.assoc_id, d.cookie).ok());
  ASSERT_TRUE(next_handler.WaitAdopted(1));
  const AssocHandle h2 = next_handler.adopted(0);
  std::vector<OutgoingMessage> queued = std::move(d.queued);
  // What was queued came out copied once, counted apart from the sends' copies.
  EXPECT_EQ(worker_->Snapshot().totals.move_copies, queued.size());
  EXPECT_EQ(worker_->Snapshot().totals.send_copies, 5u);
  Notification sent;
  ASSERT_TRUE((*next)->Post([&](Worker& w) {
    for (const OutgoingMessage& m : queued) ASSERT_EQ(w.SendCopy(h2, 0, 0, m.payload()), SendResult::kOk);
    ASSERT_EQ(w.SendCopy(h2, 0, 0, Payload(5, 40)), SendResult::kOk);
    sent.Notify();
  }).ok());
  ASSERT_TRUE(sent.WaitFor(absl::Seconds(10)));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(ReadMessage(peer.get()), Payload(i, 40)) << i;
  for (int i = 20; i < 30; ++i) WriteMessage(peer.get(), Payload(i, 50));
  ASSERT_TRUE(next_handler.WaitMessages(10));
  auto later = next_handler.messages();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(later[i].payload, Payload(20 + i, 50));
  EXPECT_EQ(worker_->Snapshot().associations_detached, 1u);
  EXPECT_EQ(worker_->Snapshot().associations_active, 0u);
}

// Completions held back and released out of order across associations (a
// seeded fault plan): every association's messages still arrive and echo
// back once, in order.
TEST_F(WorkerTest, DelayedAndReorderedCompletionsKeepEveryAssociationsOrder) {
  Start({.faults = FaultPlanOptions{.seed = 7, .delay_probability = 0.3, .max_delay_reaps = 5}});
  handler_.on_message = [](Worker& w, const MessageView& m) {
    ASSERT_EQ(w.SendCopy(m.assoc, 0, 0, m.payload), SendResult::kOk);
  };
  constexpr int kAssocs = 4, kEach = 100;  // every echo fits the send pool (512) while the peers do not read yet
  std::vector<AssocHandle> handles(kAssocs);
  std::vector<Fd> peers;
  for (int a = 0; a < kAssocs; ++a) peers.push_back(AdoptPair(&handles[a]));
  for (int i = 0; i < kEach; ++i) {
    for (int a = 0; a < kAssocs; ++a) WriteMessage(peers[a].get(), Payload(a * 1000 + i, 64));
  }
  for (int a = 0; a < kAssocs; ++a) {
    for (int i = 0; i < kEach; ++i) ASSERT_EQ(ReadMessage(peers[a].get()), Payload(a * 1000 + i, 64)) << a << " " << i;
  }
}

// Adoption from another worker's thread (as the control thread hands a
// peeled association over) wakes the adopter ring to ring: a MSG_RING CQE,
// no eventfd write and no eventfd read.
TEST(WorkerThreadsTest, AdoptionFromAnotherLoopComesThroughMsgRing) {
  ASSERT_TRUE(ProbeRingFeatures().op_msg_ring);  // the data plane's floor (ring_test)
  RecordingHandler handler;
  const WorkerOptions o{.max_associations = 4, .buffer_count = 64, .retain_budget = 8, .send_buffer_count = 64};
  auto w0 = Worker::Create(o, &handler);
  WorkerOptions o1 = o;
  o1.index = 1;
  auto w1 = Worker::Create(o1, &handler);
  ASSERT_TRUE(w0.ok() && w1.ok());
  Worker& from = **w0;
  Worker& to = **w1;
  const WorkerStats before = to.Snapshot();
  auto [mine, theirs] = SeqpacketPair();
  Notification handed;
  ASSERT_TRUE(from.Post([&, fd = std::move(mine)](Worker&) mutable {
    ASSERT_TRUE(to.Adopt(std::move(fd), 1, 0).ok());
    handed.Notify();
  }).ok());
  ASSERT_TRUE(handed.WaitFor(absl::Seconds(10)));
  ASSERT_TRUE(handler.WaitAdopted(1));
  const WorkerStats after = to.Snapshot();
  EXPECT_EQ(after.msg_ring_wakes, before.msg_ring_wakes + 1);
  EXPECT_EQ(after.eventfd_wakes, before.eventfd_wakes);
  // Adopting a non-SCTP socket costs 2 syscalls (getsockopt, fixed-file
  // update); the eventfd path would add a read.
  EXPECT_EQ(after.other_syscalls - before.other_syscalls, 2u);
  ASSERT_EQ(send(theirs.get(), "hi", 2, 0), 2);
  ASSERT_TRUE(handler.WaitMessages(1));
}

TEST(WorkerThreadsTest, AllowedCpusListsWhereThisProcessMayRun) {
  const std::vector<int> cpus = AllowedCpus();
  ASSERT_FALSE(cpus.empty());
  for (int cpu : cpus) EXPECT_GE(cpu, 0);
}

}  // namespace
}  // namespace sctpdp
