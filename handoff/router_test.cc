// The move protocol on the host, thousands of times per run: associations
// (AF_UNIX SEQPACKET pairs) served by real Workers with seeded fault plans
// that delay and reorder completions, moved from worker to worker at random
// while
//   - two application threads send to each of them (through parcels),
//   - the peer sends to each, and the owner echoes every message back from
//     its own thread (from the receive buffer, or copied),
// and nothing may be lost, duplicated or reordered in any direction.
#include "handoff/router.h"

#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/worker_test_util.h"
#include "handoff/worker_shard.h"

namespace sctpdp {
namespace {

constexpr int kShards = 3;
constexpr int kAssocs = 6;
constexpr int kSenders = 2;

// Every message: who sent it, to which association, its sequence number;
// padded to a size that varies with the sequence.
struct Header {
  uint8_t kind;    // 'S': an application thread, 'P': the peer (and its echo)
  uint8_t sender;
  uint16_t assoc;
  uint32_t seq;
};

std::string Message(char kind, int sender, int assoc, uint32_t seq) {
  std::string m(sizeof(Header) + seq % 300, static_cast<char>('a' + seq % 26));
  const Header h{static_cast<uint8_t>(kind), static_cast<uint8_t>(sender), static_cast<uint16_t>(assoc), seq};
  std::memcpy(m.data(), &h, sizeof(h));
  return m;
}

Header HeaderOf(absl::Span<const char> bytes) {
  Header h{};
  if (bytes.size() >= sizeof(h)) std::memcpy(&h, bytes.data(), sizeof(h));
  return h;
}

class World : public ShardEvents, public RouterHandler {
 public:
  // --- ShardEvents (owner threads).
  void OnMessage(Shard& shard, Route& route, const MessageView& m) override {
    const Header h = HeaderOf(m.payload);
    {
      std::lock_guard<std::mutex> l(mu_);
      uint32_t& next = owner_next_[h.assoc];
      if (h.kind != 'P' || h.seq != next || m.payload != absl::MakeConstSpan(Message('P', 0, h.assoc, h.seq))) {
        ++violations_;
      }
      next = h.seq + 1;
      ++owner_got_;
      cv_.notify_all();
    }
    Echo(shard, route, m);
  }
  void OnAdopted(Shard&, Route& route) override {
    std::lock_guard<std::mutex> l(mu_);
    ++adopted_;
    cv_.notify_all();
  }
  void OnError(Shard&, Route*, const absl::Status& e) override {
    std::lock_guard<std::mutex> l(mu_);
    errors_.push_back(e.ToString());
  }
  void OnDown(Shard&, Route&, DownReason reason, const AssocStats&) override {
    std::lock_guard<std::mutex> l(mu_);
    errors_.push_back(std::string("association down: ") + DownReasonName(reason));
  }
  // --- RouterHandler.
  void OnWritable(sctp_assoc_t) override {
    std::lock_guard<std::mutex> l(mu_);
    ++writable_;
    cv_.notify_all();
  }
  void OnSendDropped(sctp_assoc_t, const absl::Status& why) override {
    std::lock_guard<std::mutex> l(mu_);
    errors_.push_back("dropped: " + why.ToString());
  }

  // Half the echoes go straight from the receive buffer, half are copied.
  void Echo(Shard& shard, Route& route, const MessageView& m) {
    const sctp_assoc_t id = route.id.load();
    const SendMeta meta{0, 0, 0, 0};
    SendResult r;
    if (HeaderOf(m.payload).seq % 2 == 0) {
      absl::StatusOr<RetainedMessage> kept = shard.RetainLocal(m);
      ASSERT_TRUE(kept.ok()) << kept.status();
      r = router->SendRetained(id, meta, Retained{*std::move(kept), shard.index()}, {});
    } else {
      r = router->Send(id, meta, m.payload);
    }
    // The limits are sized so that an echo never meets backpressure.
    if (r != SendResult::kOk) {
      std::lock_guard<std::mutex> l(mu_);
      errors_.push_back(std::string("echo refused: ") + SendResultName(r));
    }
  }

  // Waits (for an event, with a generous bound) until `done` holds.
  bool Wait(const std::function<bool()>& done) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(60), done);
  }
  uint64_t writable() {
    std::lock_guard<std::mutex> l(mu_);
    return writable_;
  }
  void Poke() {
    std::lock_guard<std::mutex> l(mu_);
    cv_.notify_all();
  }

