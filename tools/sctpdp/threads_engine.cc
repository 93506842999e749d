// --engine threads: peel every association off at COMM_UP and give it a
// thread with a blocking recvmsg loop; echo replies with a blocking sendmsg
// on its own socket. Messages that arrive before the peel are served by the
// accepting thread (same handling), and that thread peels only between
// reads, so no message is served twice or out of order.
#include <malloc.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "dataplane/fd.h"
#include "dataplane/sctp_parse.h"
#include "tools/sctpdp/baseline_reader.h"
#include "tools/sctpdp/engines.h"

namespace sctpdp {
namespace {

// Blocking reads and sends wake this often to see a stop.
void SetTimeouts(int fd) {
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

class ThreadsEngine : public Engine {
 public:
  ThreadsEngine(const ServeConfig& c, MessageSink* sink)
      : config_(c), sink_(sink), limit_(c.max_associations, c.max_associations_per_peer, &c_) {}
  ~ThreadsEngine() override { Stop(); }

  absl::Status Start() override {
    // Each association's thread has a BaselineReader of --max-message (1 MiB):
    // with glibc's dynamic mmap threshold, freeing the first raised the
    // threshold and the rest came from per-thread arenas that kept them
    // (churn: RSS +57% from 5,000 to 10,000 associations). A fixed threshold
    // keeps them mmapped, given back at each thread's end.
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    auto l = OpenListener(config_.listener);
    if (!l.ok()) return l.status();
    listener_ = std::move(l->fd);
    port_ = l->port;
    SetTimeouts(listener_.get());
    accept_ = std::thread([this] { AcceptLoop(); });
    return absl::OkStatus();
  }
  void Stop() override {
    if (!accept_.joinable()) return;
    stop_.store(true);
    accept_.join();
    Threads all;
    {
      std::lock_guard<std::mutex> l(mu_);
      all.splice(all.end(), threads_);  // iterators stay valid: a thread ending now still finds itself
    }
    for (std::thread& t : all) t.join();  // unlocked: an ending thread takes mu_
    std::lock_guard<std::mutex> l(mu_);
    finished_.clear();
  }
  uint16_t port() const override { return port_; }
  size_t threads() const override {
    std::lock_guard<std::mutex> l(mu_);
    return threads_.size() + 1;
  }
  EngineStats Snapshot() const override { return c_.Snapshot(); }

 private:
  using Threads = std::list<std::thread>;

  void Serve(int fd, sctp_assoc_t send_to, const BaselineReader::Result& r) {
    c_.messages_in.fetch_add(1, std::memory_order_relaxed);
    c_.bytes_in.fetch_add(r.payload.size(), std::memory_order_relaxed);
    const sctp_rcvinfo& i = r.info;
    const sctp_assoc_t id = i.rcv_assoc_id;
    sink_->Handle(id, i.rcv_sid, ntohl(i.rcv_ppid), r.payload,
                  [&] { return Reply(fd, send_to == 0 ? 0 : id, i, r.payload); });
  }

  // A blocking send, as a thread-per-association server writes it; its
  // timeout only lets it see a stop, so a peer that stops reading holds its
  // own thread but never Stop. Stopping, it does not wait: the echo is
  // counted dropped.
  bool Reply(int fd, sctp_assoc_t to, const sctp_rcvinfo& i, absl::Span<const char> payload) {
    int err;
    do {
      err = BaselineSend(fd, to, i.rcv_sid, ntohl(i.rcv_ppid), payload, stop_.load() ? MSG_DONTWAIT : 0, &c_);
    } while ((err == EAGAIN || err == EWOULDBLOCK) && !stop_.load());
    if (err == EAGAIN || err == EWOULDBLOCK) c_.replies_dropped.fetch_add(1, std::memory_order_relaxed);
    return err == 0;
  }

  void AcceptLoop() {
    BaselineReader reader(config_.max_message, &c_);
    while (!stop_.load()) {
      Reap();
      BaselineReader::Result r = reader.Read(listener_.get(), 0);
      const sctp_assoc_t id = r.info.rcv_assoc_id;
      if (r.kind == BaselineReader::Kind::kMessage) {
        if (limit_.Live(id)) {
          Serve(listener_.get(), id, r);  // before its peel: through the listener
        } else {
          c_.discarded.fetch_add(1, std::memory_order_relaxed);  // a rejected association's
        }
      } else if (r.kind == BaselineReader::Kind::kOversize) {
        BaselineAbort(listener_.get(), id, &c_);
      } else if (r.kind == BaselineReader::Kind::kNotification) {
        auto ev = DecodeNotification(r.payload);
        if (!ev.ok() || ev->type != EventType::kAssocChange) continue;
        if (ev->state == SCTP_RESTART) sink_->Restarted(ev->assoc_id);
        if (ev->state == SCTP_COMM_UP) {
          if (limit_.Admit(ev->assoc_id, PrimaryPeerAddress(listener_.get(), ev->assoc_id))) {
            Peel(ev->assoc_id);
          } else {
            BaselineAbort(listener_.get(), ev->assoc_id, &c_);
          }
        } else if (ev->EndsAssociation()) {
          limit_.End(ev->assoc_id);  // ended before its peel
          sink_->Ended(ev->assoc_id);
        }
      }
    }
  }

  void Peel(sctp_assoc_t id) {
    int fd = sctp_peeloff_flags(listener_.get(), id, SOCK_CLOEXEC);  // blocking, like its thread
    c_.syscalls.fetch_add(1, std::memory_order_relaxed);
    if (fd < 0) {  // its messages and its end come on the listener
      c_.errors.fetch_add(1);
      return;
    }
    SetTimeouts(fd);
    int on = 1;  // stream and PPID on every message, whatever the peel inherited
    setsockopt(fd, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on));
    c_.peeled.fetch_add(1);
    std::lock_guard<std::mutex> l(mu_);
    threads_.emplace_back();
    const Threads::iterator self = std::prev(threads_.end());
    *self = std::thread([this, fd, id, self] {
      AssociationLoop(Fd(fd), id);
      std::lock_guard<std::mutex> l(mu_);
      finished_.push_back(self);  // the acceptor joins it
    });
  }

  // Joins the threads of associations that ended: churn does not pile up
  // threads and their buffers.
  void Reap() {
    std::lock_guard<std::mutex> l(mu_);
    for (Threads::iterator t : finished_) {
      t->join();
      threads_.erase(t);
    }
    finished_.clear();
  }

  void AssociationLoop(Fd fd, sctp_assoc_t id) {
    BaselineReader reader(config_.max_message, &c_);
    bool draining = false;  // stopping: serve what is already queued, then end
    while (true) {
      if (!draining && stop_.load()) draining = true;
      BaselineReader::Result r = reader.Read(fd.get(), draining ? MSG_DONTWAIT : 0);
      switch (r.kind) {
        case BaselineReader::Kind::kMessage:
          Serve(fd.get(), 0, r);
          continue;
        case BaselineReader::Kind::kNotification: {
          auto ev = DecodeNotification(r.payload);
          if (ev.ok() && ev->type == EventType::kAssocChange && ev->state == SCTP_RESTART) sink_->Restarted(id);
          if (ev.ok() && ev->EndsAssociation()) break;
          continue;
        }
        case BaselineReader::Kind::kAgain:
          if (draining) break;
          continue;  // the receive timeout: look at stop_
        case BaselineReader::Kind::kOversize:
          BaselineAbort(fd.get(), 0, &c_);
          break;
        case BaselineReader::Kind::kEnd:
        case BaselineReader::Kind::kError:
          break;
      }
      limit_.End(id);
      sink_->Ended(id);
      return;
    }
  }

  const ServeConfig config_;
  MessageSink* const sink_;
  Fd listener_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_;
  mutable std::mutex mu_;
  Threads threads_;                           // guarded by mu_
  std::vector<Threads::iterator> finished_;   // guarded by mu_: threads_ whose association ended
  mutable BaselineCounters c_;
  AssociationLimit limit_;
};

}  // namespace

std::unique_ptr<Engine> MakeThreadsEngine(const ServeConfig& config, MessageSink* sink) {
  return std::make_unique<ThreadsEngine>(config, sink);
}

}  // namespace sctpdp
