// --engine epoll: the classic server, written the way its users write it.
// One thread; the one-to-many socket in an epoll set with an eventfd for
// stop; on readiness, non-blocking recvmsg until EAGAIN. Echo replies go with
// a non-blocking sendmsg on the same socket; a refused one waits in its
// association's backlog, in order, sent on EPOLLOUT. While an association
// has kPauseAt replies waiting the socket is not read (one socket: reading
// on would have to drop its messages). No peeloff.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <string>
#include <thread>
#include <unordered_map>

#include "dataplane/fd.h"
#include "dataplane/sctp_parse.h"
#include "tools/sctpdp/baseline_reader.h"
#include "tools/sctpdp/engines.h"

namespace sctpdp {
namespace {

struct Reply {
  uint16_t stream;
  uint32_t ppid;
  std::string payload;
};

class EpollEngine : public Engine {
 public:
  EpollEngine(const ServeConfig& c, MessageSink* sink)
      : config_(c), sink_(sink), limit_(c.max_associations, c.max_associations_per_peer, &c_) {}
  ~EpollEngine() override { Stop(); }

  absl::Status Start() override {
    auto l = OpenListener(config_.listener);
    if (!l.ok()) return l.status();
    listener_ = std::move(l->fd);
    port_ = l->port;
    stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
    if (!stop_fd_ || !epoll_) return absl::ErrnoToStatus(errno, "eventfd/epoll_create1");
    for (int fd : {listener_.get(), stop_fd_.get()}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return absl::ErrnoToStatus(errno, "epoll_ctl");
    }
    thread_ = std::thread([this] { Loop(); });
    return absl::OkStatus();
  }
  void Stop() override {
    if (!thread_.joinable()) return;
    uint64_t one = 1;
    (void)!write(stop_fd_.get(), &one, sizeof(one));
    thread_.join();
  }
  uint16_t port() const override { return port_; }
  size_t threads() const override { return 1; }
  EngineStats Snapshot() const override { return c_.Snapshot(); }

 private:
  static constexpr size_t kPauseAt = 1024;  // replies waiting: stop reading

  void Loop() {
    BaselineReader reader(config_.max_message, &c_);
    epoll_event events[2];
    while (true) {
      const int n = epoll_wait(epoll_.get(), events, 2, -1);
      c_.syscalls.fetch_add(1, std::memory_order_relaxed);
      bool stop = false, in = false, out = false;
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == stop_fd_.get()) {
          stop = true;
        } else {
          in = in || (events[i].events & EPOLLIN);
          out = out || (events[i].events & (EPOLLOUT | EPOLLERR));
        }
      }
      if (out) Flush();
      if (in || stop) Drain(reader);  // stopping: serve what is already queued, unless paused
      if (stop) {
        Flush();
        for (auto& [id, q] : backlog_) c_.replies_dropped.fetch_add(q.size(), std::memory_order_relaxed);
        return;
      }
    }
  }

  void Drain(BaselineReader& reader) {
    while (!paused_) {
      BaselineReader::Result r = reader.Read(listener_.get(), MSG_DONTWAIT);
      switch (r.kind) {
        case BaselineReader::Kind::kMessage:
          Serve(r);
          continue;
        case BaselineReader::Kind::kNotification:
          OnNotification(r.payload);
          continue;
        case BaselineReader::Kind::kOversize:
          BaselineAbort(listener_.get(), r.info.rcv_assoc_id, &c_);
          continue;
        case BaselineReader::Kind::kAgain:
          return;
        case BaselineReader::Kind::kEnd:
        case BaselineReader::Kind::kError:
          c_.errors.fetch_add(1, std::memory_order_relaxed);
          return;
      }
    }
  }

