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
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "dataplane/fd.h"
#include "dataplane/sctp_parse.h"
#include "tools/sctpdp/flags.h"

namespace sctpdp {
namespace {

struct LoadFlags {
  std::vector<Endpoint> connect;
  int64_t associations = 1;
  int64_t streams = 4;
  uint64_t size = 1024;
  uint64_t size_max = 0;    // > size: each message's size is uniform in [size, size_max]
  std::string socket = "stream";  // stream: one-to-one sockets; seqpacket: one-to-many
  double rate = 0;          // messages/s per hot association; 0: as fast as the socket takes them
  int64_t hot = -1;         // associations at --rate; the rest at --cold-rate (-1: all hot)
  double cold_rate = 1;
  int64_t count = 0;        // messages per association (0: until --duration)
  absl::Duration duration = absl::Seconds(10);
  bool nodelay = true;
  int64_t threads = 2;
  bool echo = false;        // the server echoes: measure round trips
  bool progress = isatty(STDERR_FILENO);
};

struct Association {
  Fd fd;
  sctp_assoc_t id = 0;        // on a one-to-many socket: the association to send on
  double rate = 0;
  absl::Time next;
  std::vector<uint32_t> seq;  // per stream
  uint64_t sent = 0, bytes = 0;
};

// What the senders have sent so far, for the progress line (one per thread,
// apart so the threads do not share a cache line).
struct alignas(64) Progress {
  std::atomic<uint64_t> sent{0};
};

// One association to `to`: a one-to-one socket (SOCK_STREAM) or a one-to-many
// socket (SOCK_SEQPACKET) whose connect() sets up its single association;
// `id` says which association to name when sending on it.
absl::StatusOr<Fd> Connect(const Endpoint& to, int streams, bool nodelay, bool one_to_many, sctp_assoc_t* id) {
  const bool v6 = to.address.find(':') != std::string::npos;
  Fd fd(socket(v6 ? AF_INET6 : AF_INET, (one_to_many ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, IPPROTO_SCTP));
  if (!fd) return absl::ErrnoToStatus(errno, "socket(SCTP) (no kernel SCTP?)");
  sctp_initmsg init{};
  init.sinit_num_ostreams = static_cast<uint16_t>(streams);
  init.sinit_max_instreams = static_cast<uint16_t>(streams);
  setsockopt(fd.get(), IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init));
  int on = nodelay ? 1 : 0;
  setsockopt(fd.get(), IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on));
  int sndbuf = 4 << 20;
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(to.port);
    inet_pton(AF_INET6, to.address.c_str(), &a->sin6_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(to.port);
    inet_pton(AF_INET, to.address.c_str(), &a->sin_addr);
    len = sizeof(*a);
  }
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrFormat("connect %s:%d", to.address, to.port));
  }
  *id = 0;
  if (one_to_many) {
    alignas(sctp_assoc_ids) char buf[sizeof(sctp_assoc_ids) + sizeof(sctp_assoc_t)];
    socklen_t blen = sizeof(buf);
    auto* ids = reinterpret_cast<sctp_assoc_ids*>(buf);
    if (getsockopt(fd.get(), IPPROTO_SCTP, SCTP_GET_ASSOC_ID_LIST, ids, &blen) != 0 || ids->gaids_number_of_ids != 1) {
      return absl::InternalError(absl::StrFormat("connect %s:%d: no association on the one-to-many socket",
                                                 to.address, to.port));
    }
    *id = ids->gaids_assoc_id[0];
  }
  return fd;
}

