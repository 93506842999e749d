// `sctpdp load`: a load generator of SCTP associations. Each message carries
// its per-(association, stream) sequence number in the PPID (or, with
// --ppid, in its first 4 bytes), so `serve --mode verify` can check gaps,
// duplicates and reorders. Its messages leave through the data plane
// (--engine=uring, load_plane.cc) or a socket per association
// (--engine=sockets: SocketLink below); the sending threads (Sender) keep
// the schedule either way.
#include "tools/sctpdp/load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "control/connection.h"
#include "dataplane/fd.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/sctp_socket.h"
#include "tools/sctpdp/cpu.h"
#include "tools/sctpdp/flags.h"
#include "dataplane/histogram.h"
#include "tools/sctpdp/json_line.h"
#include "tools/sctpdp/load_common.h"
#include "tools/sctpdp/load_plane.h"
#include "tools/sctpdp/second_signal.h"

namespace sctpdp {
namespace {

// SO_SNDBUF for messages of up to `max_size`. The kernel refuses (EMSGSIZE) a
// message larger than the socket's send buffer; 4 MiB keeps --bundle's bursts
// of smaller ones flowing.
int SendBufferFor(uint64_t max_size) { return static_cast<int>(std::max<uint64_t>(4 << 20, 2 * max_size)); }

// OK when `fd`'s send buffer takes a message of `max_size` bytes; otherwise
// what limits it, in one line (kInvalidArgument: the flags ask too much here).
absl::Status CheckSendBuffer(int fd, uint64_t max_size) {
  absl::StatusOr<int> got = GetSocketBuffer(fd, SO_SNDBUF, "SO_SNDBUF");
  if (!got.ok()) return got.status();
  if (static_cast<uint64_t>(*got) >= max_size) return absl::OkStatus();
  std::string wmem_max = "?";
  if (FILE* in = std::fopen("/proc/sys/net/core/wmem_max", "r")) {
    char line[32] = {};
    if (std::fgets(line, sizeof(line), in)) wmem_max = std::string(absl::StripAsciiWhitespace(line));
    std::fclose(in);
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "%d-byte messages need a send buffer of at least that; SO_SNDBUF got %d B, capped by net.core.wmem_max=%s "
      "(twice that is the most without CAP_NET_ADMIN): raise it (sysctl -w net.core.wmem_max=%d) or send smaller "
      "messages",
      max_size, *got, wmem_max, SendBufferFor(max_size)));
}

// The outbound streams the server granted association `id` (0 on a
// one-to-one socket): at most what INIT asked for, as SCTP_STATUS reports it
// once the association is up. A send on a stream past it fails (EINVAL).
absl::StatusOr<uint16_t> OutboundStreams(int fd, sctp_assoc_t id) {
  sctp_status status{};
  status.sstat_assoc_id = id;
  socklen_t len = sizeof(status);
  if (getsockopt(fd, IPPROTO_SCTP, SCTP_STATUS, &status, &len) != 0) {
    return absl::ErrnoToStatus(errno, "getsockopt(SCTP_STATUS)");
  }
  return status.sstat_outstrms;
}

// One association to the server: a one-to-one socket (SOCK_STREAM) or a
// one-to-many socket (SOCK_SEQPACKET) whose connect() sets up its single
// association; `a->id` says which association to name when sending on it.
// Errors: kFailedPrecondition, no SCTP; kInvalidArgument, a message size the
// send buffer cannot take; others, the connect failed.
absl::Status Connect(const LoadFlags& f, Association* a) {
  ConnectOptions options;
  options.remote = f.connect.addresses;
  options.port = f.connect.port;
  options.local = f.local;
  absl::StatusOr<ConnectPlan> plan = PlanConnect(options);  // the same addresses as DataPlane::Connect's
  if (!plan.ok()) return absl::InvalidArgumentError(plan.status().message());
  const bool one_to_many = f.socket == "seqpacket";
  const uint64_t max_size = std::max(f.size, f.size_max);
  // A receive window big enough that the load generator is not what echoes
  // wait on, and that a server bundles its replies (the uring worker does only
  // to peers advertising >= 1 MiB: WorkerOptions::kMinBundlePeerWindow). Set
  // before connect: INIT carries it.
  absl::StatusOr<Fd> fd = OpenSctpSocket({.family = plan->family,
                                          .type = one_to_many ? SOCK_SEQPACKET : SOCK_STREAM,
                                          .streams = static_cast<uint16_t>(f.streams),
                                          .nodelay = f.nodelay,
                                          .events = false,
                                          .rcvbuf = 4 << 20,
                                          .sndbuf = SendBufferFor(max_size)});
  if (!fd.ok()) return absl::FailedPreconditionError(fd.status().ToString());
  if (absl::Status s = CheckSendBuffer(fd->get(), max_size); !s.ok()) return s;
  const std::string where = absl::StrCat("connect ", plan->Describe());
  if (absl::Status s = BindLocal(fd->get(), *plan); !s.ok()) return absl::Status(s.code(), where + ": " + s.ToString());
  sctp_assoc_t id = 0;
  if (ConnectX(fd->get(), *plan, &id) != 0) return absl::ErrnoToStatus(errno, where);
  a->id = one_to_many ? id : 0;  // a one-to-one socket names none
  absl::StatusOr<uint16_t> streams = OutboundStreams(fd->get(), a->id);
  if (!streams.ok()) return streams.status();
  a->streams = std::max<uint16_t>(1, *streams);
  a->fd = *std::move(fd);
  return absl::OkStatus();
}

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// A sending thread's way out on plain sockets: a blocking sendmsg per
// message (MSG_MORE within a burst) and, with --echo, ppoll + recvmsg on
// its associations' sockets.
class SocketLink final : public Link {
 public:
  SocketLink(std::vector<Association>& all, const std::vector<size_t>& mine, const LoadFlags& f, Progress& progress)
      : all_(all), mine_(mine), layout_(f), progress_(progress), payload_(std::max(f.size, f.size_max), 'L'),
        buf_(payload_.size() + 64) {
    for (size_t i : mine_) fds_.push_back({all[i].fd.get(), POLLIN, 0});
  }

