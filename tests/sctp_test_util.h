// Helpers for tests against real kernel SCTP: a one-to-many listener on
// loopback, one-to-one clients, COMM_UP, and sendmsg/recvmsg with stream and
// PPID. Each helper reports failures through GoogleTest.
#ifndef SCTPDP_TESTS_SCTP_TEST_UTIL_H_
#define SCTPDP_TESTS_SCTP_TEST_UTIL_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>
#include <string>

#include "dataplane/fd.h"

namespace sctpdp::testing {

inline constexpr int kStreams = 8;

// A SOCK_SEQPACKET SCTP listener on 127.0.0.1 (ephemeral port) with
// SCTP_ASSOC_CHANGE events and SCTP_RCVINFO on.
struct Listener {
  Fd fd;
  sockaddr_in addr{};
};
Listener MakeListener(int streams = kStreams);

// A one-to-one (SOCK_STREAM) client connected to `to`, SCTP_NODELAY and
// SCTP_RCVINFO on.
// rcvbuf > 0: SO_RCVBUFFORCE before connect (the window the peer is told).
Fd Connect(const sockaddr_in& to, int streams = kStreams, int rcvbuf = 0);

// 127.0.0.1:`port`, and the local port of a connected socket (the peer's
// port as the data plane sees it: AssociationInfo::peer.port).
sockaddr_in Loopback(uint16_t port);
uint16_t LocalPort(int fd);

// Waits for SCTP_COMM_UP on a one-to-many socket; returns the association id.
sctp_assoc_t AwaitCommUp(int listener);

// Blocking sendmsg with SCTP_SNDINFO (stream, PPID in host order).
bool SendOn(int fd, const std::string& payload, uint16_t stream, uint32_t ppid);
// The same with extra sendmsg `flags` (e.g. MSG_DONTWAIT), no expectation:
// sendmsg's result (-1 and errno on failure).
ssize_t TrySendOn(int fd, const std::string& payload, uint16_t stream, uint32_t ppid, int flags);

struct Received {
  std::string data;
  int flags = 0;
  bool has_rcvinfo = false;
  sctp_rcvinfo info{};
};
// One recvmsg, after waiting up to 30 s for readability (works on O_NONBLOCK).
Received Recv(int fd);

// Deterministic payload for message `seq` of `size` bytes (seq in the first
// bytes, then a pattern), and its check.
std::string Pattern(uint32_t seq, size_t size);
// The sequence number at the start of a Pattern payload (or ~0u if short).
uint32_t SeqOf(const std::string& payload);

}  // namespace sctpdp::testing

#endif  // SCTPDP_TESTS_SCTP_TEST_UTIL_H_
