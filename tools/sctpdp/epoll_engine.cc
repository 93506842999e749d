// --engine epoll: the classic server, written the way its users write it.
// One thread; the one-to-many socket in an epoll set with an eventfd for
// stop; on readiness, non-blocking recvmsg until EAGAIN; echo replies with a
// blocking sendmsg on the same socket. No peeloff.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>

#include "dataplane/fd.h"
#include "dataplane/sctp_parse.h"
#include "tools/sctpdp/baseline_reader.h"
#include "tools/sctpdp/engines.h"

namespace sctpdp {
namespace {

// Association count from ASSOC_CHANGE notifications.
void CountAssociations(absl::Span<const char> bytes, BaselineCounters& c) {
  auto ev = DecodeNotification(bytes);
  if (!ev.ok() || ev->type != EventType::kAssocChange) return;
  if (ev->state == SCTP_COMM_UP) c.associations.fetch_add(1, std::memory_order_relaxed);
  if (ev->EndsAssociation()) c.associations.fetch_sub(1, std::memory_order_relaxed);
}

class EpollEngine : public Engine {
 public:
  EpollEngine(const ServeConfig& c, MessageSink* sink) : config_(c), sink_(sink) {}
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
  void Loop() {
    BaselineReader reader(config_.max_message, &c_);
    epoll_event events[2];
    while (true) {
      const int n = epoll_wait(epoll_.get(), events, 2, -1);
      c_.syscalls.fetch_add(1, std::memory_order_relaxed);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == stop_fd_.get()) {
          Drain(reader);  // stopping: serve what is already queued
          return;
        }
      }
      if (n > 0) Drain(reader);
    }
  }
  void Drain(BaselineReader& reader) {
    while (true) {
      BaselineReader::Result r = reader.Read(listener_.get(), MSG_DONTWAIT);
      switch (r.kind) {
        case BaselineReader::Kind::kMessage: {
          c_.messages_in.fetch_add(1, std::memory_order_relaxed);
          c_.bytes_in.fetch_add(r.payload.size(), std::memory_order_relaxed);
          const sctp_rcvinfo& i = r.info;
          sink_->Handle(i.rcv_assoc_id, i.rcv_sid, ntohl(i.rcv_ppid), r.payload, [&] {
            return BaselineSend(listener_.get(), i.rcv_assoc_id, i.rcv_sid, ntohl(i.rcv_ppid), r.payload, &c_);
          });
          continue;
        }
        case BaselineReader::Kind::kNotification:
          CountAssociations(r.payload, c_);
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

  const ServeConfig config_;
  MessageSink* const sink_;
  Fd listener_, stop_fd_, epoll_;
  uint16_t port_ = 0;
  std::thread thread_;
  mutable BaselineCounters c_;
};

}  // namespace

std::unique_ptr<Engine> MakeEpollEngine(const ServeConfig& config, MessageSink* sink) {
  return std::make_unique<EpollEngine>(config, sink);
}

}  // namespace sctpdp
