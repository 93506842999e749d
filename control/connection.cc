#include "control/connection.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sctpdp {
namespace {

bool IsIpv6Literal(const std::string& a) {
  in6_addr v6;
  return inet_pton(AF_INET6, a.c_str(), &v6) == 1;
}

absl::Status AddressList(const std::vector<std::string>& literals, uint16_t port, const char* what,
                         std::vector<SocketAddress>* out) {
  if (literals.size() > kMaxConnectAddresses) {
    return absl::InvalidArgumentError(
        absl::StrCat("connect: ", literals.size(), " ", what, " addresses (at most ", kMaxConnectAddresses, ")"));
  }
  for (size_t i = 0; i < literals.size(); ++i) {
    absl::StatusOr<SocketAddress> a = MakeAddress(literals[i], port);
    if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat("connect: ", what, " ", a.status().message()));
    for (size_t j = 0; j < i; ++j) {
      if (literals[j] == literals[i]) {
        return absl::InvalidArgumentError(absl::StrCat("connect: ", what, " address ", literals[i], " given twice"));
      }
    }
    out->push_back(*a);
  }
  return absl::OkStatus();
}

}  // namespace

std::string ConnectPlan::Describe() const {
  auto list = [](const std::vector<SocketAddress>& v) {
    std::vector<std::string> s;
    for (const SocketAddress& a : v) s.push_back(AddressString(a.get()));
    return absl::StrJoin(s, ",");
  };
  const uint16_t local_port = local.empty() ? 0 : PortOf(local[0].get());
  return absl::StrCat(local.empty() ? std::string("*") : list(local), local_port ? absl::StrCat(":", local_port) : "",
                      " -> ", list(remote), ":", remote.empty() ? 0 : PortOf(remote[0].get()));
}

absl::StatusOr<ConnectPlan> PlanConnect(const ConnectOptions& o) {
  if (o.remote.empty()) return absl::InvalidArgumentError("connect: no remote address");
  if (o.port == 0) return absl::InvalidArgumentError("connect: no remote port");
  if (o.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("connect: connect_timeout must be > 0");
  }
  if (o.rcvbuf < 0 || o.sndbuf < 0) return absl::InvalidArgumentError("connect: negative socket buffer");
  if (absl::Status s = ValidateReconnectOptions(o.reconnect); !s.ok()) return s;
  ConnectPlan plan;
  if (absl::Status s = AddressList(o.remote, o.port, "remote", &plan.remote); !s.ok()) return s;
  if (absl::Status s = AddressList(o.local, o.local_port, "local", &plan.local); !s.ok()) return s;
  const bool v6 = std::any_of(o.remote.begin(), o.remote.end(), IsIpv6Literal) ||
                  std::any_of(o.local.begin(), o.local.end(), IsIpv6Literal);
  plan.family = v6 ? AF_INET6 : AF_INET;
  for (const SocketAddress& a : plan.remote) {
    plan.packed_remote.append(reinterpret_cast<const char*>(&a.storage), a.length);
  }
  return plan;
}

absl::Status BindLocal(int fd, const ConnectPlan& plan) {
  if (plan.local.empty()) return absl::OkStatus();
  std::string packed;
  for (const SocketAddress& a : plan.local) packed.append(reinterpret_cast<const char*>(&a.storage), a.length);
  if (sctp_bindx(fd, reinterpret_cast<sockaddr*>(packed.data()), static_cast<int>(plan.local.size()),
                 SCTP_BINDX_ADD_ADDR) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("sctp_bindx ", plan.Describe()));
  }
  return absl::OkStatus();
}

int ConnectX(int fd, const ConnectPlan& plan, sctp_assoc_t* id) {
  std::string packed = plan.packed_remote;  // sctp_connectx takes it non-const
  return sctp_connectx(fd, reinterpret_cast<sockaddr*>(packed.data()), static_cast<int>(plan.remote.size()), id);
}

const char* ConnectionStateName(ConnectionState state) {
  switch (state) {
    case ConnectionState::kConnecting:
      return "connecting";
    case ConnectionState::kUp:
      return "up";
    case ConnectionState::kWaiting:
      return "waiting";
    case ConnectionState::kClosed:
      return "closed";
  }
  return "unknown";
}

ConnectionMachine::ConnectionMachine(const ConnectOptions& options, uint64_t seed)
    : timeout_(options.connect_timeout),
      reconnect_(options.reconnect.enabled),
      max_attempts_(options.reconnect.max_attempts),
      reset_after_(options.reconnect.reset_after),
      backoff_(options.reconnect, seed) {}

void ConnectionMachine::Started(sctp_assoc_t id, absl::Time now) {
  ++attempts_;
  assoc_ = id;
  state_ = ConnectionState::kConnecting;
  deadline_ = now + timeout_;
}

bool ConnectionMachine::Up(sctp_assoc_t id, absl::Time now) {
  if (state_ != ConnectionState::kConnecting || id != assoc_) return false;
  state_ = ConnectionState::kUp;
  ++ups_;
  failed_in_a_row_ = 0;
  up_since_ = now;
  deadline_ = absl::InfiniteFuture();
  return true;
}

ConnectionMachine::Next ConnectionMachine::Wait(absl::Time now) {
  assoc_ = 0;
  if (closing_ || !reconnect_ || (max_attempts_ > 0 && failed_in_a_row_ >= max_attempts_)) {
    state_ = ConnectionState::kClosed;
    deadline_ = absl::InfiniteFuture();
    return Next{};
  }
  const absl::Duration delay = backoff_.Next();
  state_ = ConnectionState::kWaiting;
  deadline_ = now + delay;
  return Next{true, delay};
}

ConnectionMachine::Next ConnectionMachine::Failed(absl::Time now) {
  ++failures_;
  ++failed_in_a_row_;
  return Wait(now);
}

ConnectionMachine::Next ConnectionMachine::Down(absl::Time now) {
  if (now - up_since_ >= reset_after_) backoff_.Reset();
  return Wait(now);
}

void ConnectionMachine::Close() {
  closing_ = true;
  if (state_ == ConnectionState::kUp) return;
  state_ = ConnectionState::kClosed;
  assoc_ = 0;
  deadline_ = absl::InfiniteFuture();
}

ConnectionMachine::Due ConnectionMachine::Poll(absl::Time now) const {
  if (now < deadline_) return Due::kNothing;
  if (state_ == ConnectionState::kWaiting) return Due::kStart;
  if (state_ == ConnectionState::kConnecting) return Due::kTimeout;
  return Due::kNothing;
}

}  // namespace sctpdp