  Router* router = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, uint32_t> owner_next_;
  uint64_t owner_got_ = 0, violations_ = 0, adopted_ = 0, writable_ = 0;
  std::vector<std::string> errors_;
};

// Reads every peer end; checks each (sender, association) stream of 'S'
// messages and each association's echoes of 'P' messages for order,
// duplicates and gaps.
class PeerReader {
 public:
  explicit PeerReader(std::vector<Fd>& peers) : peers_(peers) {}
  void Run(const std::atomic<bool>& stop) {
    std::vector<pollfd> fds;
    for (Fd& f : peers_) fds.push_back({f.get(), POLLIN, 0});
    char buf[4096];
    while (!stop.load()) {
      if (poll(fds.data(), fds.size(), 50) <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        ssize_t n;
        while ((n = recv(fds[i].fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) Check(static_cast<int>(i), buf, n);
      }
    }
  }
  void Check(int assoc, const char* buf, ssize_t n) {
    const Header h = HeaderOf(absl::MakeConstSpan(buf, n));
    const std::string expected = Message(static_cast<char>(h.kind), h.sender, h.assoc, h.seq);
    std::lock_guard<std::mutex> l(mu);
    const int stream = h.kind == 'S' ? h.sender * kAssocs + assoc : kSenders * kAssocs + assoc;
    uint32_t& next = h.kind == 'S' ? next_sent[stream] : next_echo[assoc];
    ++got[stream];
    if (h.assoc != assoc || std::string(buf, n) != expected || h.seq != next) ++violations;
    next = h.seq + 1;
    ++received;
    cv.notify_all();
  }
  // Closed loop: each writer keeps at most kWindow messages in flight per
  // stream (association, and sender or peer).
  static constexpr uint64_t kWindow = 16;
  bool WaitWindow(int stream, uint64_t sent, const std::atomic<bool>& stop) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(60), [&] { return sent - got[stream] < kWindow || stop.load(); });
  }
  bool WaitReceived(uint64_t n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(60), [&] { return received >= n; });
  }

  std::mutex mu;
  std::condition_variable cv;
  std::map<int, uint32_t> next_sent, next_echo;
  std::map<int, uint64_t> got;  // per stream
  uint64_t received = 0, violations = 0;

 private:
  std::vector<Fd>& peers_;
};

// Three worker shards with seeded fault plans, kAssocs socketpair
// associations spread over them, the traffic above, and moves on demand.
class MoveProtocol {
 public:
  MoveProtocol() : reader_(peers_) {}
  ~MoveProtocol() {
    stop_sending_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    stop_reading_ = true;
    if (reading_.joinable()) reading_.join();
  }

  void Start() {
    auto parcels = ParcelPool::Create(4096, 1024);
    ASSERT_TRUE(parcels.ok());
    parcels_ = *std::move(parcels);
    router_ = std::make_unique<Router>(
        RouterOptions{.max_associations = 64, .cross_thread_limit = 4096, .parcels = parcels_.get()}, &world_);
    world_.router = router_.get();
    for (int i = 0; i < kShards; ++i) {
      WorkerOptions o{.max_associations = 16, .buffer_count = 256, .retain_budget = 120, .send_buffer_count = 2048,
                      .send_buffer_size = 1024, .send_queue_limit = 4096};
      o.faults = FaultPlanOptions{.seed = 100u + i, .delay_probability = 0.2, .max_delay_reaps = 4};
      auto s = WorkerShard::Create(i, o, router_.get(), &world_);
      ASSERT_TRUE(s.ok()) << s.status();
      router_->AddShard(s->get());
      shards_.push_back(*std::move(s));
    }
    for (int a = 0; a < kAssocs; ++a) {
      auto [mine, theirs] = SeqpacketPair();
      Route* r = router_->Add(a + 1, a % kShards, RouteState::kMoving, 0);
      ASSERT_NE(r, nullptr);
      ASSERT_TRUE(shards_[a % kShards]->Adopt(std::move(mine), r).ok());
      routes_.push_back(r);
      peers_.push_back(std::move(theirs));
    }
    ASSERT_TRUE(world_.Wait([&] { return world_.adopted_ == kAssocs; }));
  }

