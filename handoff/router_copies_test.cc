// What the Router copies, counted, with two fake shards whose engines are
// lists the test reads (what each was asked to send, and from which bytes).
// One test thread plays both shards' threads in turn (Router::BindThread), so
// every step is deterministic. An echo (a message kept in its receive
// buffer) goes from that buffer, also when it waits behind a backlog; only a
// move copies, once per waiting message that lies in memory the old owner
// cannot give away (move_copies), and the new owner sends those copies, and
// what the old engine copied out of its queue, from where they are.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "handoff/router.h"

namespace sctpdp {
namespace {

// A message as an engine took it: which bytes it would send, and from where.
struct Taken {
  std::string bytes;
  const char* from = nullptr;  // null: copied into the engine's own memory
  RetainedMessage kept;        // a receive buffer, or memory of its own
  SendBuffer parcel;
};

class FakeShard : public Shard {
 public:
  FakeShard(int index, Router* router) : index_(index), router_(router) {}

  // A message "received" into this shard's receive buffer `id`, kept.
  RetainedMessage Receive(int id, const std::string& text) {
    ring_[id] = text;
    RetainedMessage m;
    m.buffer_id = id;
    m.payload = absl::MakeConstSpan(ring_[id]);
    return m;
  }
  // The engine's queue at a Detach: copied out once (the engine's
  // move_copies), its receive buffers given back.
  void FinishDetach() {
    DetachedSocket d;
    for (Taken& t : queue) {
      OutgoingMessage q;
      q.size = t.bytes.size();
      q.data.reset(new char[q.size]);
      std::memcpy(q.data.get(), t.bytes.data(), q.size);
      detach_copies.push_back(q.data.get());
      Forget(t);
      d.queued.push_back(std::move(q));
    }
    queue.clear();
    auto done = std::move(detaching_);
    done(std::move(d));
  }

  // Shard.
  int index() const override { return index_; }
  Inbox::Push Mail(uint64_t item) override {
    mail_.push_back(item);
    ++reserved_;
    return Inbox::Push::kQueued;
  }
  absl::Status Post(absl::AnyInvocable<void()> fn) override { return absl::UnimplementedError("no posts here"); }
  absl::Status Adopt(Fd, Route* route) override {
    adopting = route;
    return absl::OkStatus();
  }
  SendBuffer AcquireLocal(size_t) override { return SendBuffer(); }
  void ReleaseLocal(SendBuffer) override {}
  absl::StatusOr<RetainedMessage> RetainLocal(const MessageView&) override {
    return absl::UnimplementedError("Receive() instead");
  }
  SendResult SendLocal(Route&, const SendMeta&, SendBuffer&& buffer) override {
    if (full) return SendResult::kQueueFull;
    const absl::Span<char> s = buffer.segment(0);
    queue.push_back(Taken{std::string(s.data(), buffer.size()), s.data(), {}, std::move(buffer)});
    return SendResult::kOk;
  }
  SendResult SendLocalCopy(Route&, const SendMeta&, absl::Span<const char> payload) override {
    if (full) return SendResult::kQueueFull;
    ++copies;
    queue.push_back(Taken{std::string(payload.begin(), payload.end())});
    return SendResult::kOk;
  }
  SendResult SendLocalRetained(Route&, const SendMeta&, RetainedMessage&& message,
                               absl::Span<const char> part) override {
    if (full) return SendResult::kQueueFull;
    if (part.empty()) part = message.payload;
    queue.push_back(Taken{std::string(part.begin(), part.end()), part.data(), std::move(message)});
    return SendResult::kOk;
  }
  void ReleaseRetained(RetainedMessage message) override {
    if (message.buffer_id >= 0) released.push_back(message.buffer_id);
  }
  SendResult ShutdownLocal(Route&) override { return SendResult::kOk; }
  void AbortLocal(Route&) override {}
  void Detach(Route&, absl::AnyInvocable<void(absl::StatusOr<DetachedSocket>)> done) override {
    detaching_ = std::move(done);  // FinishDetach
  }
  void RequestTick() override {}
  void DrainMail() override {
    std::vector<uint64_t> items;
    items.swap(mail_);
    taken_ += items.size();
    router_->OnMail(*this, items);
  }
  uint64_t MailReserved() override { return reserved_; }
  uint64_t MailTaken() override { return taken_; }
  int SocketOf(Route&) override { return -1; }
  void ForEachSocket(absl::FunctionRef<void(Route&, int)>) override {}

  bool full = false;           // the engine refuses (kQueueFull)
  std::vector<Taken> queue;    // what the engine took, in order
  std::vector<int> released;   // receive buffers given back
  std::vector<const char*> detach_copies;
  Route* adopting = nullptr;
  uint64_t copies = 0;         // SendLocalCopy

 private:
  void Forget(Taken& t) {
    if (t.kept.buffer_id >= 0) released.push_back(t.kept.buffer_id);
    if (t.parcel.valid()) t.parcel.parcels()->Release(std::move(t.parcel));
  }

