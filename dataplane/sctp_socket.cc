#include "dataplane/sctp_socket.h"

#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstddef>

#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/sctp_parse.h"

namespace sctpdp {

absl::Status SubscribeEvents(int fd) {
  const uint16_t types[] = {SCTP_ASSOC_CHANGE,     SCTP_SHUTDOWN_EVENT,         SCTP_SEND_FAILED_EVENT,
                            SCTP_PEER_ADDR_CHANGE, SCTP_PARTIAL_DELIVERY_EVENT, SCTP_REMOTE_ERROR};
  bool per_type = true;
  for (uint16_t type : types) {
    sctp_event ev{};
    ev.se_type = type;
    ev.se_on = 1;
    if (setsockopt(fd, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev)) == 0) continue;
    if (errno != ENOPROTOOPT && errno != EINVAL) {
      return absl::ErrnoToStatus(errno, absl::StrCat("setsockopt(SCTP_EVENT ", type, ")"));
    }
    per_type = false;
    break;
  }
  if (per_type) return absl::OkStatus();
  // Legacy: the struct has grown over the years; pass only the prefix we set.
  sctp_event_subscribe sub{};
  sub.sctp_data_io_event = 1;
  sub.sctp_association_event = 1;
  sub.sctp_address_event = 1;
  sub.sctp_send_failure_event = 1;
  sub.sctp_peer_error_event = 1;
  sub.sctp_shutdown_event = 1;
  sub.sctp_partial_delivery_event = 1;
  const socklen_t len = offsetof(sctp_event_subscribe, sctp_partial_delivery_event) + 1;
  if (setsockopt(fd, IPPROTO_SCTP, SCTP_EVENTS, &sub, len) != 0) {
    return absl::ErrnoToStatus(errno, "setsockopt(SCTP_EVENTS)");
  }
  static std::atomic<bool> logged{false};
  if (!logged.exchange(true)) {
    Logf("SCTP_EVENT unsupported; subscribed with the legacy SCTP_EVENTS (%u bytes)", unsigned(len));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> GetSocketBuffer(int fd, int opt, const char* name) {
  int got = 0;
  socklen_t len = sizeof(got);
  if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) != 0) return absl::ErrnoToStatus(errno, name);
  return got;
}

absl::StatusOr<int> SetSocketBuffer(int fd, int opt, int force_opt, int bytes, const char* name) {
  if (bytes > 0 && setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes)) != 0) {
    return absl::ErrnoToStatus(errno, name);
  }
  absl::StatusOr<int> got = GetSocketBuffer(fd, opt, name);
  if (!got.ok() || *got / 2 >= bytes) return got;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) != 0) return got;
  return GetSocketBuffer(fd, opt, name);
}

int SendSctpFlag(int fd, uint16_t sctp_flag, sctp_assoc_t assoc_id) {
  alignas(cmsghdr) char control[kSendControlBytes];
  msghdr msg{};
  FillSendControl(&msg, control, 0, 0, sctp_flag, 0, assoc_id);
  return sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
}

}  // namespace sctpdp