  void StartTraffic() {
    reading_ = std::thread([this] { reader_.Run(stop_reading_); });
    sent_by_.assign(kSenders * kAssocs, 0);
    for (int t = 0; t < kSenders; ++t) threads_.emplace_back([this, t] { SendFrom(t); });
    threads_.emplace_back([this] { PeerWrites(); });
  }

  // Moves, one at a time, each from wherever the association is to another
  // worker, posted to the owner's thread. Returns the moves made.
  int Move(int count, std::mt19937& rng) {
    int moves = 0;
    while (moves < count) {
      Route* r = routes_[rng() % kAssocs];
      const RouteOwner o = r->Owner();
      if (o.state != RouteState::kLive) continue;
      const int to = (o.shard + 1 + rng() % (kShards - 1)) % kShards;
      if (MoveOnce(*r, *shards_[o.shard], to)) ++moves;
    }
    return moves;
  }

  // Stops the traffic, waits for everything sent to arrive, and checks it.
  void StopAndCheck() {
    stop_sending_ = true;
    {
      std::lock_guard<std::mutex> l(reader_.mu);
      reader_.cv.notify_all();
    }
    world_.Poke();
    for (auto& t : threads_) t.join();
    threads_.clear();
    uint64_t sent_total = 0;
    for (uint32_t n : sent_by_) sent_total += n;
    const uint64_t peer_total = peer_sent_.load();
    // The senders' messages and the echoes at the peers, the peer's messages
    // at the owners.
    ASSERT_TRUE(world_.Wait([&] { return world_.owner_got_ == peer_total; }))
        << world_.owner_got_ << " of " << peer_total;
    EXPECT_TRUE(reader_.WaitReceived(sent_total + peer_total));
    stop_reading_ = true;
    reading_.join();
    std::lock_guard<std::mutex> l(world_.mu_);
    EXPECT_EQ(reader_.received, sent_total + peer_total);
    EXPECT_EQ(reader_.violations, 0u);
    EXPECT_EQ(world_.violations_, 0u);
    for (const std::string& e : world_.errors_) ADD_FAILURE() << e;
    std::printf("%llu moves, %llu cross-thread sends, %llu peer messages echoed\n",
                (unsigned long long)router_->Stats().moves, (unsigned long long)router_->Stats().cross_thread_sends,
                (unsigned long long)peer_total);
  }

  Router& router() { return *router_; }

 private:
  bool MoveOnce(Route& r, Shard& from, int to) {
    uint64_t adopted_before;
    {
      std::lock_guard<std::mutex> l(world_.mu_);
      adopted_before = world_.adopted_;
    }
    std::atomic<bool> failed{false};
    EXPECT_TRUE(from.Post([&, to] {
      if (r.Owner().shard != from.index() || r.Owner().state != RouteState::kLive) {
        failed = true;
        world_.Poke();
        return;
      }
      router_->Move(from, r, to, [&](const absl::Status& s) {
        if (s.ok()) return;
        failed = true;
        world_.Poke();
      });
    }).ok());
    EXPECT_TRUE(world_.Wait([&] { return world_.adopted_ > adopted_before || failed.load(); }));
    return !failed.load();
  }

  // One application thread: every association in turn, sequence-numbered,
  // built in a parcel half the time and copied into one otherwise, waiting
  // for OnWritable on backpressure and for the reader within its window.
  void SendFrom(int t) {
    for (uint32_t seq = 0; !stop_sending_.load(); ++seq) {
      for (int a = 0; a < kAssocs && !stop_sending_.load(); ++a) {
        ASSERT_TRUE(reader_.WaitWindow(t * kAssocs + a, seq, stop_sending_));
        if (stop_sending_.load()) break;
        const std::string m = Message('S', t, a, seq);
        SendResult r;
        while (IsBackpressure(r = SendOne(a + 1, m, seq % 2 == 0))) {
          const uint64_t before = world_.writable();
          world_.Wait([&] { return world_.writable_ > before || stop_sending_.load(); });
        }
        ASSERT_EQ(r, SendResult::kOk) << SendResultName(r);
        ++sent_by_[t * kAssocs + a];
      }
    }
  }