  void Serve(const BaselineReader::Result& r) {
    const sctp_rcvinfo& i = r.info;
    if (!limit_.Live(i.rcv_assoc_id)) {  // a rejected association's: it was aborted
      c_.discarded.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    c_.messages_in.fetch_add(1, std::memory_order_relaxed);
    c_.bytes_in.fetch_add(r.payload.size(), std::memory_order_relaxed);
    sink_->Handle(i.rcv_assoc_id, i.rcv_sid, ntohl(i.rcv_ppid), r.payload,
                  [&] { return Send(i.rcv_assoc_id, i.rcv_sid, ntohl(i.rcv_ppid), r.payload); });
  }

  // In order: behind its backlog, or now; a refused send joins the backlog.
  bool Send(sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload) {
    auto it = backlog_.find(id);
    if (it == backlog_.end()) {
      const int err = BaselineSend(listener_.get(), id, stream, ppid, payload, MSG_DONTWAIT, &c_);
      if (err == 0) return true;
      if (err != EAGAIN && err != ENOBUFS) return false;
      it = backlog_.emplace(id, std::deque<Reply>()).first;
    }
    it->second.push_back(Reply{stream, ppid, std::string(payload.data(), payload.size())});
    c_.copies.fetch_add(1, std::memory_order_relaxed);  // copied on the way out
    if (it->second.size() == 1 || it->second.size() == kPauseAt) UpdateInterest();
    return true;
  }

  // Every backlog until the socket refuses; then what to wait for.
  void Flush() {
    for (auto it = backlog_.begin(); it != backlog_.end();) {
      std::deque<Reply>& q = it->second;
      while (!q.empty()) {
        const Reply& m = q.front();
        const int err = BaselineSend(listener_.get(), it->first, m.stream, m.ppid, m.payload, MSG_DONTWAIT, &c_);
        if (err == EAGAIN || err == ENOBUFS) break;
        if (err != 0) c_.replies_dropped.fetch_add(1, std::memory_order_relaxed);
        q.pop_front();
      }
      it = q.empty() ? backlog_.erase(it) : std::next(it);
    }
    UpdateInterest();
  }

  // EPOLLIN unless a backlog is full; EPOLLOUT while any reply waits.
  void UpdateInterest() {
    paused_ = false;
    for (const auto& [id, q] : backlog_) paused_ = paused_ || q.size() >= kPauseAt;
    const uint32_t want = (paused_ ? 0u : uint32_t{EPOLLIN}) | (backlog_.empty() ? 0u : uint32_t{EPOLLOUT});
    if (want == interest_) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = listener_.get();
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, listener_.get(), &ev) != 0) {
      c_.errors.fetch_add(1, std::memory_order_relaxed);
    }
    c_.syscalls.fetch_add(1, std::memory_order_relaxed);
    interest_ = want;
  }

  void OnNotification(absl::Span<const char> bytes) {
    auto ev = DecodeNotification(bytes);
    if (!ev.ok() || ev->type != EventType::kAssocChange) return;
    if (ev->state == SCTP_RESTART) sink_->Restarted(ev->assoc_id);
    if (ev->state == SCTP_COMM_UP && !limit_.Admit(ev->assoc_id, PrimaryPeerAddress(listener_.get(), ev->assoc_id))) {
      BaselineAbort(listener_.get(), ev->assoc_id, &c_);
    } else if (ev->EndsAssociation()) {
      limit_.End(ev->assoc_id);
      sink_->Ended(ev->assoc_id);
      auto it = backlog_.find(ev->assoc_id);
      if (it == backlog_.end()) return;
      c_.replies_dropped.fetch_add(it->second.size(), std::memory_order_relaxed);
      backlog_.erase(it);
      UpdateInterest();
    }
  }

  const ServeConfig config_;
  MessageSink* const sink_;
  Fd listener_, stop_fd_, epoll_;
  uint16_t port_ = 0;
  std::thread thread_;
  mutable BaselineCounters c_;
  AssociationLimit limit_;
  // The loop thread's alone:
  std::unordered_map<sctp_assoc_t, std::deque<Reply>> backlog_;  // replies the socket refused, per association
  bool paused_ = false;             // a backlog is full: the socket is not read
  uint32_t interest_ = EPOLLIN;     // the listener's events in the epoll set
};

}  // namespace

std::unique_ptr<Engine> MakeEpollEngine(const ServeConfig& config, MessageSink* sink) {
  return std::make_unique<EpollEngine>(config, sink);
}

}  // namespace sctpdp