  Sent Send(Association& a, uint16_t stream, uint32_t ppid, size_t size, absl::Span<const char> head,
            bool more) override {
    std::memcpy(payload_.data(), head.data(), std::min(head.size(), size));
    iovec iov{payload_.data(), size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    FillSendControl(&msg, control_, stream, ppid, 0, 0, a.id);
    if (sendmsg(a.fd.get(), &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0)) == static_cast<ssize_t>(size)) {
      return Sent::kOk;
    }
    std::fprintf(stderr, "sctpdp load: sendmsg: %s\n", std::strerror(errno));
    return Sent::kFailed;
  }

  void Wait(int64_t wait_ns) override {
    const timespec wait = {static_cast<time_t>(wait_ns / 1000000000), static_cast<long>(wait_ns % 1000000000)};
    if (ppoll(fds_.data(), fds_.size(), &wait, nullptr) <= 0) return;
    for (size_t k = 0; k < fds_.size(); ++k) {
      if (fds_[k].revents & POLLIN) ReadEchoes(all_[mine_[k]]);
    }
  }

 private:
  void ReadEchoes(Association& a) {
    while (true) {
      iovec iov{buf_.data(), buf_.size()};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      const ssize_t n = recvmsg(a.fd.get(), &msg, MSG_DONTWAIT);
      if (n <= 0) return;
      if (msg.msg_flags & MSG_NOTIFICATION) continue;  // one-to-many sockets may get them
      RecordEcho(layout_, a, absl::MakeConstSpan(buf_.data(), static_cast<size_t>(n)), progress_);
    }
  }

  std::vector<Association>& all_;
  const std::vector<size_t> mine_;
  const PayloadLayout layout_;
  Progress& progress_;
  std::string payload_;
  std::vector<char> buf_;
  alignas(cmsghdr) char control_[kSendControlBytes];
  std::vector<pollfd> fds_;
};

// One sending thread: the associations first, first+step, ... Each pass sends
// what is due (paced: every message whose time has come, in a bounded burst;
// at rate 0 a burst of --bundle, all but the last with MSG_MORE so the kernel
// bundles their DATA chunks into one packet) and, with --echo, waits for the
// echoes that are in (the Link records each round trip). With --window an
// association has at most that many messages awaiting their echo (closed
// loop). After `stop`, the echoes still out get --drain to come back.
class Sender {
 public:
  Sender(std::vector<Association>& all, std::vector<size_t> mine, std::unique_ptr<Link> link, const LoadFlags& f,
         std::atomic<uint64_t>& errors, Progress& progress)
      : all_(all),
        f_(f),
        layout_(f),
        errors_(errors),
        progress_(progress),
        mine_(std::move(mine)),
        link_(std::move(link)) {}