  SendResult SendOne(sctp_assoc_t id, const std::string& m, bool in_place) {
    if (!in_place) return router_->Send(id, SendMeta{}, m);
    SendBuffer b = router_->Acquire(id, m.size());
    if (!b.valid()) return SendResult::kNoBuffers;
    b.Write(0, m);
    const SendResult r = router_->Send(id, SendMeta{}, std::move(b));
    if (IsBackpressure(r)) router_->Release(std::move(b));
    return r;
  }

  // The peer: sequence-numbered messages to every association, within its
  // window of echoes.
  void PeerWrites() {
    for (uint32_t seq = 0; !stop_sending_.load(); ++seq) {
      for (int a = 0; a < kAssocs; ++a) {
        ASSERT_TRUE(reader_.WaitWindow(kSenders * kAssocs + a, seq, stop_sending_));
        if (stop_sending_.load()) return;
        const std::string m = Message('P', 0, a, seq);
        pollfd p{peers_[a].get(), POLLOUT, 0};
        ASSERT_EQ(poll(&p, 1, 60000), 1);
        ASSERT_EQ(send(peers_[a].get(), m.data(), m.size(), MSG_NOSIGNAL), static_cast<ssize_t>(m.size()));
        peer_sent_.fetch_add(1);
      }
    }
  }

  World world_;
  std::unique_ptr<ParcelPool> parcels_;
  std::unique_ptr<Router> router_;
  std::vector<std::unique_ptr<WorkerShard>> shards_;
  std::vector<Fd> peers_;
  std::vector<Route*> routes_;
  PeerReader reader_;
  std::atomic<bool> stop_sending_{false}, stop_reading_{false};
  std::vector<uint32_t> sent_by_;
  std::atomic<uint64_t> peer_sent_{0};
  std::thread reading_;
  std::vector<std::thread> threads_;
};

TEST(RouterTest, ThousandsOfMovesUnderDelayedCompletionsLoseNothingInAnyDirection) {
  MoveProtocol world;
  ASSERT_NO_FATAL_FAILURE(world.Start());
  world.StartTraffic();
  std::mt19937 rng(2024);
  EXPECT_EQ(world.Move(2000, rng), 2000);
  ASSERT_NO_FATAL_FAILURE(world.StopAndCheck());
  EXPECT_EQ(world.router().Stats().moves, 2000u);
  EXPECT_GT(world.router().Stats().cross_thread_sends, 1000u);
}

// --- The application's end of an association, through moves --------------------

// One association moved around three workers without pause while an
// application thread sends to it and then ends it.
class EndWorld : public ShardEvents, public RouterHandler {
 public:
  void OnMessage(Shard&, Route&, const MessageView&) override {}
  void OnAdopted(Shard&, Route&) override { Note([&] { ++adopted; }); }
  void OnError(Shard&, Route*, const absl::Status& e) override { Note([&] { errors.push_back(e.ToString()); }); }
  void OnDown(Shard&, Route&, DownReason reason, const AssocStats&) override {
    Note([&] { downs.push_back(reason); });
  }
  void OnWritable(sctp_assoc_t) override { Note([&] { ++writable; }); }
  void OnSendDropped(sctp_assoc_t, const absl::Status& why) override {
    Note([&] {
      ++dropped;
      if (drop_reasons.size() < 8) drop_reasons.push_back(why.ToString());
    });
  }

  template <typename F>
  void Note(F f) {
    std::lock_guard<std::mutex> l(mu);
    f();
    cv.notify_all();
  }
  bool Wait(const std::function<bool()>& done) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(60), done);
  }
  template <typename T>
  T Read(const T& field) {
    std::lock_guard<std::mutex> l(mu);
    return field;
  }

  std::mutex mu;
  std::condition_variable cv;
  uint64_t adopted = 0, writable = 0, dropped = 0;
  std::vector<DownReason> downs;
  std::vector<std::string> errors;
  std::vector<std::string> drop_reasons;  // the first few
};

class EndThroughMoves {
 public:
  ~EndThroughMoves() {
    StopMoving();
    // Every worker's thread ends before any is destroyed: a move in flight
    // may still post from one to another.
    for (auto& s : shards_) s->worker().Stop();
  }

