// Parsing of multishot recvmsg buffers and SCTP notifications: valid input
// decodes, every malformed input is an error (never a crash or an overread).
#include "dataplane/sctp_parse.h"

#include <arpa/inet.h>
#include <linux/io_uring.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace sctpdp {
namespace {

msghdr Template() {
  msghdr m{};
  m.msg_controllen = kRecvControlBytes;
  return m;
}

// Builds what the kernel writes for one multishot recvmsg completion.
std::vector<char> Completion(const std::string& payload, uint32_t flags, bool rcvinfo,
                             uint32_t payloadlen_override = ~0u) {
  msghdr t = Template();
  std::vector<char> buf(sizeof(io_uring_recvmsg_out) + t.msg_controllen + payload.size());
  io_uring_recvmsg_out out{};
  out.payloadlen = payloadlen_override != ~0u ? payloadlen_override : payload.size();
  out.flags = flags;
  char* control = buf.data() + sizeof(out);
  if (rcvinfo) {
    cmsghdr c{};
    c.cmsg_level = IPPROTO_SCTP;
    c.cmsg_type = SCTP_RCVINFO;
    c.cmsg_len = CMSG_LEN(sizeof(sctp_rcvinfo));
    sctp_rcvinfo info{};
    info.rcv_sid = 3;
    info.rcv_ssn = 9;
    info.rcv_ppid = htonl(46);
    info.rcv_assoc_id = 5;
    std::memcpy(control, &c, sizeof(c));
    std::memcpy(control + CMSG_LEN(0), &info, sizeof(info));
    out.controllen = CMSG_SPACE(sizeof(sctp_rcvinfo));
  }
  std::memcpy(buf.data(), &out, sizeof(out));
  std::memcpy(buf.data() + sizeof(out) + t.msg_controllen, payload.data(), payload.size());
  return buf;
}

TEST(ParseRecvmsgOutTest, PayloadFlagsAndRcvinfo) {
  auto buf = Completion("hello", MSG_EOR, true);
  auto parts = ParseRecvmsgOut(buf.data(), buf.size(), Template());
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(std::string(parts->payload.begin(), parts->payload.end()), "hello");
  EXPECT_EQ(parts->msg_flags, uint32_t{MSG_EOR});
  ASSERT_TRUE(parts->has_rcvinfo);
  EXPECT_EQ(parts->rcvinfo.rcv_sid, 3);
  EXPECT_EQ(ntohl(parts->rcvinfo.rcv_ppid), 46u);
  EXPECT_EQ(parts->rcvinfo.rcv_assoc_id, 5);
}

TEST(ParseRecvmsgOutTest, NoControlMessage) {
  auto buf = Completion("x", 0, false);
  auto parts = ParseRecvmsgOut(buf.data(), buf.size(), Template());
  ASSERT_TRUE(parts.ok());
  EXPECT_FALSE(parts->has_rcvinfo);
}

TEST(ParseRecvmsgOutTest, ShortCompletionIsAnError) {
  auto buf = Completion("hello", MSG_EOR, true);
  EXPECT_FALSE(ParseRecvmsgOut(buf.data(), 8, Template()).ok());
  EXPECT_FALSE(ParseRecvmsgOut(buf.data(), -1, Template()).ok());
}

TEST(ParseRecvmsgOutTest, PayloadLengthBeyondTheBufferIsAnErrorUnlessTruncated) {
  auto buf = Completion("hello", 0, false, 500);
  EXPECT_FALSE(ParseRecvmsgOut(buf.data(), buf.size(), Template()).ok());
  auto trunc = Completion("hello", MSG_TRUNC, false, 500);
  auto parts = ParseRecvmsgOut(trunc.data(), trunc.size(), Template());
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->payload.size(), 5u);  // clipped to what is there
}

TEST(ParseRecvmsgOutTest, MalformedCmsgLengthIsIgnoredNotOverread) {
  auto buf = Completion("p", 0, true);
  cmsghdr bad{};
  bad.cmsg_len = 4000;  // beyond the control area
  bad.cmsg_level = IPPROTO_SCTP;
  bad.cmsg_type = SCTP_RCVINFO;
  std::memcpy(buf.data() + sizeof(io_uring_recvmsg_out), &bad, sizeof(bad));
  auto parts = ParseRecvmsgOut(buf.data(), buf.size(), Template());
  ASSERT_TRUE(parts.ok());
  EXPECT_FALSE(parts->has_rcvinfo);
}

// Found by //fuzz:recvmsg_fuzz: a cmsg_len near SIZE_MAX made off + cmsg_len
// wrap below the control length, and the walk went back to 0 for ever.
TEST(ParseRecvmsgOutTest, CmsgLengthThatWouldWrapEndsTheWalk) {
  auto buf = Completion("hello", MSG_EOR, true);
  cmsghdr first{};
  first.cmsg_len = sizeof(cmsghdr);  // an empty cmsg, so the next starts at 16
  cmsghdr wrapping{};
  wrapping.cmsg_len = ~size_t{0} - sizeof(cmsghdr) + 1;  // 16 + this == 0
  char* control = buf.data() + sizeof(io_uring_recvmsg_out);
  std::memcpy(control, &first, sizeof(first));
  std::memcpy(control + sizeof(cmsghdr), &wrapping, sizeof(wrapping));
  auto parts = ParseRecvmsgOut(buf.data(), buf.size(), Template());
  ASSERT_TRUE(parts.ok());
  EXPECT_FALSE(parts->has_rcvinfo);
  EXPECT_EQ(std::string(parts->payload.data(), parts->payload.size()), "hello");
}