  void Run(const std::atomic<bool>& stop) {
    int64_t drain_deadline = kNever;
    while (true) {
      const bool stopping = stop.load(std::memory_order_relaxed);
      Pass pass;
      if (stopping) {
        pass.now = MonotonicNs();
        if (drain_deadline == kNever) drain_deadline = pass.now + absl::ToInt64Nanoseconds(f_.drain);
      } else if (!SendDue(&pass)) {
        return;  // a send failed
      }
      if (!f_.echo) {
        if (stopping || pass.all_done) return;
        if (!pass.sent_any && (pass.blocked || pass.soonest == kNever)) {
          // For room, or nothing of its own to send (driven associations):
          // woken by the data plane, or back at `stop` within 100 ms.
          link_->Wait(absl::ToInt64Nanoseconds(absl::Milliseconds(100)));
        } else if (!pass.saturating && pass.soonest != kNever) {
          absl::SleepFor(std::min(absl::Nanoseconds(pass.soonest - MonotonicNs()), absl::Milliseconds(50)));
        }
        continue;
      }
      if ((stopping || pass.all_done) && progress_.echoed.load() == progress_.sent.load()) return;
      const int64_t now = pass.sent_any ? MonotonicNs() : pass.now;  // sends take time
      if (now > drain_deadline) return;
      // Wait for echoes unless there is more to send now.
      int64_t wait = std::min<int64_t>(absl::ToInt64Nanoseconds(absl::Milliseconds(100)), drain_deadline - now);
      if (!stopping && pass.sent_any && pass.saturating) wait = 0;
      if (!stopping && pass.soonest != kNever) wait = std::clamp<int64_t>(pass.soonest - now, 0, wait);
      link_->Wait(wait);
    }
  }

  const Histogram& pacing_lag() const { return lag_; }

 private:
  struct Pass {
    int64_t now = 0;  // MonotonicNs() at its start
    bool all_done = true;
    bool sent_any = false;
    bool saturating = false;  // an association at rate 0 can send again at once
    bool blocked = false;     // an association waits for room
    int64_t soonest = kNever;  // when the next paced message is due
  };

  // Sends what is due on each association; false when a send failed.
  bool SendDue(Pass* pass) {
    const int64_t now = pass->now = MonotonicNs();  // once per pass: a clock read can be a syscall (guest HPET)
    for (size_t i : mine_) {
      Association& a = all_[i];
      if (f_.count > 0 && a.sent >= static_cast<uint64_t>(f_.count)) continue;
      pass->all_done = false;
      if (a.driven) continue;  // sent from its owner's callbacks (LoadPlane::Pump)
      if (a.blocked.load(std::memory_order_relaxed)) {
        pass->blocked = true;
        continue;
      }
      const uint64_t out = a.sent - a.echoed.load(std::memory_order_relaxed);
      const uint64_t credit = f_.window > 0 ? static_cast<uint64_t>(f_.window) - out : ~uint64_t{0};
      if (credit == 0) continue;  // its window is full: waits for echoes
      // At rate 0, a burst of --bundle; paced, everything due now in a bounded
      // burst (the schedule holds where sleeps are coarse: a TCG guest
      // oversleeps by milliseconds).
      uint64_t limit = std::min<uint64_t>(credit, a.paced() ? 256 : f_.bundle);
      if (f_.count > 0) limit = std::min(limit, static_cast<uint64_t>(f_.count) - a.sent);
      pass->saturating |= !a.paced();
      for (uint64_t n = 0; n < limit && (!a.paced() || a.Due() <= now); ++n) {
        const Link::Sent r = SendOne(a, /*more=*/!a.paced() && n + 1 < limit);
        if (r == Link::Sent::kFailed) return false;
        if (r == Link::Sent::kBlocked) {
          pass->blocked = true;
          break;
        }
        pass->sent_any = true;
      }
      // Its next message, unless it waits for echoes (window) or is done.
      const bool credit_left = f_.window == 0 || a.sent - a.echoed.load() < static_cast<uint64_t>(f_.window);
      const bool count_left = f_.count == 0 || a.sent < static_cast<uint64_t>(f_.count);
      if (a.paced() && credit_left && count_left) pass->soonest = std::min(pass->soonest, a.Due());
    }
    return true;
  }

