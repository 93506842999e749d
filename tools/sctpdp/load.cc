// `sctpdp load`: a load generator of SCTP associations. Each message carries
// its per-(association, stream) sequence number in the PPID, so `serve
// --mode verify` can check gaps, duplicates and reorders.
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
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "dataplane/fd.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/sctp_socket.h"
#include "tools/sctpdp/cpu.h"
#include "tools/sctpdp/flags.h"
#include "tools/sctpdp/second_signal.h"

namespace sctpdp {
namespace {

struct LoadFlags {
  std::vector<Endpoint> connect;
  int64_t associations = 1;
  int64_t streams = 4;
  uint64_t size = 1024;
  uint64_t size_max = 0;          // > size: each message's size is uniform in [size, size_max]
  std::string socket = "stream";  // stream: one-to-one sockets; seqpacket: one-to-many
  double rate = 0;                // messages/s per hot association; 0: as fast as the socket takes them
  int64_t hot = -1;               // associations at --rate; the rest at --cold-rate (-1: all hot)
  double cold_rate = 1;
  int64_t count = 0;  // messages per association (0: until --duration)
  absl::Duration duration = absl::Seconds(10);
  bool nodelay = true;
  int64_t bundle = 1;  // messages per burst at rate 0; all but the last with MSG_MORE
  int64_t window = 0;  // with --echo: most messages awaiting their echo per association (0: no limit)
  int64_t threads = 2;
  bool echo = false;  // the server echoes: measure round trips
  bool progress = isatty(STDERR_FILENO);
};

struct Association {
  Fd fd;
  sctp_assoc_t id = 0;  // on a one-to-many socket: the association to send on
  uint16_t streams = 1;  // outbound streams the server granted (<= --streams)
  double rate = 0;
  absl::Time next;
  std::vector<uint32_t> seq;  // per stream
  uint64_t sent = 0, bytes = 0;
  uint64_t echoed = 0;
};

// What the senders have sent so far, for the progress line (one per thread,
// apart so the threads do not share a cache line).
struct alignas(64) Progress {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> echoed{0};
};

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

// The association a one-to-many socket's connect() set up.
absl::StatusOr<sctp_assoc_t> OnlyAssociation(int fd) {
  alignas(sctp_assoc_ids) char buf[sizeof(sctp_assoc_ids) + sizeof(sctp_assoc_t)];
  socklen_t blen = sizeof(buf);
  auto* ids = reinterpret_cast<sctp_assoc_ids*>(buf);
  if (getsockopt(fd, IPPROTO_SCTP, SCTP_GET_ASSOC_ID_LIST, ids, &blen) != 0 || ids->gaids_number_of_ids != 1) {
    return absl::InternalError("no association on the one-to-many socket");
  }
  return ids->gaids_assoc_id[0];
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
  const Endpoint& to = f.connect[0];
  absl::StatusOr<SocketAddress> addr = MakeAddress(to.address, to.port);
  if (!addr.ok()) return addr.status();
  const bool one_to_many = f.socket == "seqpacket";
  const uint64_t max_size = std::max(f.size, f.size_max);
  // A receive window big enough that the load generator is not what echoes
  // wait on, and that a server bundles its replies (the uring worker does only
  // to peers advertising >= 1 MiB: WorkerOptions::kMinBundlePeerWindow). Set
  // before connect: INIT carries it.
  absl::StatusOr<Fd> fd = OpenSctpSocket({.family = addr->family(),
                                          .type = one_to_many ? SOCK_SEQPACKET : SOCK_STREAM,
                                          .streams = static_cast<uint16_t>(f.streams),
                                          .nodelay = f.nodelay,
                                          .events = false,
                                          .rcvbuf = 4 << 20,
                                          .sndbuf = SendBufferFor(max_size)});
  if (!fd.ok()) return absl::FailedPreconditionError(fd.status().ToString());
  if (absl::Status s = CheckSendBuffer(fd->get(), max_size); !s.ok()) return s;
  const std::string where = absl::StrFormat("connect %s:%d", to.address, to.port);
  if (connect(fd->get(), addr->get(), addr->length) != 0) return absl::ErrnoToStatus(errno, where);
  a->id = 0;
  if (one_to_many) {
    absl::StatusOr<sctp_assoc_t> id = OnlyAssociation(fd->get());
    if (!id.ok()) return absl::InternalError(absl::StrCat(where, ": ", id.status().message()));
    a->id = *id;
  }
  absl::StatusOr<uint16_t> streams = OutboundStreams(fd->get(), a->id);
  if (!streams.ok()) return streams.status();
  a->streams = std::max<uint16_t>(1, *streams);
  a->fd = *std::move(fd);
  return absl::OkStatus();
}

int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

// One sending thread: the associations first, first+step, ... Each pass sends
// what is due (paced at the association's rate; at rate 0 a burst of
// --bundle, all but the last with MSG_MORE so the kernel bundles their DATA
// chunks into one packet) and, with --echo, reads the echoes that are in,
// recording each round trip. With --window an association has at most that
// many messages awaiting their echo (closed loop). After `stop`, the echoes
// still out get 5 s to come back.
class Sender {
 public:
  Sender(std::vector<Association>& all, size_t first, size_t step, const LoadFlags& f, std::atomic<uint64_t>& errors,
         Progress& progress)
      : all_(all),
        f_(f),
        errors_(errors),
        progress_(progress),
        max_size_(std::max(f.size, f.size_max)),
        payload_(max_size_, 'L'),
        sizes_(static_cast<uint32_t>(first + 1)),
        pick_(f.size, max_size_),
        buf_(max_size_ + 64) {
    for (size_t i = first; i < all.size(); i += step) {
      mine_.push_back(i);
      fds_.push_back({all[i].fd.get(), POLLIN, 0});
    }
  }

