#include "perf/bench_util.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane/sctp_parse.h"
#include "dataplane/sctp_socket.h"

namespace sctpdp::perf {

void Die(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  std::fprintf(stderr, "bench: ");
  std::vfprintf(stderr, format, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::exit(1);
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

namespace {

void Check(int ret, const char* what) {
  if (ret < 0) Die("%s: %s", what, std::strerror(errno));
}

Fd Open(const SctpSocketOptions& o) {
  absl::StatusOr<Fd> fd = OpenSctpSocket(o);
  if (!fd.ok()) Die("%s", fd.status().ToString().c_str());
  return *std::move(fd);
}

// COMM_UP on the listener names the association.
sctp_assoc_t AwaitCommUp(int listener) {
  alignas(sctp_notification) char buf[512];
  for (int i = 0; i < 16; ++i) {
    const RecvResult r = RecvWithInfo(listener, absl::MakeSpan(buf), 0);
    Check(static_cast<int>(r.bytes), "recvmsg(listener)");
    const auto* sn = reinterpret_cast<const sctp_notification*>(buf);
    if ((r.msg_flags & MSG_NOTIFICATION) && sn->sn_header.sn_type == SCTP_ASSOC_CHANGE &&
        sn->sn_assoc_change.sac_state == SCTP_COMM_UP) {
      return sn->sn_assoc_change.sac_assoc_id;
    }
  }
  Die("no COMM_UP on the listener");
}

}  // namespace

Association Association::Open() {
  Association a;
  // A window well above the 64 KiB loopback PMTU: SCTP sends a window update
  // only per PMTU of reads, and a window of a few messages makes the
  // measurement about delayed-SACK timers, not the receiver. Inherited by the
  // peeled socket.
  a.listener = perf::Open({.type = SOCK_SEQPACKET, .streams = 4, .rcvbuf = 4 << 20});
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Check(bind(a.listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), "bind");
  socklen_t len = sizeof(addr);
  Check(getsockname(a.listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), "getsockname");
  Check(listen(a.listener.get(), 16), "listen");
  a.client = perf::Open({.type = SOCK_STREAM, .streams = 4, .events = false, .sndbuf = 1 << 20});
  Check(connect(a.client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), "connect");
  a.id = AwaitCommUp(a.listener.get());
  a.peeled.reset(sctp_peeloff_flags(a.listener.get(), a.id, SOCK_NONBLOCK | SOCK_CLOEXEC));
  Check(a.peeled.get(), "sctp_peeloff_flags");
  return a;
}

Sender::Sender(int fd, size_t size, uint64_t count) {
  thread_ = std::thread([fd, size, count] {
    std::vector<char> payload(size, 'x');
    alignas(cmsghdr) char control[kSendControlBytes];
    for (uint64_t seq = 0; seq < count; ++seq) {
      std::memcpy(payload.data(), &seq, std::min(size, sizeof(seq)));
      iovec iov{payload.data(), size};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      FillSendControl(&msg, control, seq % 4, static_cast<uint32_t>(seq), 0, 0, 0);
      if (sendmsg(fd, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(size)) Die("sender: %s", std::strerror(errno));
    }
  });
}

void Sender::Join() {
  if (thread_.joinable()) thread_.join();
}

Flags::Flags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    size_t eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) Die("bad argument '%s' (want --name=value)", argv[i]);
    values_[a.substr(2, eq - 2)] = a.substr(eq + 1);
  }
}

int64_t Flags::Get(const std::string& name, int64_t fallback) {
  used_[name] = true;
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (end == it->second.c_str() || *end != '\0' || v <= 0) {
    Die("--%s=%s: want a positive integer", name.c_str(), it->second.c_str());
  }
  return v;
}

void Flags::CheckAllUsed() {
  for (const auto& [name, value] : values_) {
    if (!used_.count(name)) Die("unknown flag --%s", name.c_str());
  }
}

}  // namespace sctpdp::perf
