// Writes the seed corpus of the fuzz targets from the kernel's own structs
// (so a seed is what the kernel really sends): `bazel run //fuzz:make_seeds
// -- $PWD/fuzz/corpus`. The seeds are committed; rerun after a struct or
// format change. Files are named by content, so reruns do not duplicate.
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

namespace {

std::string root;

void Write(const std::string& target, const std::string& bytes) {
  const std::string dir = root + "/" + target;
  mkdir(dir.c_str(), 0755);
  char name[32];
  std::snprintf(name, sizeof(name), "seed-%016zx", std::hash<std::string>()(bytes));
  FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::fprintf(stderr, "make_seeds: cannot write %s/%s\n", dir.c_str(), name);
    std::exit(1);
  }
}

template <typename T>
std::string Bytes(const T& v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof(v));
}

// A recvmsg completion as recvmsg_fuzz reads it: name choice, control
// choice (1: the worker's kRecvControlBytes), then the buffer.
void RecvmsgSeed(bool named, const std::string& payload, uint32_t flags, bool rcvinfo) {
  const unsigned control_len = CMSG_SPACE(sizeof(sctp_rcvinfo)) + 16;
  std::string control(control_len, '\0');
  if (rcvinfo) {
    cmsghdr c{};
    c.cmsg_len = CMSG_LEN(sizeof(sctp_rcvinfo));
    c.cmsg_level = IPPROTO_SCTP;
    c.cmsg_type = SCTP_RCVINFO;
    sctp_rcvinfo info{};
    info.rcv_sid = 3;
    info.rcv_ssn = 7;
    info.rcv_ppid = htonl(42);
    info.rcv_assoc_id = 5;
    std::memcpy(&control[0], &c, sizeof(c));
    std::memcpy(&control[CMSG_LEN(0)], &info, sizeof(info));
  }
  io_uring_recvmsg_out out{};
  out.namelen = named ? sizeof(sockaddr_in6) : 0;
  out.controllen = rcvinfo ? CMSG_SPACE(sizeof(sctp_rcvinfo)) : 0;
  out.payloadlen = payload.size();
  out.flags = flags;
  std::string s;
  s += static_cast<char>(named ? 1 : 0);
  s += static_cast<char>(1);
  s += Bytes(out);
  if (named) s += std::string(sizeof(sockaddr_in6), '\0');
  s += control;
  s += payload;
  Write("recvmsg_fuzz", s);
}

void NotificationSeeds() {
  sctp_assoc_change ac{};
  ac.sac_type = SCTP_ASSOC_CHANGE;
  ac.sac_length = sizeof(ac);
  ac.sac_state = SCTP_COMM_UP;
  ac.sac_outbound_streams = ac.sac_inbound_streams = 16;
  ac.sac_assoc_id = 9;
  Write("notification_fuzz", Bytes(ac));
  ac.sac_state = SCTP_COMM_LOST;
  Write("notification_fuzz", Bytes(ac));
  sctp_paddr_change pc{};
  pc.spc_type = SCTP_PEER_ADDR_CHANGE;
  pc.spc_length = sizeof(pc);
  pc.spc_state = SCTP_ADDR_UNREACHABLE;
  reinterpret_cast<sockaddr_in*>(&pc.spc_aaddr)->sin_family = AF_INET;
  Write("notification_fuzz", Bytes(pc));
  sctp_send_failed_event sf{};
  sf.ssf_type = SCTP_SEND_FAILED_EVENT;
  sf.ssf_length = sizeof(sf) + 8;
  sf.ssfe_info.snd_sid = 2;
  Write("notification_fuzz", Bytes(sf) + std::string(8, 'x'));
  sctp_pdapi_event pd{};
  pd.pdapi_type = SCTP_PARTIAL_DELIVERY_EVENT;
  pd.pdapi_length = sizeof(pd);
  pd.pdapi_indication = SCTP_PARTIAL_DELIVERY_ABORTED;
  Write("notification_fuzz", Bytes(pd));
  sctp_shutdown_event sd{};
  sd.sse_type = SCTP_SHUTDOWN_EVENT;
  sd.sse_length = sizeof(sd);
  Write("notification_fuzz", Bytes(sd));
  sctp_remote_error re{};
  re.sre_type = SCTP_REMOTE_ERROR;
  re.sre_length = sizeof(re) + 4;
  Write("notification_fuzz", Bytes(re) + std::string(4, '\1'));
  sctp_sender_dry_event dry{};
  dry.sender_dry_type = SCTP_SENDER_DRY_EVENT;
  dry.sender_dry_length = sizeof(dry);
  Write("notification_fuzz", Bytes(dry));
}