  void Run(const std::atomic<bool>& stop) {
    absl::Time drain_deadline = absl::InfiniteFuture();
    while (true) {
      const bool stopping = stop.load(std::memory_order_relaxed);
      if (stopping && drain_deadline == absl::InfiniteFuture()) drain_deadline = absl::Now() + absl::Seconds(5);
      Pass pass;
      if (!stopping && !SendDue(&pass)) return;  // a send failed
      if (!f_.echo) {
        if (stopping || pass.all_done) return;
        if (!pass.saturating && pass.soonest != absl::InfiniteFuture()) {
          absl::SleepFor(std::min(pass.soonest - absl::Now(), absl::Milliseconds(50)));
        }
        continue;
      }
      if ((stopping || pass.all_done) && echoed_ == sent_) return;
      if (absl::Now() > drain_deadline) return;
      // Wait for echoes unless there is more to send now.
      absl::Duration wait = absl::Milliseconds(100);
      if (!stopping && pass.sent_any && pass.saturating) wait = absl::ZeroDuration();
      if (!stopping && pass.soonest != absl::InfiniteFuture()) {
        wait = std::clamp(pass.soonest - absl::Now(), absl::ZeroDuration(), wait);
      }
      ReadEchoes(wait);
    }
  }

  std::vector<double>& rtt_us() { return rtt_us_; }

 private:
  struct Pass {
    bool all_done = true;
    bool sent_any = false;
    bool saturating = false;  // an association at rate 0 can send again at once
    absl::Time soonest = absl::InfiniteFuture();
  };

  // Sends what is due on each association; false when a send failed.
  bool SendDue(Pass* pass) {
    const absl::Time now = absl::Now();  // once per pass: a clock read can be a syscall (guest HPET)
    for (size_t i : mine_) {
      Association& a = all_[i];
      if (f_.count > 0 && a.sent >= static_cast<uint64_t>(f_.count)) continue;
      pass->all_done = false;
      const uint64_t credit = f_.window > 0 ? static_cast<uint64_t>(f_.window) - (a.sent - a.echoed) : ~uint64_t{0};
      if (credit == 0) continue;  // its window is full: waits for echoes
      if (a.rate > 0 && now < a.next) {
        pass->soonest = std::min(pass->soonest, a.next);
        continue;
      }
      // At rate 0, a burst of --bundle; paced, everything due now in a bounded
      // burst (the average rate holds where sleeps are coarse: a TCG guest
      // oversleeps by milliseconds).
      uint64_t limit = std::min<uint64_t>(credit, a.rate == 0 ? f_.bundle : 256);
      if (f_.count > 0) limit = std::min(limit, static_cast<uint64_t>(f_.count) - a.sent);
      pass->saturating |= a.rate == 0;
      for (uint64_t n = 0; n < limit && (a.rate == 0 || a.next <= now); ++n) {
        if (!SendOne(a, /*more=*/a.rate == 0 && n + 1 < limit)) return false;
        pass->sent_any = true;
      }
    }
    return true;
  }