template <typename T>
absl::Span<const char> Bytes(const T& v) {
  return absl::MakeConstSpan(reinterpret_cast<const char*>(&v), sizeof(v));
}

TEST(DecodeNotificationTest, AssocChange) {
  sctp_assoc_change n{};
  n.sac_type = SCTP_ASSOC_CHANGE;
  n.sac_length = sizeof(n);
  n.sac_state = SCTP_COMM_LOST;
  n.sac_inbound_streams = 4;
  n.sac_assoc_id = 12;
  auto ev = DecodeNotification(Bytes(n));
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->type, EventType::kAssocChange);
  EXPECT_EQ(ev->state, SCTP_COMM_LOST);
  EXPECT_EQ(ev->inbound_streams, 4);
  EXPECT_EQ(ev->assoc_id, 12);
  EXPECT_TRUE(ev->EndsAssociation());
  n.sac_state = SCTP_COMM_UP;
  EXPECT_FALSE(DecodeNotification(Bytes(n))->EndsAssociation());
}

TEST(DecodeNotificationTest, EachKnownType) {
  sctp_shutdown_event sd{};
  sd.sse_type = SCTP_SHUTDOWN_EVENT;
  sd.sse_length = sizeof(sd);
  sd.sse_assoc_id = 3;
  EXPECT_EQ(DecodeNotification(Bytes(sd))->type, EventType::kShutdown);
  sctp_pdapi_event pd{};
  pd.pdapi_type = SCTP_PARTIAL_DELIVERY_EVENT;
  pd.pdapi_length = sizeof(pd);
  pd.pdapi_indication = SCTP_PARTIAL_DELIVERY_ABORTED;
  auto pdev = DecodeNotification(Bytes(pd));
  EXPECT_EQ(pdev->type, EventType::kPartialDelivery);
  EXPECT_EQ(pdev->indication, uint32_t{SCTP_PARTIAL_DELIVERY_ABORTED});
  sctp_paddr_change pa{};
  pa.spc_type = SCTP_PEER_ADDR_CHANGE;
  pa.spc_length = sizeof(pa);
  pa.spc_state = SCTP_ADDR_UNREACHABLE;
  EXPECT_EQ(DecodeNotification(Bytes(pa))->type, EventType::kPeerAddrChange);
  sctp_send_failed_event sf{};
  sf.ssf_type = SCTP_SEND_FAILED_EVENT;
  sf.ssf_length = sizeof(sf) + 100;
  sf.ssfe_info.snd_ppid = htonl(7);
  sf.ssfe_info.snd_sid = 2;
  std::vector<char> sfbuf(sizeof(sf) + 100);
  std::memcpy(sfbuf.data(), &sf, sizeof(sf));
  auto sfev = DecodeNotification(sfbuf);
  ASSERT_TRUE(sfev.ok());
  EXPECT_EQ(sfev->type, EventType::kSendFailed);
  EXPECT_EQ(sfev->send_failed_ppid, 7u);
  EXPECT_EQ(sfev->send_failed_stream, 2);
  EXPECT_EQ(sfev->send_failed_bytes, 100u);
  sctp_sender_dry_event dry{};
  dry.sender_dry_type = SCTP_SENDER_DRY_EVENT;
  dry.sender_dry_length = sizeof(dry);
  EXPECT_EQ(DecodeNotification(Bytes(dry))->type, EventType::kSenderDry);
}

TEST(DecodeNotificationTest, MalformedInputIsAnError) {
  EXPECT_FALSE(DecodeNotification({}).ok());
  char three[3] = {};
  EXPECT_FALSE(DecodeNotification(three).ok());
  sctp_assoc_change n{};
  n.sac_type = SCTP_ASSOC_CHANGE;
  n.sac_length = sizeof(n) + 50;  // claims more than there is
  EXPECT_FALSE(DecodeNotification(Bytes(n)).ok());
  n.sac_length = 8;  // header only: too short for an assoc change
  EXPECT_FALSE(DecodeNotification(Bytes(n)).ok());
  sctp_assoc_change unknown{};
  unknown.sac_type = 0x7777;
  unknown.sac_length = sizeof(unknown);
  auto ev = DecodeNotification(Bytes(unknown));
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->type, EventType::kOther);
  EXPECT_EQ(ev->raw_type, 0x7777);
}

TEST(FillSendControlTest, SndinfoAndOptionalPrinfo) {
  alignas(cmsghdr) char control[kSendControlBytes];
  msghdr m{};
  FillSendControl(&m, control, 5, 1234, SCTP_UNORDERED, 0, 0);
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cmsg_type, SCTP_SNDINFO);
  sctp_sndinfo info;
  std::memcpy(&info, CMSG_DATA(c), sizeof(info));
  EXPECT_EQ(info.snd_sid, 5);
  EXPECT_EQ(ntohl(info.snd_ppid), 1234u);
  EXPECT_EQ(info.snd_flags, SCTP_UNORDERED);
  EXPECT_EQ(CMSG_NXTHDR(&m, c), nullptr);
  FillSendControl(&m, control, 0, 0, 0, 250, 0);
  c = CMSG_NXTHDR(&m, CMSG_FIRSTHDR(&m));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cmsg_type, SCTP_PRINFO);
  sctp_prinfo pr;
  std::memcpy(&pr, CMSG_DATA(c), sizeof(pr));
  EXPECT_EQ(pr.pr_policy, SCTP_PR_SCTP_TTL);
  EXPECT_EQ(pr.pr_value, 250u);
}

}  // namespace
}  // namespace sctpdp