  void Start() {
    auto parcels = ParcelPool::Create(4096, 1024);
    ASSERT_TRUE(parcels.ok());
    parcels_ = *std::move(parcels);
    router_ = std::make_unique<Router>(
        RouterOptions{.max_associations = 64, .cross_thread_limit = 256, .parcels = parcels_.get()}, &world_);
    for (int i = 0; i < kShards; ++i) {
      WorkerOptions o{.max_associations = 16, .buffer_count = 256, .retain_budget = 8, .send_buffer_count = 2048,
                      .send_buffer_size = 1024, .send_queue_limit = 64};
      o.faults = FaultPlanOptions{.seed = 7u + i, .delay_probability = 0.2, .max_delay_reaps = 4};
      auto s = WorkerShard::Create(i, o, router_.get(), &world_);
      ASSERT_TRUE(s.ok()) << s.status();
      router_->AddShard(s->get());
      shards_.push_back(*std::move(s));
    }
  }

  // A new association `id` on shard 0; the peer's end.
  Fd Add(sctp_assoc_t id) {
    auto [mine, theirs] = SeqpacketPair();
    route_ = router_->Add(id, 0, RouteState::kMoving, 0);
    EXPECT_NE(route_, nullptr);
    const uint64_t before = world_.Read(world_.adopted);
    EXPECT_TRUE(shards_[0]->Adopt(std::move(mine), route_).ok());
    EXPECT_TRUE(world_.Wait([&] { return world_.adopted > before; }));
    return std::move(theirs);
  }

  // Moves the route from owner to owner until StopMoving (or it ends).
  void StartMoving() {
    moving_ = true;
    mover_ = std::thread([this] {
      for (int n = 0; moving_.load(); ++n) {
        const RouteOwner o = route_->Owner();
        if (o.state == RouteState::kGone) return;
        if (o.state != RouteState::kLive) continue;
        Shard& from = *shards_[o.shard];
        const int to = (o.shard + 1) % kShards;
        // Outlives this iteration: the posted move may run after it ends (an
        // adoption of another round's move can end the wait early; the
        // router refuses a second move of a route already leaving).
        auto refused = std::make_shared<std::atomic<bool>>(false);
        EndWorld* world = &world_;
        Route* route = route_;
        Router* router = router_.get();
        const uint64_t adopted = world_.Read(world_.adopted);
        if (!from.Post([world, route, router, refused, &from, to] {
              if (route->Owner().shard != from.index() || route->Owner().state != RouteState::kLive) {
                refused->store(true);
                return world->Note([] {});
              }
              router->Move(from, *route, to, [world, refused](const absl::Status& s) {
                if (!s.ok()) {
                  refused->store(true);
                  world->Note([] {});
                }
              });
            }).ok()) {
          return;
        }
        world_.Wait([&] { return refused->load() || world_.adopted > adopted || !moving_.load(); });
        ++moves;
      }
    });
  }
  void StopMoving() {
    moving_ = false;
    world_.Note([] {});
    if (mover_.joinable()) mover_.join();
  }

  // Sends `count` numbered messages from this thread (parcels), waiting out
  // backpressure.
  void Send(sctp_assoc_t id, uint32_t count) {
    for (uint32_t seq = 0; seq < count; ++seq) {
      const std::string m = Message('S', 0, 0, seq);
      SendResult r;
      // Counted before the send: an OnWritable between a refusal and the
      // wait is not missed.
      for (uint64_t before = world_.Read(world_.writable); IsBackpressure(r = router_->Send(id, SendMeta{}, m));
           before = world_.Read(world_.writable)) {
        // Refused for room: told when there is (OnWritable), not forgotten.
        ASSERT_TRUE(world_.Wait([&] { return world_.writable > before; }))
            << "no OnWritable after " << SendResultName(r) << " at message " << seq;
      }
      ASSERT_EQ(r, SendResult::kOk) << SendResultName(r);
    }
  }

  // Reads the peer's end until EOF: the sequence numbers in order from 0.
  static uint32_t ReadUntilEof(int fd) {
    uint32_t got = 0;
    char buf[4096];
    while (true) {
      pollfd p{fd, POLLIN, 0};
      EXPECT_EQ(poll(&p, 1, 60000), 1) << "no EOF after " << got;
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return got;
      EXPECT_EQ(HeaderOf(absl::MakeConstSpan(buf, n)).seq, got);
      ++got;
    }
  }

