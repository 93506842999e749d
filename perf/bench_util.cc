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

void SetInit(int fd) {
  sctp_initmsg init{};
  init.sinit_num_ostreams = 4;
  init.sinit_max_instreams = 4;
  Check(setsockopt(fd, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init)), "SCTP_INITMSG");
}

}  // namespace

Association Association::Open() {
  Association a;
  a.listener.reset(socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP));
  Check(a.listener.get(), "socket(SOCK_SEQPACKET, IPPROTO_SCTP): is there kernel SCTP here?");
  SetInit(a.listener.get());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Check(bind(a.listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), "bind");
  socklen_t len = sizeof(addr);
  Check(getsockname(a.listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), "getsockname");
  int on = 1;
  Check(setsockopt(a.listener.get(), IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on)), "SCTP_RECVRCVINFO");
  sctp_event ev{};
  ev.se_type = SCTP_ASSOC_CHANGE;
  ev.se_on = 1;
  Check(setsockopt(a.listener.get(), IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev)), "SCTP_EVENT");
  // A window well above the 64 KiB loopback PMTU: SCTP sends a window update
  // only per PMTU of reads, and a window of a few messages makes the
  // measurement about delayed-SACK timers, not the receiver. Inherited by the
  // peeled socket; the kernel doubles it, capped by net.core.rmem_max.
  int rcvbuf = 4 << 20;
  Check(setsockopt(a.listener.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), "SO_RCVBUF");
  Check(listen(a.listener.get(), 16), "listen");
  a.client.reset(socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
  Check(a.client.get(), "socket(SOCK_STREAM, IPPROTO_SCTP)");
  SetInit(a.client.get());
  Check(setsockopt(a.client.get(), IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on)), "SCTP_NODELAY");
  int sndbuf = 1 << 20;
  Check(setsockopt(a.client.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), "SO_SNDBUF");
  Check(connect(a.client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), "connect");
  // COMM_UP on the listener names the association.
  for (int i = 0; i < 16 && a.id == 0; ++i) {
    alignas(sctp_notification) char buf[512];
    iovec iov{buf, sizeof(buf)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = recvmsg(a.listener.get(), &msg, 0);
    Check(static_cast<int>(n), "recvmsg(listener)");
    const auto* sn = reinterpret_cast<const sctp_notification*>(buf);
    if ((msg.msg_flags & MSG_NOTIFICATION) && sn->sn_header.sn_type == SCTP_ASSOC_CHANGE &&
        sn->sn_assoc_change.sac_state == SCTP_COMM_UP) {
      a.id = sn->sn_assoc_change.sac_assoc_id;
    }
  }
  if (a.id == 0) Die("no COMM_UP on the listener");
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