  const int index_;
  Router* const router_;
  std::array<std::string, 16> ring_;
  std::vector<uint64_t> mail_;
  uint64_t reserved_ = 0, taken_ = 0;
  absl::AnyInvocable<void(absl::StatusOr<DetachedSocket>)> detaching_;
};

class Quiet : public RouterHandler {
 public:
  void OnWritable(sctp_assoc_t) override { ++writable; }
  void OnSendDropped(sctp_assoc_t, const absl::Status& why) override { ADD_FAILURE() << why; }
  int writable = 0;
};

std::vector<std::string> BytesOf(const std::vector<Taken>& queue) {
  std::vector<std::string> out;
  for (const Taken& t : queue) out.push_back(t.bytes);
  return out;
}

class RouterCopiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parcels = ParcelPool::Create(64, 1024);
    ASSERT_TRUE(parcels.ok());
    parcels_ = *std::move(parcels);
    router_ = std::make_unique<Router>(
        RouterOptions{.max_associations = 8, .cross_thread_limit = 64, .parcels = parcels_.get()}, &handler_);
    a_ = std::make_unique<FakeShard>(0, router_.get());
    b_ = std::make_unique<FakeShard>(1, router_.get());
    router_->AddShard(a_.get());
    router_->AddShard(b_.get());
    route_ = router_->Add(kId, 0, RouteState::kLive, 0);
    ASSERT_NE(route_, nullptr);
  }
  void TearDown() override { Router::BindThread(nullptr); }

  // Another thread's Send(payload): copied once into a parcel, mailed to
  // the owner, which takes its mail (as `owner`).
  void SendFrom(FakeShard& sender, FakeShard& owner, const std::string& text) {
    Router::BindThread(&sender);
    ASSERT_EQ(router_->Send(kId, SendMeta{}, text), SendResult::kOk);
    Router::BindThread(&owner);
    owner.DrainMail();
  }
  // An echo on `shard`'s thread of what arrived in its buffer `id`.
  SendResult Echo(FakeShard& shard, int id, const std::string& text) {
    Router::BindThread(&shard);
    return router_->SendRetained(kId, SendMeta{}, Retained{shard.Receive(id, text), shard.index()}, {});
  }

  static constexpr sctp_assoc_t kId = 7;
  std::unique_ptr<ParcelPool> parcels_;
  Quiet handler_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<FakeShard> a_, b_;
  Route* route_ = nullptr;
};

TEST_F(RouterCopiesTest, EchoesWaitInTheirReceiveBuffersAndAMoveCopiesEachOnce) {
  FakeShard& a = *a_;
  FakeShard& b = *b_;
  // An echo on the owner's thread goes from its receive buffer.
  ASSERT_EQ(Echo(a, 1, "m1"), SendResult::kOk);
  // Behind a backlog (a parcel the full engine refused) it waits there, in
  // its receive buffer, and goes from it when the engine has room.
  a.full = true;
  ASSERT_NO_FATAL_FAILURE(SendFrom(b, a, "p1"));
  ASSERT_EQ(route_->backlog.size(), 1u);
  ASSERT_EQ(Echo(a, 2, "m2"), SendResult::kOk);
  a.full = false;
  router_->OnEngineWritable(a, *route_);
  EXPECT_EQ(BytesOf(a.queue), (std::vector<std::string>{"m1", "p1", "m2"}));
  EXPECT_EQ(a.queue[2].kept.buffer_id, 2);  // from its buffer, not copied
  EXPECT_EQ(a.copies, 0u);
  EXPECT_EQ(router_->Stats().cross_thread_copies, 1u);  // p1, Send(payload) from another thread
  EXPECT_EQ(router_->Stats().move_copies, 0u);

  // A backlog again, then a move to B: A's engine copies its queue out once;
  // of the backlog the parcel goes as it is and the receive buffers are
  // copied once (the router's move_copies), also the echo of a message that
  // arrived while the move was under way.
  a.full = true;
  ASSERT_NO_FATAL_FAILURE(SendFrom(b, a, "p2"));
  ASSERT_EQ(Echo(a, 3, "m3"), SendResult::kOk);
  Router::BindThread(&a);
  bool detached = false;
  router_->Move(a, *route_, 1, [&](const absl::Status& s) { detached = s.ok(); });
  ASSERT_EQ(Echo(a, 4, "m4"), SendResult::kOk);  // during the move (leaving)
  Router::BindThread(&a);
  a.FinishDetach();
  ASSERT_TRUE(detached);
  ASSERT_EQ(b.adopting, route_);
  EXPECT_EQ(router_->Stats().move_copies, 2u);  // m3, m4
  EXPECT_EQ(a.released, (std::vector<int>{1, 2, 3, 4}));
  // B sends all of it in order, none copied again: the engine's copies and
  // the router's are sent from where they lie.
  Router::BindThread(&b);
  router_->FinishMove(b, *route_, 1);
  EXPECT_EQ(BytesOf(b.queue), (std::vector<std::string>{"m1", "p1", "m2", "p2", "m3", "m4"}));
  EXPECT_EQ(b.copies, 0u);
  ASSERT_EQ(a.detach_copies.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b.queue[i].from, a.detach_copies[i]) << i;
  EXPECT_NE(b.queue[3].parcel.parcels(), nullptr);  // p2: the parcel itself
  for (int i = 4; i < 6; ++i) EXPECT_EQ(b.queue[i].from, b.queue[i].kept.reassembled.get()) << i;

  // A message kept on A whose destination now lives on B: copied once,
  // into a parcel (cross_thread_copies), and its buffer goes back to A.
  ASSERT_EQ(Echo(a, 5, "m5"), SendResult::kOk);
  EXPECT_EQ(router_->Stats().cross_thread_copies, 3u);  // p1, p2, m5
  EXPECT_EQ(a.released.back(), 5);
  Router::BindThread(&b);
  b.DrainMail();
  EXPECT_EQ(b.queue.back().bytes, "m5");
  EXPECT_EQ(b.copies, 0u);
  EXPECT_EQ(router_->Stats().move_copies, 2u);
}

}  // namespace
}  // namespace sctpdp