void OtherSeeds() {
  // reassembler_fuzz: limit, capacity choice, then (control, length, payload)...
  Write("reassembler_fuzz", std::string("\x01\x00\x01", 3) + std::string("\x00\x04", 2) + "abcd" +
                                std::string("\x01\x03", 2) + "efg");
  Write("reassembler_fuzz", std::string("\x00\x10\x00", 3) + std::string("\x02\x02", 2) + "nn" +
                                std::string("\x04\x02", 2) + "kk" + std::string("\x41\x01", 2) +
                                std::string(16, 'z'));
  const char flags[] = "--s=abc\0--i=5\0--d\0" "0.25\0--size=4KiB\0--dur=2s\0--bounded=5ms\0--b\0--no-b\0"
                       "--choice=b\0--listen=127.0.0.1:80,[::1]:9\0--cpus=0-3,5\0--help";
  Write("flags_fuzz", std::string(flags, sizeof(flags) - 1));
  Write("flags_fuzz", std::string("--size\0" "1MiB\0--i=-10\0--listen=0.0.0.0:0", 31));
  const char connect[] = "--connect=10.0.0.1,[2001:db8::1]:2905\0--local\0" "127.0.0.1,::1";
  Write("flags_fuzz", std::string(connect, sizeof(connect) - 1));
  Write("guest_output_fuzz",
        "[    1.0] sctpvm: booting\n"
        "{\"type\":\"uname\",\"release\":\"6.1.0-28-amd64\"}\n"
        "{\"type\":\"features\",\"io_uring\":\"recvmsg+ msg_ring+\",\"ring_flags\":\"SINGLE_ISSUER\"}\n"
        "{\"type\":\"test\",\"name\":\"peeloff_test\",\"exit\":0}\n"
        "{\"type\":\"cell\",\"engine\":\"uring\",\"mode\":\"echo\",\"size\":1024,\"hot\":8,\"associations\":64,"
        "\"repeat\":1,\"messages_per_s\":17485.5,\"cpu_s_per_million\":59.42,\"syscalls_per_message\":0.3632,"
        "\"rtt_p50_us\":15204,\"rtt_p99_us\":109138,\"load_cpu_share\":0.467}\n"
        "{\"type\":\"bench_exit\",\"exit\":0}\n"
        "[   9.9] BUG: kernel NULL pointer dereference\n"
        "{\"type\":\"setup_failed\",\"what\":\"netem\"}\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  root = argv[1];
  mkdir(root.c_str(), 0755);
  RecvmsgSeed(false, "hello", MSG_EOR, true);
  RecvmsgSeed(true, std::string(100, 'p'), 0, true);
  RecvmsgSeed(false, "", MSG_EOR, false);
  sctp_assoc_change ac{};
  ac.sac_type = SCTP_ASSOC_CHANGE;
  ac.sac_length = sizeof(ac);
  ac.sac_state = SCTP_COMM_UP;
  RecvmsgSeed(false, Bytes(ac), MSG_EOR | MSG_NOTIFICATION, true);
  NotificationSeeds();
  OtherSeeds();
  return 0;
}
