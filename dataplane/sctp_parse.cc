#include "dataplane/sctp_parse.h"

#include <arpa/inet.h>
#include <linux/io_uring.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sctpdp {

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kAssocChange: return "assoc_change";
    case EventType::kPeerAddrChange: return "peer_addr_change";
    case EventType::kSendFailed: return "send_failed";
    case EventType::kRemoteError: return "remote_error";
    case EventType::kShutdown: return "shutdown";
    case EventType::kPartialDelivery: return "partial_delivery";
    case EventType::kAdaptation: return "adaptation";
    case EventType::kAuthentication: return "authentication";
    case EventType::kSenderDry: return "sender_dry";
    case EventType::kStreamReset: return "stream_reset";
    case EventType::kOther: return "other";
  }
  return "unknown";
}

bool AssociationEvent::EndsAssociation() const {
  return type == EventType::kAssocChange &&
         (state == SCTP_COMM_LOST || state == SCTP_SHUTDOWN_COMP || state == SCTP_CANT_STR_ASSOC);
}

absl::StatusOr<RecvParts> ParseRecvmsgOut(const char* buf, int res, const msghdr& tmpl) {
  // Layout the kernel writes: io_uring_recvmsg_out, then msg_namelen bytes of
  // name, then msg_controllen bytes of control, then the payload.
  const size_t header = sizeof(io_uring_recvmsg_out) + tmpl.msg_namelen + tmpl.msg_controllen;
  if (res < 0 || static_cast<size_t>(res) < header) {
    return absl::DataLossError(absl::StrCat("recvmsg completion of ", res, " bytes < header ", header));
  }
  io_uring_recvmsg_out out;
  std::memcpy(&out, buf, sizeof(out));
  RecvParts parts;
  parts.msg_flags = out.flags;
  const size_t room = static_cast<size_t>(res) - header;
  // payloadlen is what the socket returned; MSG_TRUNC means it was larger
  // than the buffer (SCTP reports partial reads without it, by MSG_EOR).
  size_t payload_len = out.payloadlen;
  if (payload_len > room) {
    if (!(out.flags & MSG_TRUNC)) {
      return absl::DataLossError(absl::StrCat("payloadlen ", payload_len, " > room ", room));
    }
    payload_len = room;
  }
  parts.payload = absl::MakeConstSpan(buf + header, payload_len);
  const char* control = buf + sizeof(io_uring_recvmsg_out) + tmpl.msg_namelen;
  size_t control_len = out.controllen < tmpl.msg_controllen ? out.controllen : tmpl.msg_controllen;
  size_t off = 0;
  while (off + sizeof(cmsghdr) <= control_len) {
    cmsghdr c;
    std::memcpy(&c, control + off, sizeof(c));
    // (cmsg_len - the room left, not off + cmsg_len: a huge length must not wrap.)
    if (c.cmsg_len < sizeof(cmsghdr) || c.cmsg_len > control_len - off) break;
    if (c.cmsg_level == IPPROTO_SCTP && c.cmsg_type == SCTP_RCVINFO &&
        c.cmsg_len >= CMSG_LEN(sizeof(sctp_rcvinfo))) {
      std::memcpy(&parts.rcvinfo, control + off + CMSG_LEN(0), sizeof(sctp_rcvinfo));
      parts.has_rcvinfo = true;
    }
    off += CMSG_ALIGN(c.cmsg_len);
  }
  return parts;
}

MessageView ViewOf(const RecvParts& parts, int32_t bid, absl::Span<const char> payload, bool copied) {
  MessageView m;
  if (parts.has_rcvinfo) {
    m.assoc_id = parts.rcvinfo.rcv_assoc_id;
    m.stream = parts.rcvinfo.rcv_sid;
    m.ssn = parts.rcvinfo.rcv_ssn;
    m.ppid = ntohl(parts.rcvinfo.rcv_ppid);
    m.context = parts.rcvinfo.rcv_context;
    m.rcv_flags = parts.rcvinfo.rcv_flags;
  }
  m.copied = copied;
  m.payload = payload;
  m.buffer_id = bid;
  return m;
}

namespace {

template <typename T>
absl::Status NeedBytes(absl::Span<const char> bytes, const char* what) {
  if (bytes.size() < sizeof(T)) {
    return absl::DataLossError(
        absl::StrCat("notification ", what, ": ", bytes.size(), " bytes < ", sizeof(T)));
  }
  return absl::OkStatus();
}

}  // namespace

