// Outbound associations (DataPlane::Connect), the parts that are pure logic:
// what the application asks for (ConnectOptions), the sockaddrs it comes to
// (ConnectPlan: which family the socket needs, what sctp_bindx and
// sctp_connectx get), and one connection's life as the control thread
// drives it (ConnectionMachine: attempts, their deadline, the association,
// the waits between, from a seeded Backoff). No sockets, no clock of its
// own: host-tested on their own (control/connection_test.cc).
#ifndef SCTPDP_CONTROL_CONNECTION_H_
#define SCTPDP_CONTROL_CONNECTION_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "control/backoff.h"
#include "dataplane/sctp_socket.h"
#include "dataplane/sctp_tuning.h"

namespace sctpdp {

// Names one Connect for its whole life, across the associations it sets up
// one after another (each has its own sctp_assoc_t). 0: none (an inbound
// association).
using ConnectionId = uint32_t;

struct ConnectOptions {
  // The peer's addresses (IPv4 and IPv6 literals, mixed as needed), its
  // primary first: all go to sctp_connectx. At least one.
  std::vector<std::string> remote;
  uint16_t port = 0;  // the peer's port (required)
  // Local addresses to bind (sctp_bindx), IPv4 and IPv6 mixed as needed;
  // empty: the kernel's choice (every local address, an ephemeral port).
  std::vector<std::string> local;
  uint16_t local_port = 0;  // 0: an ephemeral port
  uint16_t streams = 0;     // INIT streams, in and out (0: the listener's)
  int rcvbuf = 0;           // socket buffers (0: the listener's)
  int sndbuf = 0;
  // RTO, heartbeat, SACK, INIT, default send and PR-SCTP settings, set on
  // the connection's socket before its first attempt (so every association
  // it sets up, and its peeled socket, keeps them). Unset: the listener's
  // (ListenerOptions::tuning).
  std::optional<SctpTuning> tuning;
  // An attempt not up after this long is aborted and counts as failed (the
  // kernel alone would retransmit INIT for minutes).
  absl::Duration connect_timeout = absl::Seconds(10);
  ReconnectOptions reconnect;  // on by default
};

// The sockaddrs of a ConnectOptions. The socket is AF_INET6 when any
// address (local or remote) is IPv6, else AF_INET; IPv4 addresses keep
// their own family (an AF_INET6 SCTP socket that is not V6ONLY takes them
// in bindx and connectx).
struct ConnectPlan {
  int family = AF_INET;
  std::vector<SocketAddress> local;   // ports: local_port
  std::vector<SocketAddress> remote;  // ports: port
  // `remote` packed one after the other, as sctp_connectx wants them.
  std::string packed_remote;
  // "127.0.0.1,::1 -> 10.0.0.1,10.0.0.2:2905" (local "*" for the kernel's choice).
  std::string Describe() const;
};

inline constexpr size_t kMaxConnectAddresses = 16;

absl::StatusOr<ConnectPlan> PlanConnect(const ConnectOptions& options);
// Binds `fd` to the plan's local addresses (sctp_bindx; none: nothing to
// do, the kernel chooses), and sctp_connectx to its remote ones: -1 and
// errno as the call's (EINPROGRESS on a non-blocking socket: under way),
// `id` the association either way.
absl::Status BindLocal(int fd, const ConnectPlan& plan);
int ConnectX(int fd, const ConnectPlan& plan, sctp_assoc_t* id);

enum class ConnectionState : uint8_t {
  kConnecting,  // an attempt is under way (INIT sent)
  kUp,          // its association is up
  kWaiting,     // between attempts (backoff)
  kClosed,      // no more attempts: given up, reconnect off, or ended by the application
};
const char* ConnectionStateName(ConnectionState state);

class ConnectionMachine {
 public:
  // `seed`: the backoff's (non-zero).
  ConnectionMachine(const ConnectOptions& options, uint64_t seed);

  ConnectionState state() const { return state_; }
  // The attempt's or the association's id (0: none now).
  sctp_assoc_t assoc() const { return assoc_; }
  unsigned attempts() const { return attempts_; }  // attempts started
  unsigned failures() const { return failures_; }  // attempts failed, in all
  unsigned ups() const { return ups_; }            // associations that came up
  // Connecting: when the attempt times out; waiting: when the next starts.
  absl::Time deadline() const { return deadline_; }
  // The application ended it (Close): no attempt follows.
  bool closing() const { return closing_; }

  // An attempt was started: connectx took it and the kernel named it `id`.
  void Started(sctp_assoc_t id, absl::Time now);
  // COMM_UP of association `id`: true when it is the current attempt's.
  bool Up(sctp_assoc_t id, absl::Time now);
  // Where connectx could not name the attempt (a kernel without
  // SCTP_SOCKOPT_CONNECTX3), the first answer on its socket does.
  void Name(sctp_assoc_t id) {
    if (state_ == ConnectionState::kConnecting && assoc_ == 0) assoc_ = id;
  }

  // What follows a failure or an end: another attempt after `delay`, or
  // none (kClosed).
  struct Next {
    bool retry = false;
    absl::Duration delay = absl::InfiniteDuration();
  };
  // The current attempt failed (CANT_STR_ASSOC, the timeout, connectx).
  Next Failed(absl::Time now);
  // The association ended by the peer or the network (not Close).
  Next Down(absl::Time now);
  // No more attempts. kUp stays up (the application shuts it down; Down
  // then closes); anything else is kClosed at once.
  void Close();

  enum class Due : uint8_t { kNothing, kStart, kTimeout };
  // kStart: waiting and its deadline passed; kTimeout: connecting and its
  // deadline passed.
  Due Poll(absl::Time now) const;

 private:
  Next Wait(absl::Time now);

  const absl::Duration timeout_;
  const bool reconnect_;
  const unsigned max_attempts_;
  const absl::Duration reset_after_;
  Backoff backoff_;
  ConnectionState state_ = ConnectionState::kWaiting;  // until the first Started
  sctp_assoc_t assoc_ = 0;
  absl::Time deadline_ = absl::InfinitePast();  // the first attempt is due at once
  absl::Time up_since_ = absl::InfinitePast();
  unsigned attempts_ = 0, failures_ = 0, failed_in_a_row_ = 0, ups_ = 0;
  bool closing_ = false;
};

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_CONNECTION_H_