  Link::Sent SendOne(Association& a, bool more) {
    const uint16_t stream = static_cast<uint16_t>(a.sent % a.streams);
    const size_t size = NextSize(f_, a);
    int64_t sent_at = 0, due = 0;
    if (f_.echo || a.paced()) {
      sent_at = MonotonicNs();
      due = a.paced() ? a.Due() : sent_at;
      if (a.paced()) lag_.Record(static_cast<uint64_t>(std::max<int64_t>(0, sent_at - due)));
    }
    char head[PayloadLayout::kHeadBytes];
    uint32_t ppid = 0;
    const size_t head_bytes = MessageHead(f_, layout_, a, stream, sent_at, due, head, &ppid);
    const Link::Sent r = link_->Send(a, stream, ppid, size, absl::MakeConstSpan(head, head_bytes), more);
    if (r == Link::Sent::kFailed) errors_.fetch_add(1);
    if (r == Link::Sent::kOk) CountSent(a, stream, size, progress_);
    return r;
  }

  std::vector<Association>& all_;
  const LoadFlags& f_;
  const PayloadLayout layout_;
  std::atomic<uint64_t>& errors_;
  Progress& progress_;
  const std::vector<size_t> mine_;
  std::unique_ptr<Link> link_;
  Histogram lag_;  // ns, paced messages: how late each went out against its schedule
};

void DefineFlags(FlagParser& p, LoadFlags& f, int64_t* ppid) {
  p.Choice("engine", &f.engine, {"uring", "sockets"},
           "sockets: a socket per association, a blocking sendmsg per message (the cheaper today); uring: the "
           "associations live on the data plane (DataPlane::Connect; hot ones on io_uring workers, messages "
           "built in place, handed to their worker across threads)");
  p.Int("workers", &f.workers, 1, 254,
        "--engine=uring: the data plane's io_uring workers (not pinned), beside the sending threads");
  p.Double("peel-rate", &f.peel_rate, 0.001, 1e9,
           "--engine=uring: messages/s (sent or echoed) that make an association hot: it moves to a worker");
  p.Duration("sustain", &f.sustain, "--engine=uring: how long above --peel-rate before it moves");
  p.Int("ppid", ppid, 0, 0xffffffff,
        "every message's PPID; the sequence number then rides in the payload's first 4 bytes (network order: "
        "serve --mode=verify --ppid=N reads it there). Default: the PPID is the sequence number");
  p.MultiEndpoint("connect", &f.connect,
                  "the server's ADDR[,ADDR...]:PORT (sctp_connectx to every address, primary first; IPv6 in "
                  "brackets: [::1]:2905)");
  p.Addresses("local", &f.local,
              "ADDR[,ADDR...]: bind each association to these local addresses first (sctp_bindx; IPv4 and IPv6 "
              "mixed as needed; default: the kernel's choice)");
  p.Int("associations", &f.associations, 1, 100000, "associations to open");
  p.Int("streams", &f.streams, 1, 65535, "streams per association (messages go round-robin)");
  p.Size("size", &f.size, 1, 1 << 20, "message size (with --size-max: the smallest)");
  p.Size("size-max", &f.size_max, 0, 1 << 20,
         "sizes uniformly distributed from --size to this (0: every message is --size)");
  p.Choice("socket", &f.socket, {"stream", "seqpacket"},
           "client sockets: stream (one-to-one) or seqpacket (one-to-many, sending by association id)");
  p.Double("rate", &f.rate, 0, 1e9, "messages/s per hot association (0: as fast as possible)");
  p.Int("hot", &f.hot, -1, 100000, "associations at --rate; the rest at --cold-rate (-1: all)");
  p.Double("cold-rate", &f.cold_rate, 0.001, 1e9, "messages/s per cold association");
  p.Int("count", &f.count, 0, int64_t{1} << 40, "messages per association (0: until --duration)");
  p.Duration("duration", &f.duration, "how long to send");
  p.Bool("nodelay", &f.nodelay, "SCTP_NODELAY (small messages crawl without it)");
  p.Int("bundle", &f.bundle, 1, 256,
        "at --rate=0, messages per burst, all but the last sent with MSG_MORE so the kernel bundles them into "
        "one packet (as a busy peer's stack does); 1: every message its own packet");
  p.Int("window", &f.window, 0, 1 << 20,
        "with --echo: at most this many messages awaiting their echo per association, a closed loop "
        "(0: no limit)");
  p.Int("threads", &f.threads, 1, 64, "sending threads");
  p.Bool("echo", &f.echo,
         "the server echoes (serve --mode echo): report round-trip latency percentiles (paced: also from when "
         "each message was due)");
  p.Duration("drain", &f.drain, "with --echo: how long the echoes still out get to come back after sending stops");
  p.Bool("progress", &f.progress, "a live progress line on stderr (default: when stderr is a terminal)");
}

// False (after a one-line error) when the flags contradict each other.
bool Validate(const LoadFlags& f, bool socket_given) {
  const PayloadLayout layout(f);
  std::string error;
  if (f.connect.addresses.empty()) {
    error = "--connect=ADDR[,ADDR...]:PORT is required";
  } else if (f.size_max != 0 && f.size_max < f.size) {
    error = absl::StrFormat("--size-max=%d is below --size=%d", f.size_max, f.size);
  } else if (f.ppid && f.size < PayloadLayout::kSeqBytes) {
    error = "--ppid needs --size of at least 4 (the sequence number rides in the payload)";
  } else if (f.echo && f.size < layout.due()) {
    error = absl::StrFormat("--echo needs --size of at least %d (the send time rides in the payload%s)", layout.due(),
                            f.ppid ? ", after the sequence number" : "");
  } else if (f.echo && f.rate > 0 && f.size < layout.stamped()) {
    error = absl::StrFormat(
        "--echo with --rate needs --size of at least %d (the send time and the time it was due ride in the "
        "payload%s)",
        layout.stamped(), f.ppid ? ", after the sequence number" : "");
  } else if (f.window > 0 && !f.echo) {
    error = "--window needs --echo (it counts messages awaiting their echo)";
  } else if (socket_given && f.engine != "sockets") {
    error = "--socket needs --engine=sockets (the data plane keeps its own sockets)";
  } else if (f.hot > f.associations) {
    error = absl::StrFormat("--hot=%d is more than --associations=%d", f.hot, f.associations);
  }
  if (!error.empty()) std::fprintf(stderr, "sctpdp load: %s\n", error.c_str());
  return error.empty();
}

// Opens every association on sockets of its own; an exit code when one
// cannot be.
std::optional<int> OpenSockets(const LoadFlags& f, std::vector<Association>& all) {
  for (size_t i = 0; i < all.size(); ++i) {
    if (absl::Status s = Connect(f, &all[i]); !s.ok()) {
      std::fprintf(stderr, "sctpdp load: association %zu: %s\n", i, s.ToString().c_str());
      if (s.code() == absl::StatusCode::kInvalidArgument) return kExitUsage;
      return s.code() == absl::StatusCode::kFailedPrecondition ? kExitNoSctp : kExitAddress;
    }
  }
  return std::nullopt;
}

// Once every association is up: its rate, its streams' numbering and its
// sending thread (of `threads`); says once when the server granted fewer
// streams than asked.
void Prepare(const LoadFlags& f, std::vector<Association>& all, size_t threads) {
  const int64_t hot = f.hot < 0 ? f.associations : f.hot;
  bool warned = false;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].streams < f.streams && !warned) {  // once: a server grants every association the same
      std::fprintf(stderr, "sctpdp load: --streams=%lld: the server granted %u outbound streams; sending on %u\n",
                   (long long)f.streams, all[i].streams, all[i].streams);
      warned = true;
    }
    all[i].rate = static_cast<int64_t>(i) < hot ? f.rate : f.cold_rate;
    all[i].seq.assign(all[i].streams, 0);
    all[i].sender = i % threads;
    all[i].sizes.seed(static_cast<uint32_t>(i + 1));  // deterministic per association
    all[i].driven = f.engine == "uring" && all[i].rate == 0 && f.count == 0;
  }
}