int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Reads the echoes of the associations i, i+step, ... and records each round
// trip (now - the send time in the payload), until `done` and all are in or
// `deadline`.
void EchoLoop(std::vector<Association>& all, size_t first, size_t step, size_t size, const std::atomic<bool>& done,
              const std::atomic<uint64_t>& sent_total, std::atomic<uint64_t>& echoed, std::vector<double>* rtt_us) {
  std::vector<pollfd> fds;
  for (size_t i = first; i < all.size(); i += step) fds.push_back({all[i].fd.get(), POLLIN, 0});
  std::vector<char> buf(size + 64);
  absl::Time deadline = absl::InfiniteFuture();
  while (absl::Now() < deadline) {
    if (done.load() && deadline == absl::InfiniteFuture()) deadline = absl::Now() + absl::Seconds(5);
    if (done.load() && echoed.load() >= sent_total.load()) return;
    if (poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (pollfd& p : fds) {
      if (!(p.revents & POLLIN)) continue;
      while (true) {
        iovec iov{buf.data(), buf.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        const ssize_t n = recvmsg(p.fd, &msg, MSG_DONTWAIT);
        if (n <= 0) break;
        if (msg.msg_flags & MSG_NOTIFICATION) continue;  // one-to-many sockets may get them
        int64_t t = 0;
        if (static_cast<size_t>(n) >= sizeof(t)) {
          std::memcpy(&t, buf.data(), sizeof(t));
          rtt_us->push_back((MonotonicNs() - t) / 1000.0);
        }
        echoed.fetch_add(1);
      }
    }
  }
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

// Sends for the associations i, i+threads, ... until `stop`, pacing each at
// its rate (0: as fast as the socket takes them).
void SendLoop(std::vector<Association>& all, size_t first, size_t step, const LoadFlags& f,
              const std::atomic<bool>& stop, std::atomic<uint64_t>& errors, Progress& progress) {
  const uint64_t max_size = std::max(f.size, f.size_max);
  std::string payload(max_size, 'L');
  std::minstd_rand sizes(static_cast<uint32_t>(first + 1));  // deterministic per thread
  std::uniform_int_distribution<uint64_t> pick(f.size, max_size);
  alignas(cmsghdr) char control[kSendControlBytes];
  while (!stop.load(std::memory_order_relaxed)) {
    bool all_done = true;
    bool saturating = false;  // an association at rate 0 wants to send again at once
    absl::Time soonest = absl::InfiniteFuture();
    const absl::Time now = absl::Now();  // once per pass: a clock read can be a syscall (guest HPET)
    for (size_t i = first; i < all.size(); i += step) {
      Association& a = all[i];
      if (f.count > 0 && a.sent >= static_cast<uint64_t>(f.count)) continue;
      all_done = false;
      saturating |= a.rate == 0;
      if (a.rate > 0 && now < a.next) {
        soonest = std::min(soonest, a.next);
        continue;
      }
      // Everything due now, in a bounded burst: the average rate holds even
      // where sleeps are coarse (a TCG guest oversleeps by milliseconds).
      for (int burst = 0; burst < 256 && (a.rate == 0 ? burst == 0 : a.next <= now); ++burst) {
        if (f.count > 0 && a.sent >= static_cast<uint64_t>(f.count)) break;
        const uint16_t stream = static_cast<uint16_t>(a.sent % f.streams);
        if (f.echo) {  // its send time, read back from the echo
          const int64_t t = MonotonicNs();
          std::memcpy(payload.data(), &t, std::min(payload.size(), sizeof(t)));
        }
        const size_t size = max_size == f.size ? f.size : pick(sizes);
        iovec iov{payload.data(), size};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        FillSendControl(&msg, control, stream, a.seq[stream], 0, 0, a.id);
        if (sendmsg(a.fd.get(), &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(size)) {
          errors.fetch_add(1);
          std::fprintf(stderr, "sctpdp load: sendmsg: %s\n", std::strerror(errno));
          return;
        }
        ++a.seq[stream];
        ++a.sent;
        a.bytes += size;
        progress.sent.fetch_add(1, std::memory_order_relaxed);
        if (a.rate > 0) a.next += absl::Seconds(1) / a.rate;
      }
    }
    if (all_done) return;
    if (!saturating && soonest != absl::InfiniteFuture()) {
      absl::SleepFor(std::min(soonest - absl::Now(), absl::Milliseconds(50)));
    }
  }
}

}  // namespace

int RunLoad(int argc, char** argv) {
  LoadFlags f;
  FlagParser p(
      "usage: sctpdp load --connect=ADDR:PORT [flags]\n"
      "Opens SCTP associations and sends sequence-numbered messages (PPID = per-stream sequence).");
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
  p.Int("threads", &f.threads, 1, 64, "sending threads");
  p.Bool("echo", &f.echo, "the server echoes (serve --mode echo): report round-trip latency percentiles");
  p.Bool("progress", &f.progress, "a live progress line on stderr (default: when stderr is a terminal)");
  if (std::optional<int> exit = p.ParseCommand(argc, argv, 2, "sctpdp load")) return *exit;
  if (f.connect.size() != 1) {
    std::fprintf(stderr, "sctpdp load: --connect=ADDR:PORT is required (one endpoint)\n");
    return kExitUsage;
  }
  if (f.size_max != 0 && f.size_max < f.size) {
    std::fprintf(stderr, "sctpdp load: --size-max=%llu is below --size=%llu\n", (unsigned long long)f.size_max,
                 (unsigned long long)f.size);
    return kExitUsage;
  }
  if (f.echo && f.size < sizeof(int64_t)) {
    std::fprintf(stderr, "sctpdp load: --echo needs --size of at least 8 (the send time rides in the payload)\n");
    return kExitUsage;
  }
  if (f.hot > f.associations) {
    std::fprintf(stderr, "sctpdp load: --hot=%lld is more than --associations=%lld\n", (long long)f.hot,
                 (long long)f.associations);
    return kExitUsage;
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::vector<Association> all(f.associations);
  const int64_t hot = f.hot < 0 ? f.associations : f.hot;
  for (int64_t i = 0; i < f.associations; ++i) {
    auto fd = Connect(f.connect[0], static_cast<int>(f.streams), f.nodelay, f.socket == "seqpacket", &all[i].id);
    if (!fd.ok()) {
      std::fprintf(stderr, "sctpdp load: association %lld: %s\n", (long long)i, fd.status().ToString().c_str());
      return fd.status().code() == absl::StatusCode::kFailedPrecondition ? kExitNoSctp : kExitAddress;
    }
    all[i].fd = *std::move(fd);
    all[i].rate = i < hot ? f.rate : f.cold_rate;
    all[i].next = absl::Now();
    all[i].seq.assign(f.streams, 0);
  }
  std::atomic<bool> stop{false}, senders_done{false};
  std::atomic<uint64_t> errors{0}, echoed{0}, sent_total{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads, readers;
  const size_t n = static_cast<size_t>(std::min<int64_t>(f.threads, f.associations));
  std::vector<std::vector<double>> rtts(n);
  std::vector<Progress> progress(n);
  for (size_t t = 0; t < n; ++t) {
    threads.emplace_back([&, t] { SendLoop(all, t, n, f, stop, errors, progress[t]); });
    if (f.echo) {
      const size_t most = std::max(f.size, f.size_max);
      readers.emplace_back([&, t, most] { EchoLoop(all, t, n, most, senders_done, sent_total, echoed, &rtts[t]); });
    }
  }
  // Until --duration, every association's --count, or SIGINT/SIGTERM; the
  // progress line once a second meanwhile.
  std::thread timer([&] {
    const absl::Time end = start + f.duration;
    while (!stop.load()) {
      const absl::Duration left = end - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      timespec ts = absl::ToTimespec(std::min(left, absl::Seconds(1)));
      if (sigtimedwait(&stop_signals, nullptr, &ts) > 0) break;
      if (!f.progress) continue;
      uint64_t sent = 0;
      for (const Progress& p : progress) sent += p.sent.load(std::memory_order_relaxed);
      const double secs = absl::ToDoubleSeconds(absl::Now() - start);
      std::fprintf(stderr, "\rsctpdp load: %.0f s, %llu sent (%.0f msg/s)%s", secs, (unsigned long long)sent,
                   secs > 0 ? sent / secs : 0.0,
                   f.echo ? absl::StrFormat(", %llu echoed", (unsigned long long)echoed.load()).c_str() : "");
    }
    if (f.progress) std::fprintf(stderr, "\n");
    stop.store(true);
  });
  for (auto& t : threads) t.join();
  const absl::Duration elapsed = absl::Now() - start;
  uint64_t total_sent = 0, total_bytes = 0;
  for (const Association& a : all) {
    total_sent += a.sent;
    total_bytes += a.bytes;
  }
  sent_total.store(total_sent);
  senders_done.store(true);
  for (auto& t : readers) t.join();
  stop.store(true);
  pthread_kill(timer.native_handle(), SIGTERM);  // blocked there: ends its sigtimedwait
  timer.join();
  const uint64_t messages = total_sent;
  const double secs = absl::ToDoubleSeconds(elapsed);
  std::string rtt;
  if (f.echo) {
    std::vector<double> all_rtt;
    for (auto& v : rtts) all_rtt.insert(all_rtt.end(), v.begin(), v.end());
    rtt = absl::StrFormat(",\"echoed\":%d,\"rtt_us\":{\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"max\":%.0f}",
                          echoed.load(), Percentile(all_rtt, 0.5), Percentile(all_rtt, 0.9), Percentile(all_rtt, 0.99),
                          Percentile(all_rtt, 1.0));
  }
  std::printf(
      "{\"type\":\"load_summary\",\"associations\":%lld,\"hot\":%lld,\"streams\":%lld,\"socket\":\"%s\","
      "\"size\":%llu,\"size_max\":%llu,\"messages\":%llu,\"bytes\":%llu,\"seconds\":%.3f,"
      "\"messages_per_s\":%.1f,\"gbit_per_s\":%.6f,\"errors\":%llu%s}\n",
      (long long)f.associations, (long long)hot, (long long)f.streams, f.socket.c_str(), (unsigned long long)f.size,
      (unsigned long long)std::max(f.size, f.size_max), (unsigned long long)messages, (unsigned long long)total_bytes,
      secs, messages / secs, total_bytes * 8 / secs / 1e9, (unsigned long long)errors.load(), rtt.c_str());
  const bool echo_complete = !f.echo || echoed.load() == messages;
  if (!echo_complete) {
    std::fprintf(stderr, "sctpdp load: %llu of %llu echoes came back\n", (unsigned long long)echoed.load(),
                 (unsigned long long)messages);
  }
  return errors.load() == 0 && echo_complete ? kExitOk : kExitFailure;
}

}  // namespace sctpdp