// The common header of every notification (declared inside the union in C).
using NotificationHeader = decltype(sctp_notification::sn_header);

namespace {

// Reads the notification in `bytes` into `n`, if it is long enough. (Not a
// StatusOr<T>: several T end in a flexible array, which clang will not put in
// one.)
template <typename T>
absl::Status Read(absl::Span<const char> bytes, const char* what, T* n) {
  if (auto s = NeedBytes<T>(bytes, what); !s.ok()) return s;
  std::memcpy(n, bytes.data(), sizeof(T));
  return absl::OkStatus();
}

absl::Status DecodeAssocChange(absl::Span<const char> bytes, AssociationEvent* ev) {
  sctp_assoc_change n;
  if (absl::Status s = Read(bytes, "assoc_change", &n); !s.ok()) return s;
  ev->type = EventType::kAssocChange;
  ev->assoc_id = n.sac_assoc_id;
  ev->state = n.sac_state;
  ev->error = n.sac_error;
  ev->inbound_streams = n.sac_inbound_streams;
  ev->outbound_streams = n.sac_outbound_streams;
  return absl::OkStatus();
}

absl::Status DecodePeerAddrChange(absl::Span<const char> bytes, AssociationEvent* ev) {
  sctp_paddr_change n;
  if (absl::Status s = Read(bytes, "peer_addr_change", &n); !s.ok()) return s;
  ev->type = EventType::kPeerAddrChange;
  ev->assoc_id = n.spc_assoc_id;
  ev->state = static_cast<uint16_t>(n.spc_state);
  ev->error = static_cast<uint16_t>(n.spc_error);
  std::memcpy(&ev->address, &n.spc_aaddr, sizeof(ev->address));
  return absl::OkStatus();
}

// SCTP_SEND_FAILED_EVENT (RFC 6458), or the legacy SCTP_SEND_FAILED.
absl::Status DecodeSendFailed(absl::Span<const char> bytes, bool legacy, AssociationEvent* ev) {
  ev->type = EventType::kSendFailed;
  if (legacy) {
    sctp_send_failed n;
    if (absl::Status s = Read(bytes, "send_failed", &n); !s.ok()) return s;
    ev->assoc_id = n.ssf_assoc_id;
    ev->error = static_cast<uint16_t>(n.ssf_error);
    ev->send_failed_ppid = ntohl(n.ssf_info.sinfo_ppid);
    ev->send_failed_stream = n.ssf_info.sinfo_stream;
    ev->send_failed_bytes = n.ssf_length > sizeof(n) ? n.ssf_length - sizeof(n) : 0;
    return absl::OkStatus();
  }
  sctp_send_failed_event n;
  if (absl::Status s = Read(bytes, "send_failed_event", &n); !s.ok()) return s;
  ev->assoc_id = n.ssf_assoc_id;
  ev->error = static_cast<uint16_t>(n.ssf_error);
  ev->send_failed_ppid = ntohl(n.ssfe_info.snd_ppid);
  ev->send_failed_stream = n.ssfe_info.snd_sid;
  ev->send_failed_bytes = n.ssf_length > sizeof(n) ? n.ssf_length - sizeof(n) : 0;
  return absl::OkStatus();
}

absl::Status DecodeRemoteError(absl::Span<const char> bytes, AssociationEvent* ev) {
  sctp_remote_error n;
  if (absl::Status s = Read(bytes, "remote_error", &n); !s.ok()) return s;
  ev->type = EventType::kRemoteError;
  ev->assoc_id = n.sre_assoc_id;
  ev->error = ntohs(n.sre_error);
  return absl::OkStatus();
}

absl::Status DecodePartialDelivery(absl::Span<const char> bytes, AssociationEvent* ev) {
  sctp_pdapi_event n;
  if (absl::Status s = Read(bytes, "partial_delivery", &n); !s.ok()) return s;
  ev->type = EventType::kPartialDelivery;
  ev->assoc_id = n.pdapi_assoc_id;
  ev->indication = n.pdapi_indication;
  return absl::OkStatus();
}

// The notifications that say only which association: T's `id` member.
template <typename T, sctp_assoc_t T::*id>
absl::Status DecodeIdOnly(absl::Span<const char> bytes, EventType type, const char* what, AssociationEvent* ev) {
  T n;
  if (absl::Status s = Read(bytes, what, &n); !s.ok()) return s;
  ev->type = type;
  ev->assoc_id = n.*id;
  return absl::OkStatus();
}

absl::Status DecodeBody(uint16_t type, absl::Span<const char> bytes, AssociationEvent* ev) {
  switch (type) {
    case SCTP_ASSOC_CHANGE: return DecodeAssocChange(bytes, ev);
    case SCTP_PEER_ADDR_CHANGE: return DecodePeerAddrChange(bytes, ev);
    case SCTP_SEND_FAILED_EVENT: return DecodeSendFailed(bytes, /*legacy=*/false, ev);
    case SCTP_SEND_FAILED: return DecodeSendFailed(bytes, /*legacy=*/true, ev);
    case SCTP_REMOTE_ERROR: return DecodeRemoteError(bytes, ev);
    case SCTP_PARTIAL_DELIVERY_EVENT: return DecodePartialDelivery(bytes, ev);
    case SCTP_SHUTDOWN_EVENT:
      return DecodeIdOnly<sctp_shutdown_event, &sctp_shutdown_event::sse_assoc_id>(bytes, EventType::kShutdown,
                                                                                  "shutdown", ev);
    case SCTP_ADAPTATION_INDICATION:
      return DecodeIdOnly<sctp_adaptation_event, &sctp_adaptation_event::sai_assoc_id>(
          bytes, EventType::kAdaptation, "adaptation", ev);
    case SCTP_AUTHENTICATION_EVENT:
      return DecodeIdOnly<sctp_authkey_event, &sctp_authkey_event::auth_assoc_id>(
          bytes, EventType::kAuthentication, "authentication", ev);
    case SCTP_SENDER_DRY_EVENT:
      return DecodeIdOnly<sctp_sender_dry_event, &sctp_sender_dry_event::sender_dry_assoc_id>(
          bytes, EventType::kSenderDry, "sender_dry", ev);
    case SCTP_STREAM_RESET_EVENT:
      return DecodeIdOnly<sctp_stream_reset_event, &sctp_stream_reset_event::strreset_assoc_id>(
          bytes, EventType::kStreamReset, "stream_reset", ev);
    default:
      ev->type = EventType::kOther;
      return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<AssociationEvent> DecodeNotification(absl::Span<const char> bytes) {
  if (auto s = NeedBytes<NotificationHeader>(bytes, "header"); !s.ok()) return s;
  NotificationHeader tlv;
  std::memcpy(&tlv, bytes.data(), sizeof(tlv));
  if (tlv.sn_length > bytes.size() || tlv.sn_length < sizeof(tlv)) {
    return absl::DataLossError(absl::StrCat("notification length ", tlv.sn_length, " of ", bytes.size()));
  }
  AssociationEvent ev;
  ev.raw_type = tlv.sn_type;
  if (absl::Status s = DecodeBody(tlv.sn_type, bytes.first(tlv.sn_length), &ev); !s.ok()) return s;
  return ev;
}

void FillSendControl(msghdr* msg, char* control, uint16_t stream, uint32_t ppid, uint16_t flags,
                     uint32_t ttl_ms, sctp_assoc_t assoc_id) {
  std::memset(control, 0, kSendControlBytes);
  msg->msg_control = control;
  msg->msg_controllen = CMSG_SPACE(sizeof(sctp_sndinfo));
  cmsghdr* c = CMSG_FIRSTHDR(msg);
  c->cmsg_level = IPPROTO_SCTP;
  c->cmsg_type = SCTP_SNDINFO;
  c->cmsg_len = CMSG_LEN(sizeof(sctp_sndinfo));
  sctp_sndinfo info;
  std::memset(&info, 0, sizeof(info));
  info.snd_sid = stream;
  info.snd_flags = flags;
  info.snd_ppid = htonl(ppid);
  info.snd_assoc_id = assoc_id;
  std::memcpy(CMSG_DATA(c), &info, sizeof(info));
  if (ttl_ms == 0) return;
  msg->msg_controllen = kSendControlBytes;
  c = CMSG_NXTHDR(msg, c);
  c->cmsg_level = IPPROTO_SCTP;
  c->cmsg_type = SCTP_PRINFO;
  c->cmsg_len = CMSG_LEN(sizeof(sctp_prinfo));
  sctp_prinfo pr;
  std::memset(&pr, 0, sizeof(pr));
  pr.pr_policy = SCTP_PR_SCTP_TTL;
  pr.pr_value = ttl_ms;
  std::memcpy(CMSG_DATA(c), &pr, sizeof(pr));
}

}  // namespace sctpdp
