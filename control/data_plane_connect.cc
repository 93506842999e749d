// DataPlane: outbound associations (Connect) and the application's end of
// an association (Shutdown, Abort).
//
// Why each connection has a one-to-many socket of its own, on the control
// thread, rather than connecting from the listener's socket:
//  - a socket has one set of bound addresses and one port. A connection
//    binds the local addresses it asks for (sctp_bindx), which need not be
//    the listener's, nor of its family (an IPv4 listener cannot reach an
//    IPv6 peer); and without a listener (DataPlaneOptions::listen false)
//    there is no such socket at all;
//  - one socket cannot hold two associations to the same peer address and
//    port, and appliances open several to one peer (each its own
//    ephemeral port here);
//  - a socket of its own survives its association: a reconnect reuses it
//    (same local binding), and once the association is peeled to a worker
//    the one-to-many socket is idle until the next attempt.
// Every such socket is served by the same OneToManyServer (one multishot
// receive each, on the control thread's ring), so an outbound association
// lives exactly like an accepted one: cold there, peeled when hot.
//
// An attempt is a non-blocking sctp_connectx (the socket is O_NONBLOCK: the
// kernel names the association and returns EINPROGRESS); the outcome comes
// as a notification on the socket: COMM_UP (up: the usual path,
// OnAssociationUp) or CANT_STR_ASSOC (failed). The control thread's tick
// (evaluate_interval) runs the timers: an attempt not up within
// connect_timeout is aborted (SCTP_ABORT) and counts as failed; a connection
// waiting out its backoff starts its next attempt. Every connection's state
// is the control thread's alone; queries read a copy published under a
// mutex at each change (never per message).
#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "control/data_plane.h"
#include "dataplane/log.h"
#include "dataplane/sctp_socket.h"
#include "dataplane/sctp_tuning.h"

namespace sctpdp {
namespace {

absl::Status StatusOf(SendResult r, sctp_assoc_t id, const char* what) {
  switch (r) {
    case SendResult::kOk:
      return absl::OkStatus();
    case SendResult::kNoAssociation:
      return absl::NotFoundError(absl::StrCat(what, " of association ", id, ": unknown"));
    case SendResult::kClosing:
      return absl::FailedPreconditionError(absl::StrCat(what, " of association ", id, ": already ending"));
    case SendResult::kQueueFull:
    case SendResult::kNoBuffers:
      return absl::UnavailableError(
          absl::StrCat(what, " of association ", id, ": ", SendResultName(r), ", retry on OnWritable"));
    default:
      return absl::InternalError(absl::StrCat(what, " of association ", id, ": ", SendResultName(r)));
  }
}

// Each connection's failures are logged when the count is a power of two,
// and at the last: a peer down for an hour costs a dozen lines, not
// thousands.
bool WorthLogging(unsigned failures, bool last) { return last || (failures & (failures - 1)) == 0; }

}  // namespace

absl::Status DataPlane::RunOnControl(absl::AnyInvocable<void()> fn) {
  if (control_->server().OnThread()) {
    fn();
    return absl::OkStatus();
  }
  return control_->Post(std::move(fn));
}

// --- Connect ------------------------------------------------------------------

absl::StatusOr<ConnectionId> DataPlane::Connect(const ConnectOptions& options) {
  if (!running()) return absl::FailedPreconditionError("connect: data plane not running");
  absl::StatusOr<ConnectPlan> plan = PlanConnect(options);
  if (!plan.ok()) return plan.status();
  ConnectOptions o = options;
  if (o.streams == 0) o.streams = options_.listener.streams;
  if (o.rcvbuf == 0) o.rcvbuf = options_.listener.rcvbuf;
  if (o.sndbuf == 0) o.sndbuf = options_.listener.sndbuf;
  if (!o.tuning) o.tuning = options_.listener.tuning;
  {
    std::lock_guard<std::mutex> l(connections_mu_);
    size_t open = 0;
    for (const auto& [id, info] : connection_info_) open += info.state != ConnectionState::kClosed;
    if (open >= options_.max_connections) {
      return absl::ResourceExhaustedError(
          absl::StrCat("connect: ", options_.max_connections, " connections open (DataPlaneOptions::max_connections)"));
    }
  }
  absl::StatusOr<Fd> fd = OpenSctpSocket({.family = plan->family,
                                          .type = SOCK_SEQPACKET,
                                          .streams = o.streams,
                                          .nodelay = options_.listener.nodelay,
                                          .rcvbuf = o.rcvbuf,
                                          .sndbuf = o.sndbuf});
  if (!fd.ok()) return fd.status();
  if (absl::Status s = ApplyTuning(fd->get(), *o.tuning); !s.ok()) return s;
  // Non-blocking: connectx returns at once (EINPROGRESS) with the id.
  const int flags = fcntl(fd->get(), F_GETFL);
  if (flags < 0 || fcntl(fd->get(), F_SETFL, flags | O_NONBLOCK) != 0) return absl::ErrnoToStatus(errno, "fcntl");
  if (absl::Status s = BindLocal(fd->get(), *plan); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("connect: ", s.message()));
  }
  const ConnectionId id = next_connection_.fetch_add(1, std::memory_order_relaxed);
  uint64_t seed = o.reconnect.seed;
  if (seed == 0) {
    seed = SplitMix64(static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) ^ (uint64_t{id} << 40)).Next() | 1;
  }
  auto out = std::make_unique<Outbound>(id, o, *std::move(plan), seed);
  {
    std::lock_guard<std::mutex> l(connections_mu_);
    ConnectionInfo& info = connection_info_[id];
    info.id = id;
    info.description = out->plan.Describe();
    info.state = ConnectionState::kConnecting;
    info.seed = seed;
  }
  // Through the inbox even from the control thread: the application hears
  // of the connection (OnConnectFailed) only once it has its id.
  absl::Status posted = control_->Post(
      [this, out = std::move(out), fd = *std::move(fd)]() mutable { StartConnection(std::move(out), std::move(fd)); });
  if (!posted.ok()) {
    std::lock_guard<std::mutex> l(connections_mu_);
    connection_info_[id].state = ConnectionState::kClosed;
    return posted;
  }
  return id;
}