// Each paced association's schedule from `start_ns`: its phases spread
// evenly over one period (at most a second) across the associations of its
// rate, so that they do not all send at the same instant.
void StartSchedules(const LoadFlags& f, std::vector<Association>& all, int64_t start_ns) {
  const int64_t total = static_cast<int64_t>(all.size()), hot = f.hot < 0 ? total : f.hot;
  for (int64_t i = 0; i < total; ++i) {
    Association& a = all[i];
    if (a.rate <= 0) continue;
    a.period_ns = 1e9 / a.rate;
    const double phase = i < hot ? static_cast<double>(i) / hot : static_cast<double>(i - hot) / (total - hot);
    a.start_ns = start_ns + static_cast<int64_t>(phase * std::min(a.period_ns, 1e9));
  }
}

// Until --duration, every association's --count (the main thread sends
// SIGUSR1), or SIGINT/SIGTERM, with the progress line once a second
// meanwhile; then sets `stop`. After a signal, `stopping` makes a second one
// exit at once. Returns when sending stopped, since `start`.
absl::Duration Timer(const LoadFlags& f, absl::Time start, const std::vector<Progress>& progress,
                     std::atomic<bool>& stop, std::optional<SecondSignal>& stopping) {
  sigset_t wake;  // blocked in every thread (BlockStopSignals)
  sigemptyset(&wake);
  sigaddset(&wake, SIGINT);
  sigaddset(&wake, SIGTERM);
  sigaddset(&wake, SIGUSR1);
  const absl::Time end = start + f.duration;
  int sig = 0;
  while (!stop.load()) {
    const absl::Duration left = end - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    timespec ts = absl::ToTimespec(std::min(left, absl::Seconds(1)));
    if ((sig = sigtimedwait(&wake, nullptr, &ts)) > 0) break;
    if (!f.progress) continue;
    uint64_t sent = 0, echoed = 0;
    for (const Progress& p : progress) {
      sent += p.sent.load(std::memory_order_relaxed);
      echoed += p.echoed.load(std::memory_order_relaxed);
    }
    const double secs = absl::ToDoubleSeconds(absl::Now() - start);
    std::fprintf(stderr, "\rsctpdp load: %.0f s, %llu sent (%.0f msg/s)%s", secs, (unsigned long long)sent,
                 secs > 0 ? sent / secs : 0.0,
                 f.echo ? absl::StrFormat(", %llu echoed", (unsigned long long)echoed).c_str() : "");
  }
  if (f.progress) std::fprintf(stderr, "\n");
  const absl::Duration stopped = absl::Now() - start;
  stop.store(true);
  if (sig == SIGINT || sig == SIGTERM) stopping.emplace("sctpdp load");
  return stopped;
}