  uint64_t WorkerDropped() {
    uint64_t n = 0;
    for (auto& s : shards_) n += s->worker().Snapshot().totals.send_dropped + s->worker().Snapshot().totals.send_errors;
    return n;
  }

  Router& router() { return *router_; }
  EndWorld& world() { return world_; }
  std::atomic<int> moves{0};

 private:
  EndWorld world_;
  std::unique_ptr<ParcelPool> parcels_;
  std::unique_ptr<Router> router_;
  std::vector<std::unique_ptr<WorkerShard>> shards_;
  Route* route_ = nullptr;
  std::atomic<bool> moving_{false};
  std::thread mover_;
};

// Router::Shutdown from an application thread while the association keeps
// moving: the peer reads every message sent before it, in order, then EOF
// (the SHUTDOWN); sends after it are refused.
TEST(RouterTest, ShutdownKeepsItsPlaceBehindTheSendsAcrossMoves) {
  EndThroughMoves w;
  ASSERT_NO_FATAL_FAILURE(w.Start());
  for (int round = 0; round < 20; ++round) {
    const sctp_assoc_t id = round + 1;
    Fd peer = w.Add(id);
    w.StartMoving();
    constexpr uint32_t kCount = 300;
    ASSERT_NO_FATAL_FAILURE(w.Send(id, kCount));
    SendResult r;
    for (uint64_t before = w.world().Read(w.world().writable); IsBackpressure(r = w.router().Shutdown(id));
         before = w.world().Read(w.world().writable)) {
      ASSERT_TRUE(w.world().Wait([&] { return w.world().writable > before; })) << "no OnWritable";
    }
    ASSERT_EQ(r, SendResult::kOk) << SendResultName(r);
    EXPECT_EQ(w.router().Send(id, SendMeta{}, std::string("late")), SendResult::kClosing);
    EXPECT_EQ(w.router().Shutdown(id), SendResult::kClosing);
    EXPECT_EQ(EndThroughMoves::ReadUntilEof(peer.get()), kCount) << "round " << round;
    w.StopMoving();
    peer.reset();  // the peer closes: the association ends
    ASSERT_TRUE(w.world().Wait([&] { return w.world().downs.size() == size_t(round + 1); }));
  }
  std::lock_guard<std::mutex> l(w.world().mu);
  EXPECT_EQ(w.world().dropped, 0u);
  for (const std::string& e : w.world().errors) ADD_FAILURE() << e;
  for (const std::string& e : w.world().drop_reasons) ADD_FAILURE() << "dropped: " << e;
  std::printf("%d moves around 20 shutdowns\n", w.moves.load());
}

// Router::Abort while the association keeps moving: carried out wherever
// it is (or lands), once; everything sent was delivered or reported dropped.
TEST(RouterTest, AbortFollowsTheAssociationAcrossMovesAndLosesNothingSilently) {
  EndThroughMoves w;
  ASSERT_NO_FATAL_FAILURE(w.Start());
  uint64_t sent = 0, delivered = 0;
  for (int round = 0; round < 20; ++round) {
    const sctp_assoc_t id = round + 1;
    Fd peer = w.Add(id);
    w.StartMoving();
    constexpr uint32_t kCount = 300;
    ASSERT_NO_FATAL_FAILURE(w.Send(id, kCount));
    sent += kCount;
    ASSERT_TRUE(w.router().Abort(id));
    EXPECT_EQ(w.router().Send(id, SendMeta{}, std::string("late")), SendResult::kClosing);
    delivered += EndThroughMoves::ReadUntilEof(peer.get());
    ASSERT_TRUE(w.world().Wait([&] { return w.world().downs.size() == size_t(round + 1); }));
    const DownReason reason = w.world().Read(w.world().downs).back();
    EXPECT_EQ(reason, DownReason::kAborted) << DownReasonName(reason);
    w.StopMoving();
  }
  std::lock_guard<std::mutex> l(w.world().mu);
  EXPECT_EQ(delivered + w.world().dropped + w.WorkerDropped(), sent);
  std::printf("%d moves around 20 aborts: %llu delivered, %llu dropped and reported\n", w.moves.load(),
              (unsigned long long)delivered, (unsigned long long)(w.world().dropped + w.WorkerDropped()));
}

}  // namespace
}  // namespace sctpdp