void DataPlane::StartConnection(std::unique_ptr<Outbound> out, Fd fd) {
  if (stopped_) return;
  Outbound& o = *out;
  outbound_[o.id] = std::move(out);
  absl::StatusOr<SocketId> socket = control_->server().AddSocket(std::move(fd));
  if (!socket.ok()) {
    o.last_error = socket.status();
    o.machine.Close();
    Publish(o);
    app_->OnConnectFailed(*this, o.id, socket.status(), absl::InfiniteDuration());
    CloseConnection(o);
    return;
  }
  o.socket = *socket;
  outbound_by_socket_[o.socket] = o.id;
  Logf("data plane: connection %u: %s, reconnect %s (seed %llu)", o.id, o.plan.Describe(),
       o.options.reconnect.enabled ? "on" : "off", (unsigned long long)o.seed);
  Attempt(o, absl::Now());
}

void DataPlane::Attempt(Outbound& out, absl::Time now) {
  const int fd = control_->server().SocketFd(out.socket);
  sctp_assoc_t id = 0;
  connect_attempts_.fetch_add(1, std::memory_order_relaxed);
  const int ret = ConnectX(fd, out.plan, &id);
  if (ret == 0 || errno == EINPROGRESS) {
    out.machine.Started(id, now);
    if (id != 0) outbound_by_assoc_[id] = out.id;
    Publish(out);
    return;
  }
  const absl::Status why =
      absl::ErrnoToStatus(errno, absl::StrCat("connection ", out.id, ": sctp_connectx ", out.plan.Describe()));
  out.machine.Started(0, now);
  AttemptFailed(out, why, now);
}

// REQUIRES: nothing touches `out` after (it may be closed and gone).
void DataPlane::AttemptFailed(Outbound& out, const absl::Status& why, absl::Time now) {
  if (auto it = outbound_by_assoc_.find(out.machine.assoc()); it != outbound_by_assoc_.end() && it->second == out.id) {
    outbound_by_assoc_.erase(it);
  }
  connect_failures_.fetch_add(1, std::memory_order_relaxed);
  out.last_error = why;
  const ConnectionMachine::Next next = out.machine.Failed(now);
  Publish(out);
  if (WorthLogging(out.machine.failures(), !next.retry)) {
    Logf("data plane: connection %u: attempt %u failed: %s; %s", out.id, out.machine.attempts(),
         std::string(why.message()),
         next.retry ? absl::StrCat("again in ", absl::FormatDuration(next.delay)) : std::string("giving up"));
  }
  app_->OnConnectFailed(*this, out.id, why, next.delay);  // it cannot close `out` (Disconnect posts)
  if (!next.retry) CloseConnection(out);
}