// A histogram of nanoseconds as the summary's percentiles, in microseconds.
Json PercentilesUs(const Histogram& ns) {
  auto us = [](uint64_t v) { return Rounded(static_cast<double>(v) / 1e3, 1); };
  return {{"p50", us(ns.Percentile(0.5))},   {"p90", us(ns.Percentile(0.9))}, {"p99", us(ns.Percentile(0.99))},
          {"p999", us(ns.Percentile(0.999))}, {"max", us(ns.max())},           {"count", ns.count()}};
}

// The messages of paced association `a` that its schedule had due by
// `stop_ns` (at most --count).
uint64_t DueBy(const Association& a, int64_t stop_ns, int64_t count) {
  if (!a.paced() || stop_ns < a.start_ns) return 0;
  const auto due = static_cast<uint64_t>(static_cast<double>(stop_ns - a.start_ns) / a.period_ns) + 1;
  return count > 0 ? std::min(due, static_cast<uint64_t>(count)) : due;
}

// The open loop's part of the summary: the rate offered, what was due by
// the stop and not yet sent, how late messages left, the round trips from
// when they were due. Nothing when no association is paced.
void AddSchedule(const LoadFlags& f, const std::vector<Association>& all, const Histogram& lag, int64_t stop_ns,
                 Json* j) {
  double offered = 0;
  uint64_t due = 0, behind = 0;
  Histogram from_schedule;
  for (const Association& a : all) {
    if (!a.paced()) continue;
    offered += a.rate;
    const uint64_t d = DueBy(a, stop_ns, f.count);
    due += d;
    behind += d > a.sent ? d - a.sent : 0;
    from_schedule.Merge(a.rtt_from_schedule);
  }
  if (lag.count() == 0 && due == 0) return;
  (*j)["offered_per_s"] = Rounded(offered, 1);
  (*j)["due"] = due;
  (*j)["behind_at_stop"] = behind;
  (*j)["pacing_lag_us"] = PercentilesUs(lag);
  if (f.echo) (*j)["rtt_from_schedule_us"] = PercentilesUs(from_schedule);
}