  bool SendOne(Association& a, bool more) {
    const uint16_t stream = static_cast<uint16_t>(a.sent % a.streams);
    if (f_.echo) {  // its send time, read back from the echo
      const int64_t t = MonotonicNs();
      std::memcpy(payload_.data(), &t, std::min(payload_.size(), sizeof(t)));
    }
    const size_t size = max_size_ == f_.size ? f_.size : pick_(sizes_);
    iovec iov{payload_.data(), size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    FillSendControl(&msg, control_, stream, a.seq[stream], 0, 0, a.id);
    if (sendmsg(a.fd.get(), &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0)) != static_cast<ssize_t>(size)) {
      errors_.fetch_add(1);
      std::fprintf(stderr, "sctpdp load: sendmsg: %s\n", std::strerror(errno));
      return false;
    }
    ++a.seq[stream];
    ++a.sent;
    ++sent_;
    a.bytes += size;
    progress_.sent.fetch_add(1, std::memory_order_relaxed);
    if (a.rate > 0) a.next += absl::Seconds(1) / a.rate;
    return true;
  }

  void ReadEchoes(absl::Duration wait) {
    if (poll(fds_.data(), fds_.size(), static_cast<int>(absl::ToInt64Milliseconds(wait))) <= 0) return;
    for (size_t k = 0; k < fds_.size(); ++k) {
      if (!(fds_[k].revents & POLLIN)) continue;
      Association& a = all_[mine_[k]];
      while (true) {
        iovec iov{buf_.data(), buf_.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        const ssize_t n = recvmsg(a.fd.get(), &msg, MSG_DONTWAIT);
        if (n <= 0) break;
        if (msg.msg_flags & MSG_NOTIFICATION) continue;  // one-to-many sockets may get them
        int64_t t = 0;
        if (static_cast<size_t>(n) >= sizeof(t)) {
          std::memcpy(&t, buf_.data(), sizeof(t));
          rtt_us_.push_back((MonotonicNs() - t) / 1000.0);
        }
        ++a.echoed;
        ++echoed_;
        progress_.echoed.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  std::vector<Association>& all_;
  const LoadFlags& f_;
  std::atomic<uint64_t>& errors_;
  Progress& progress_;
  const uint64_t max_size_;
  std::string payload_;
  std::minstd_rand sizes_;  // deterministic per thread
  std::uniform_int_distribution<uint64_t> pick_;
  std::vector<char> buf_;
  alignas(cmsghdr) char control_[kSendControlBytes];
  std::vector<size_t> mine_;
  std::vector<pollfd> fds_;
  uint64_t sent_ = 0, echoed_ = 0;
  std::vector<double> rtt_us_;
};

void DefineFlags(FlagParser& p, LoadFlags& f) {
  p.Endpoints("connect", &f.connect, "the server's ADDR:PORT");
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
  p.Bool("echo", &f.echo, "the server echoes (serve --mode echo): report round-trip latency percentiles");
  p.Bool("progress", &f.progress, "a live progress line on stderr (default: when stderr is a terminal)");
}

// False (after a one-line error) when the flags contradict each other.
bool Validate(const LoadFlags& f) {
  std::string error;
  if (f.connect.size() != 1) {
    error = "--connect=ADDR:PORT is required (one endpoint)";
  } else if (f.size_max != 0 && f.size_max < f.size) {
    error = absl::StrFormat("--size-max=%d is below --size=%d", f.size_max, f.size);
  } else if (f.echo && f.size < sizeof(int64_t)) {
    error = "--echo needs --size of at least 8 (the send time rides in the payload)";
  } else if (f.window > 0 && !f.echo) {
    error = "--window needs --echo (it counts messages awaiting their echo)";
  } else if (f.hot > f.associations) {
    error = absl::StrFormat("--hot=%d is more than --associations=%d", f.hot, f.associations);
  }
  if (!error.empty()) std::fprintf(stderr, "sctpdp load: %s\n", error.c_str());
  return error.empty();
}

// Opens every association; an exit code when one cannot be.
std::optional<int> OpenAll(const LoadFlags& f, std::vector<Association>& all) {
  const int64_t hot = f.hot < 0 ? f.associations : f.hot;
  bool warned = false;
  for (int64_t i = 0; i < f.associations; ++i) {
    if (absl::Status s = Connect(f, &all[i]); !s.ok()) {
      std::fprintf(stderr, "sctpdp load: association %lld: %s\n", (long long)i, s.ToString().c_str());
      if (s.code() == absl::StatusCode::kInvalidArgument) return kExitUsage;
      return s.code() == absl::StatusCode::kFailedPrecondition ? kExitNoSctp : kExitAddress;
    }
    if (all[i].streams < f.streams && !warned) {  // once: a server grants every association the same
      std::fprintf(stderr, "sctpdp load: --streams=%lld: the server granted %u outbound streams; sending on %u\n",
                   (long long)f.streams, all[i].streams, all[i].streams);
      warned = true;
    }
    all[i].rate = i < hot ? f.rate : f.cold_rate;
    all[i].next = absl::Now();
    all[i].seq.assign(all[i].streams, 0);
  }
  return std::nullopt;
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

// The summary line; the exit code.
int Report(const LoadFlags& f, const std::vector<Association>& all, std::vector<std::unique_ptr<Sender>>& senders,
           absl::Duration elapsed, double cpu_s, uint64_t errors) {
  uint64_t sent = 0, bytes = 0, echoed = 0;
  uint16_t granted = static_cast<uint16_t>(f.streams);
  for (const Association& a : all) {
    granted = std::min(granted, a.streams);
    sent += a.sent;
    bytes += a.bytes;
    echoed += a.echoed;
  }
  const double secs = absl::ToDoubleSeconds(elapsed);
  std::string rtt;
  if (f.echo) {
    std::vector<double> all_rtt;
    for (auto& sender : senders) all_rtt.insert(all_rtt.end(), sender->rtt_us().begin(), sender->rtt_us().end());
    rtt = absl::StrFormat(",\"echoed\":%d,\"rtt_us\":{\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"max\":%.0f}", echoed,
                          Percentile(all_rtt, 0.5), Percentile(all_rtt, 0.9), Percentile(all_rtt, 0.99),
                          Percentile(all_rtt, 1.0));
  }
  std::printf(
      "{\"type\":\"load_summary\",\"associations\":%lld,\"hot\":%lld,\"streams\":%lld,\"streams_granted\":%u,\"socket\":\"%s\","
      "\"size\":%llu,\"size_max\":%llu,\"messages\":%llu,\"bytes\":%llu,\"seconds\":%.3f,"
      "\"messages_per_s\":%.1f,\"gbit_per_s\":%.6f,\"cpu_s\":%.3f,\"errors\":%llu%s}\n",
      (long long)f.associations, (long long)(f.hot < 0 ? f.associations : f.hot), (long long)f.streams, granted,
      f.socket.c_str(), (unsigned long long)f.size, (unsigned long long)std::max(f.size, f.size_max),
      (unsigned long long)sent, (unsigned long long)bytes, secs, sent / secs, bytes * 8 / secs / 1e9, cpu_s,
      (unsigned long long)errors, rtt.c_str());
  const bool echo_complete = !f.echo || echoed == sent;
  if (!echo_complete) {
    std::fprintf(stderr, "sctpdp load: %llu of %llu echoes came back\n", (unsigned long long)echoed,
                 (unsigned long long)sent);
  }
  return errors == 0 && echo_complete ? kExitOk : kExitFailure;
}

}  // namespace

int RunLoad(int argc, char** argv) {
  LoadFlags f;
  FlagParser p(
      "usage: sctpdp load --connect=ADDR:PORT [flags]\n"
      "Opens SCTP associations and sends sequence-numbered messages (PPID = per-stream sequence).");
  DefineFlags(p, f);
  if (std::optional<int> exit = p.ParseCommand(argc, argv, 2, "sctpdp load")) return *exit;
  if (!Validate(f)) return kExitUsage;
  BlockStopSignals();
  std::vector<Association> all(f.associations);
  if (std::optional<int> exit = OpenAll(f, all)) return *exit;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> errors{0};
  const absl::Time start = absl::Now();
  const Cpu cpu0 = Cpu::Now();
  const size_t n = static_cast<size_t>(std::min<int64_t>(f.threads, f.associations));
  std::vector<Progress> progress(n);
  std::vector<std::unique_ptr<Sender>> senders;
  std::vector<std::thread> threads;
  for (size_t t = 0; t < n; ++t) senders.push_back(std::make_unique<Sender>(all, t, n, f, errors, progress[t]));
  for (size_t t = 0; t < n; ++t) threads.emplace_back([&stop, s = senders[t].get()] { s->Run(stop); });
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
  const int exit = Report(f, all, senders, elapsed, (Cpu::Now() - cpu0).total(), errors.load());
  // The summary leaves while `stopping` still takes a second signal: left in
  // stdio's buffer, exit()'s flush would block on a full pipe with no one
  // waiting for that signal.
  std::fflush(stdout);
  return exit;
}

}  // namespace sctpdp