bool DataPlane::OnOutboundEvent(Outbound& out, const AssociationEvent& ev, absl::Time now) {
  ConnectionMachine& m = out.machine;
  const sctp_assoc_t id = ev.assoc_id;
  if (ev.type == EventType::kAssocChange) m.Name(id);
  const bool current = id != 0 && id == m.assoc();
  if (ev.type != EventType::kAssocChange) return current && m.state() == ConnectionState::kUp;
  switch (ev.state) {
    case SCTP_COMM_UP:
      if (m.Up(id, now)) {
        outbound_by_assoc_[id] = out.id;
        connects_.fetch_add(1, std::memory_order_relaxed);
        Publish(out);
        Logf("data plane: connection %u: association %d up (attempt %u)", out.id, id, m.attempts());
        return true;
      }
      // An attempt given up on (timed out) that came up after all.
      SendSctpFlag(control_->server().SocketFd(out.socket), SCTP_ABORT, id);
      return false;
    case SCTP_CANT_STR_ASSOC:
      if (current && m.state() == ConnectionState::kConnecting) {
        AttemptFailed(out,
                      absl::UnavailableError(absl::StrCat("connection ", out.id, " (", out.plan.Describe(),
                                                          "): the peer refused or never answered the association "
                                                          "(SCTP_CANT_STR_ASSOC, error ",
                                                          ev.error, ")")),
                      now);
      }
      return false;
    default:  // COMM_LOST, SHUTDOWN_COMP, RESTART: its association's, if current
      return current && m.state() == ConnectionState::kUp;
  }
}

void DataPlane::ConnectionEnded(sctp_assoc_t id) {
  auto it = outbound_by_assoc_.find(id);
  if (it == outbound_by_assoc_.end()) return;
  auto o = outbound_.find(it->second);
  outbound_by_assoc_.erase(it);
  if (o == outbound_.end()) return;
  Outbound& out = *o->second;
  if (out.machine.assoc() != id || out.machine.state() != ConnectionState::kUp || stopped_) return;
  const ConnectionMachine::Next next = out.machine.Down(absl::Now());
  Publish(out);
  if (!next.retry) {
    Logf("data plane: connection %u: association %d ended; connection closed", out.id, id);
    CloseConnection(out);
    return;
  }
  Logf("data plane: connection %u: association %d ended; next attempt in %s", out.id, id,
       absl::FormatDuration(next.delay));
}

void DataPlane::PollConnections(absl::Time now) {
  if (outbound_.empty()) return;
  std::vector<ConnectionId> ids;
  ids.reserve(outbound_.size());
  for (const auto& [id, out] : outbound_) ids.push_back(id);
  for (ConnectionId id : ids) {
    auto it = outbound_.find(id);
    if (it == outbound_.end()) continue;
    Outbound& out = *it->second;
    if (out.shutdown_pending) {
      out.shutdown_pending = false;
      EndConnection(out, false);
      continue;
    }
    switch (out.machine.Poll(now)) {
      case ConnectionMachine::Due::kNothing:
        break;
      case ConnectionMachine::Due::kStart:
        Attempt(out, now);
        break;
      case ConnectionMachine::Due::kTimeout: {
        // The kernel would go on retransmitting INIT: end the attempt here.
        // Its CANT_STR_ASSOC, if any, names an id that is no longer current.
        if (out.machine.assoc() != 0) {
          SendSctpFlag(control_->server().SocketFd(out.socket), SCTP_ABORT, out.machine.assoc());
        }
        AttemptFailed(out,
                      absl::DeadlineExceededError(absl::StrCat("connection ", out.id, " (", out.plan.Describe(),
                                                               "): not up within connect_timeout ",
                                                               absl::FormatDuration(out.options.connect_timeout))),
                      now);
        break;
      }
    }
  }
}

// --- Ending a connection ----------------------------------------------------------