// Each association's counts and round trips, in the order opened.
Json PerAssociation(const std::vector<Association>& all) {
  Json out = Json::array();
  for (size_t i = 0; i < all.size(); ++i) {
    const Association& a = all[i];
    Json one = {{"association", i},        {"rate", Rounded(a.rate, 3)}, {"messages", a.sent},
                {"echoed", a.echoed.load()}, {"rtt_us", PercentilesUs(a.rtt)}};
    if (a.paced()) one["rtt_from_schedule_us"] = PercentilesUs(a.rtt_from_schedule);
    out.push_back(std::move(one));
  }
  return out;
}

// The summary line; the exit code. `stop_ns`: when sending stopped, on the
// schedules' clock.
// `plane`: the uring engine's data plane, what it did.
int Report(const LoadFlags& f, const std::vector<Association>& all, const Histogram& lag, absl::Duration elapsed,
           int64_t stop_ns, double cpu_s, uint64_t errors, const Json& plane) {
  uint64_t sent = 0, bytes = 0, echoed = 0;
  uint16_t granted = static_cast<uint16_t>(f.streams);
  Histogram rtt;
  for (const Association& a : all) {
    granted = std::min(granted, a.streams);
    sent += a.sent;
    bytes += a.bytes;
    echoed += a.echoed.load();
    rtt.Merge(a.rtt);
  }
  const double secs = absl::ToDoubleSeconds(elapsed);
  Json j = {{"type", "load_summary"},
            {"associations", f.associations},
            {"hot", f.hot < 0 ? f.associations : f.hot},
            {"streams", f.streams},
            {"streams_granted", granted},
            {"socket", f.socket},
            {"size", f.size},
            {"size_max", std::max(f.size, f.size_max)},
            {"messages", sent},
            {"bytes", bytes},
            {"seconds", Rounded(secs, 3)},
            {"messages_per_s", Rounded(secs > 0 ? sent / secs : 0, 1)},
            {"gbit_per_s", Rounded(secs > 0 ? bytes * 8 / secs / 1e9 : 0, 6)},
            {"cpu_s", Rounded(cpu_s, 3)},
            {"errors", errors},
            {"engine", f.engine}};
  if (!plane.is_null()) j["plane"] = plane;
  if (f.echo) {
    j["echoed"] = echoed;
    j["rtt_us"] = PercentilesUs(rtt);
  }
  AddSchedule(f, all, lag, stop_ns, &j);
  if (f.echo) j["per_association"] = PerAssociation(all);
  PrintJsonLine(j);
  const bool echo_complete = !f.echo || echoed == sent;
  if (!echo_complete) {
    std::fprintf(stderr, "sctpdp load: %llu of %llu echoes came back\n", (unsigned long long)echoed,
                 (unsigned long long)sent);
  }
  return errors == 0 && echo_complete ? kExitOk : kExitFailure;
}

// What the uring engine's data plane did (null for the sockets engine):
// associations moved to a worker, messages it handed to the kernel (on
// the control thread and on the workers), sends handed across threads,
// payload copies, sends accepted then dropped, and sendmsg EAGAINs (a
// full socket: the chain waits for POLLOUT).
Json PlaneJson(const LoadPlane* plane) {
  if (plane == nullptr) return nullptr;
  const DataPlaneStats s = plane->Snapshot();
  return {{"peeled", s.peeled},
          {"messages_out_control", s.control.totals.messages_out},
          {"messages_out_workers", s.workers.totals.messages_out},
          {"cross_thread_sends", s.cross_thread_sends},
          {"send_copies", s.send_copies},
          {"dropped_sends", s.dropped_sends},
          {"send_eagain", s.control.totals.send_eagain + s.workers.totals.send_eagain}};
}

// The sending threads, each with its link (sockets: its own; uring: the
// data plane's, `plane`).
std::vector<std::unique_ptr<Sender>> MakeSenders(const LoadFlags& f, std::vector<Association>& all,
                                                 std::vector<Progress>& progress, LoadPlane* plane,
                                                 std::atomic<uint64_t>& errors) {
  std::vector<std::unique_ptr<Sender>> senders;
  for (size_t t = 0; t < progress.size(); ++t) {
    std::vector<size_t> mine;
    for (size_t i = t; i < all.size(); i += progress.size()) mine.push_back(i);
    auto link = plane != nullptr ? plane->LinkFor(t) : std::make_unique<SocketLink>(all, mine, f, progress[t]);
    senders.push_back(std::make_unique<Sender>(all, std::move(mine), std::move(link), f, errors, progress[t]));
  }
  return senders;
}

// Sends until --duration, --count or a signal; the summary line; the exit code.
int Run(const LoadFlags& f, std::vector<Association>& all, std::vector<Progress>& progress, LoadPlane* plane) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> errors{0};
  const absl::Time start = absl::Now();
  const int64_t start_ns = MonotonicNs();
  StartSchedules(f, all, start_ns);
  const Cpu cpu0 = Cpu::Now();
  std::vector<std::unique_ptr<Sender>> senders = MakeSenders(f, all, progress, plane, errors);
  if (plane != nullptr) plane->Start(stop);
  std::vector<std::thread> threads;
  for (auto& sender : senders) threads.emplace_back([&stop, s = sender.get()] { s->Run(stop); });
  std::atomic<int64_t> stopped_ns{0};  // since start: when sending stopped (--duration or a signal)
  std::optional<SecondSignal> stopping;  // after a first signal; destroyed after the summary
  std::thread timer([&] { stopped_ns = absl::ToInt64Nanoseconds(Timer(f, start, progress, stop, stopping)); });
  for (auto& t : threads) t.join();
  // Until sending stopped; when every --count went out first, until the last
  // echo came back.
  absl::Duration elapsed = absl::Now() - start;
  stop.store(true);
  pthread_kill(timer.native_handle(), SIGUSR1);  // ends its sigtimedwait
  timer.join();
  elapsed = std::min(elapsed, absl::Nanoseconds(stopped_ns.load()));
  if (plane != nullptr) {
    plane->Finish(f.drain);  // what is still queued leaves first
    plane->Stop();
  }
  Histogram lag;
  for (const auto& sender : senders) lag.Merge(sender->pacing_lag());
  const uint64_t plane_errors = plane != nullptr ? plane->errors() : 0;
  const int exit = Report(f, all, lag, elapsed, start_ns + absl::ToInt64Nanoseconds(elapsed),
                          (Cpu::Now() - cpu0).total(), errors.load() + plane_errors, PlaneJson(plane));
  // The summary leaves while `stopping` still takes a second signal: left in
  // stdio's buffer, exit()'s flush would block on a full pipe with no one
  // waiting for that signal.
  std::fflush(stdout);
  return exit;
}

}  // namespace

int RunLoad(int argc, char** argv) {
  LoadFlags f;
  f.progress = isatty(STDERR_FILENO);
  int64_t ppid = -1;
  FlagParser p(
      "usage: sctpdp load --connect=ADDR:PORT [flags]\n"
      "Opens SCTP associations and sends sequence-numbered messages (PPID = per-stream sequence, or --ppid).");
  DefineFlags(p, f, &ppid);
  if (std::optional<int> exit = p.ParseCommand(argc, argv, 2, "sctpdp load")) return *exit;
  if (p.given("ppid")) f.ppid = static_cast<uint32_t>(ppid);
  if (!Validate(f, p.given("socket"))) return kExitUsage;
  BlockStopSignals();
  std::vector<Association> all(f.associations);
  std::vector<Progress> progress(static_cast<size_t>(std::min<int64_t>(f.threads, f.associations)));
  std::unique_ptr<LoadPlane> plane;
  if (f.engine == "uring") {
    int exit = kExitOk;
    if ((plane = LoadPlane::Open(f, all, progress, &exit)) == nullptr) return exit;
  } else if (std::optional<int> exit = OpenSockets(f, all)) {
    return *exit;
  }
  Prepare(f, all, progress.size());
  return Run(f, all, progress, plane.get());
}

}  // namespace sctpdp