absl::Status DataPlane::Disconnect(ConnectionId conn, bool abort) {
  if (!running()) return absl::FailedPreconditionError("disconnect: data plane not running");
  {
    std::lock_guard<std::mutex> l(connections_mu_);
    auto it = connection_info_.find(conn);
    if (it == connection_info_.end() || it->second.state == ConnectionState::kClosed) {
      return absl::NotFoundError(absl::StrCat("connection ", conn, ": unknown or closed"));
    }
  }
  // Always through the inbox, even from the control thread: a callback that
  // disconnects must not close the connection under the code that called it.
  return control_->Post([this, conn, abort] {
    auto it = outbound_.find(conn);
    if (it != outbound_.end()) EndConnection(*it->second, abort);
  });
}

void DataPlane::EndConnection(Outbound& out, bool abort) {
  out.machine.Close();  // an association that is up stays up until it has ended
  Publish(out);
  if (out.machine.state() != ConnectionState::kUp) return CloseConnection(out);
  const sctp_assoc_t id = out.machine.assoc();
  if (abort) {
    if (!router_->Abort(id)) CloseConnection(out);
    return;
  }
  const SendResult r = router_->Shutdown(id);
  if (IsBackpressure(r)) {
    out.shutdown_pending = true;  // at the next tick
  } else if (r == SendResult::kNoAssociation) {
    CloseConnection(out);  // it never made it into the directory (rejected)
  }
}

// REQUIRES: its association, if any, is gone or peeled (closing the socket
// would end a cold one behind the data plane's back). `out` is gone after.
void DataPlane::CloseConnection(Outbound& out) {
  const ConnectionId id = out.id;
  if (out.socket != kNoSocket) {
    control_->server().RemoveSocket(out.socket);
    outbound_by_socket_.erase(out.socket);
  }
  for (auto it = outbound_by_assoc_.begin(); it != outbound_by_assoc_.end();) {
    it = it->second == id ? outbound_by_assoc_.erase(it) : std::next(it);
  }
  out.machine.Close();
  Publish(out);
  outbound_.erase(id);
  app_->OnConnectionClosed(*this, id);
}

DataPlane::Outbound* DataPlane::OutboundOf(sctp_assoc_t id) {
  auto it = outbound_by_assoc_.find(id);
  if (it == outbound_by_assoc_.end()) return nullptr;
  auto o = outbound_.find(it->second);
  return o == outbound_.end() ? nullptr : o->second.get();
}

// The application ends `id`: if it is a connection's association, that
// connection is not set up again.
void DataPlane::NoteEndingByApplication(sctp_assoc_t id) {
  RunOnControl([this, id] {
    Outbound* out = OutboundOf(id);
    if (out == nullptr || out->machine.assoc() != id || out->machine.state() != ConnectionState::kUp) return;
    out->machine.Close();
    Publish(*out);
  }).IgnoreError();  // stopping: nothing reconnects
}

void DataPlane::Publish(const Outbound& out) {
  const ConnectionMachine& m = out.machine;
  std::lock_guard<std::mutex> l(connections_mu_);
  ConnectionInfo& info = connection_info_[out.id];
  info.state = m.state();
  info.assoc = m.assoc();
  info.attempts = m.attempts();
  info.failures = m.failures();
  info.ups = m.ups();
  info.next_attempt = m.state() == ConnectionState::kWaiting ? m.deadline() : absl::InfiniteFuture();
  info.last_error = out.last_error;
}

std::optional<ConnectionInfo> DataPlane::Connection(ConnectionId conn) const {
  std::lock_guard<std::mutex> l(connections_mu_);
  auto it = connection_info_.find(conn);
  if (it == connection_info_.end()) return std::nullopt;
  return it->second;
}

std::vector<ConnectionInfo> DataPlane::Connections() const {
  std::lock_guard<std::mutex> l(connections_mu_);
  std::vector<ConnectionInfo> out;
  out.reserve(connection_info_.size());
  for (const auto& [id, info] : connection_info_) out.push_back(info);
  return out;
}

// --- Ending an association ----------------------------------------------------------

absl::Status DataPlane::Shutdown(sctp_assoc_t id) {
  if (!running()) return absl::FailedPreconditionError("shutdown: data plane not running");
  NoteEndingByApplication(id);
  return StatusOf(router_->Shutdown(id), id, "shutdown");
}

absl::Status DataPlane::Abort(sctp_assoc_t id) {
  if (!running()) return absl::FailedPreconditionError("abort: data plane not running");
  NoteEndingByApplication(id);
  if (!router_->Abort(id)) return absl::NotFoundError(absl::StrCat("abort of association ", id, ": unknown"));
  return absl::OkStatus();
}

}  // namespace sctpdp
