#include "dataplane/sctp_tuning.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sctpdp {
namespace {

template <typename T>
absl::Status Get(int fd, int opt, const char* name, T* value) {
  socklen_t length = sizeof(T);
  if (getsockopt(fd, IPPROTO_SCTP, opt, value, &length) == 0) return absl::OkStatus();
  return absl::ErrnoToStatus(errno, absl::StrCat("getsockopt ", name));
}

// `asked`: the values, for the error ("initial 100 ms, max 50 ms").
template <typename T>
absl::Status Set(int fd, int opt, const char* name, const T& value, const std::string& asked) {
  if (setsockopt(fd, IPPROTO_SCTP, opt, &value, sizeof(T)) == 0) return absl::OkStatus();
  return absl::ErrnoToStatus(errno, absl::StrCat(name, " (", asked, ") refused by the kernel"));
}

// "name value unit" for each field set, joined: both the errors' and
// Describe()'s wording.
class Fields {
 public:
  template <typename V>
  Fields& Add(const char* name, const std::optional<V>& v, const char* unit = "") {
    if (v) parts_.push_back(absl::StrCat(name, " ", static_cast<uint64_t>(*v), unit));
    return *this;
  }
  Fields& Add(const std::string& part) {
    parts_.push_back(part);
    return *this;
  }
  bool empty() const { return parts_.empty(); }
  std::string str() const { return absl::StrJoin(parts_, ", "); }

 private:
  std::vector<std::string> parts_;
};

Fields RtoFields(const SctpTuning& t) {
  Fields f;
  f.Add("rto initial", t.rto_initial_ms, " ms").Add("rto min", t.rto_min_ms, " ms").Add("rto max", t.rto_max_ms, " ms");
  return f;
}
Fields PathFields(const SctpTuning& t) {
  Fields f;
  f.Add("heartbeat interval", t.heartbeat_interval_ms, " ms").Add("path max retransmissions", t.path_max_retransmissions);
  return f;
}
Fields SackFields(const SctpTuning& t) {
  Fields f;
  f.Add("sack delay", t.sack_delay_ms, " ms").Add("sack frequency", t.sack_frequency);
  return f;
}
Fields InitFields(const SctpTuning& t) {
  Fields f;
  f.Add("init attempts", t.init_max_attempts).Add("init max timeout", t.init_max_timeout_ms, " ms");
  return f;
}
Fields SndinfoFields(const SctpTuning& t) {
  Fields f;
  f.Add("default stream", t.default_stream).Add("default ppid", t.default_ppid);
  return f;
}
Fields PrFields(const SctpTuning& t) {
  Fields f;
  if (t.pr_policy) f.Add(absl::StrCat("pr ", PrPolicyName(*t.pr_policy), " ", t.pr_value));
  return f;
}

uint16_t PolicyFlags(PrPolicy p) {
  switch (p) {
    case PrPolicy::kTtl: return SCTP_PR_SCTP_TTL;
    case PrPolicy::kRtx: return SCTP_PR_SCTP_RTX;
    case PrPolicy::kPrio: return SCTP_PR_SCTP_PRIO;
    case PrPolicy::kNone: break;
  }
  return SCTP_PR_SCTP_NONE;
}

PrPolicy PolicyOf(uint16_t flags) {
  switch (SCTP_PR_POLICY(flags)) {
    case SCTP_PR_SCTP_TTL: return PrPolicy::kTtl;
    case SCTP_PR_SCTP_RTX: return PrPolicy::kRtx;
    case SCTP_PR_SCTP_PRIO: return PrPolicy::kPrio;
  }
  return PrPolicy::kNone;
}

// The kernel reads 0 as "leave it" in RTOINFO, ASSOCINFO, INITMSG and
// PEER_ADDR_PARAMS: only the fields set are sent.
absl::Status ApplyTimers(int fd, const SctpTuning& t) {
  if (const Fields f = RtoFields(t); !f.empty()) {
    sctp_rtoinfo r{};
    r.srto_initial = t.rto_initial_ms.value_or(0);
    r.srto_min = t.rto_min_ms.value_or(0);
    r.srto_max = t.rto_max_ms.value_or(0);
    if (absl::Status s = Set(fd, SCTP_RTOINFO, "SCTP_RTOINFO", r, f.str()); !s.ok()) return s;
  }
  if (t.max_retransmissions) {
    sctp_assocparams a{};
    a.sasoc_asocmaxrxt = *t.max_retransmissions;
    const std::string asked = Fields().Add("max retransmissions", t.max_retransmissions).str();
    if (absl::Status s = Set(fd, SCTP_ASSOCINFO, "SCTP_ASSOCINFO", a, asked); !s.ok()) return s;
  }
  if (const Fields f = InitFields(t); !f.empty()) {
    sctp_initmsg i{};
    i.sinit_max_attempts = t.init_max_attempts.value_or(0);
    i.sinit_max_init_timeo = t.init_max_timeout_ms.value_or(0);
    if (absl::Status s = Set(fd, SCTP_INITMSG, "SCTP_INITMSG", i, f.str()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ApplyPaths(int fd, const SctpTuning& t) {
  if (const Fields f = PathFields(t); !f.empty()) {
    sctp_paddrparams p{};  // the wildcard address: every path
    p.spp_pathmaxrxt = t.path_max_retransmissions.value_or(0);
    if (t.heartbeat_interval_ms) {
      p.spp_hbinterval = *t.heartbeat_interval_ms;
      p.spp_flags = *t.heartbeat_interval_ms > 0 ? SPP_HB_ENABLE : SPP_HB_DISABLE;
    }
    if (absl::Status s = Set(fd, SCTP_PEER_ADDR_PARAMS, "SCTP_PEER_ADDR_PARAMS", p, f.str()); !s.ok()) return s;
  }
  if (const Fields f = SackFields(t); !f.empty()) {
    // Delay and frequency go together (both 0 means "no change"): the
    // field not asked for keeps the socket's value.
    sctp_sack_info sack{};
    if (absl::Status s = Get(fd, SCTP_DELAYED_SACK, "SCTP_DELAYED_SACK", &sack); !s.ok()) return s;
    sack.sack_delay = t.sack_delay_ms.value_or(sack.sack_delay);
    sack.sack_freq = t.sack_frequency.value_or(sack.sack_freq);
    if (absl::Status s = Set(fd, SCTP_DELAYED_SACK, "SCTP_DELAYED_SACK", sack, f.str()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ApplySends(int fd, const SctpTuning& t) {
  if (const Fields f = SndinfoFields(t); !f.empty()) {
    sctp_sndinfo info{};
    if (absl::Status s = Get(fd, SCTP_DEFAULT_SNDINFO, "SCTP_DEFAULT_SNDINFO", &info); !s.ok()) return s;
    info.snd_sid = t.default_stream.value_or(info.snd_sid);
    if (t.default_ppid) info.snd_ppid = htonl(*t.default_ppid);
    if (absl::Status s = Set(fd, SCTP_DEFAULT_SNDINFO, "SCTP_DEFAULT_SNDINFO", info, f.str()); !s.ok()) return s;
  }
  if (t.pr_policy) {
    sctp_default_prinfo pr{};
    pr.pr_policy = PolicyFlags(*t.pr_policy);
    pr.pr_value = t.pr_value;
    if (absl::Status s = Set(fd, SCTP_DEFAULT_PRINFO, "SCTP_DEFAULT_PRINFO", pr, PrFields(t).str()); !s.ok()) return s;
  }
  if (t.max_segment) {
    sctp_assoc_value v{};
    v.assoc_value = *t.max_segment;
    const std::string asked = Fields().Add("max segment", t.max_segment, " B").str();
    if (absl::Status s = Set(fd, SCTP_MAXSEG, "SCTP_MAXSEG", v, asked); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ReadTimers(int fd, SctpTuning& t) {
  sctp_rtoinfo r{};
  sctp_assocparams a{};
  sctp_initmsg i{};
  if (absl::Status s = Get(fd, SCTP_RTOINFO, "SCTP_RTOINFO", &r); !s.ok()) return s;
  if (absl::Status s = Get(fd, SCTP_ASSOCINFO, "SCTP_ASSOCINFO", &a); !s.ok()) return s;
  if (absl::Status s = Get(fd, SCTP_INITMSG, "SCTP_INITMSG", &i); !s.ok()) return s;
  t.rto_initial_ms = r.srto_initial;
  t.rto_min_ms = r.srto_min;
  t.rto_max_ms = r.srto_max;
  t.max_retransmissions = a.sasoc_asocmaxrxt;
  t.init_max_attempts = i.sinit_max_attempts;
  t.init_max_timeout_ms = i.sinit_max_init_timeo;
  return absl::OkStatus();
}

absl::Status ReadPathsAndSends(int fd, SctpTuning& t) {
  sctp_paddrparams p{};
  sctp_sack_info sack{};
  sctp_sndinfo info{};
  sctp_default_prinfo pr{};
  sctp_assoc_value seg{};
  if (absl::Status s = Get(fd, SCTP_PEER_ADDR_PARAMS, "SCTP_PEER_ADDR_PARAMS", &p); !s.ok()) return s;
  if (absl::Status s = Get(fd, SCTP_DELAYED_SACK, "SCTP_DELAYED_SACK", &sack); !s.ok()) return s;
  if (absl::Status s = Get(fd, SCTP_DEFAULT_SNDINFO, "SCTP_DEFAULT_SNDINFO", &info); !s.ok()) return s;
  if (absl::Status s = Get(fd, SCTP_DEFAULT_PRINFO, "SCTP_DEFAULT_PRINFO", &pr); !s.ok()) return s;
  if (absl::Status s = Get(fd, SCTP_MAXSEG, "SCTP_MAXSEG", &seg); !s.ok()) return s;
  // Packed fields: read by value.
  const uint32_t flags = p.spp_flags, interval = p.spp_hbinterval;
  const uint16_t path_max = p.spp_pathmaxrxt;
  t.heartbeat_interval_ms = (flags & SPP_HB_DISABLE) ? 0 : interval;
  t.path_max_retransmissions = path_max;
  t.sack_delay_ms = sack.sack_delay;
  t.sack_frequency = sack.sack_freq;
  t.default_stream = info.snd_sid;
  t.default_ppid = ntohl(info.snd_ppid);
  t.pr_policy = PolicyOf(pr.pr_policy);
  t.pr_value = pr.pr_value;
  t.max_segment = seg.assoc_value;
  return absl::OkStatus();
}

}  // namespace

const char* PrPolicyName(PrPolicy p) {
  switch (p) {
    case PrPolicy::kTtl: return "ttl";
    case PrPolicy::kRtx: return "rtx";
    case PrPolicy::kPrio: return "prio";
    case PrPolicy::kNone: break;
  }
  return "none";
}

bool SctpTuning::empty() const { return Describe().empty(); }

std::string SctpTuning::Describe() const {
  Fields all;
  for (const Fields& f : {RtoFields(*this), PathFields(*this), SackFields(*this), InitFields(*this),
                          SndinfoFields(*this), PrFields(*this)}) {
    if (!f.empty()) all.Add(f.str());
  }
  all.Add("max retransmissions", max_retransmissions).Add("max segment", max_segment, " B");
  return all.str();
}

absl::Status ApplyTuning(int fd, const SctpTuning& t) {
  if (absl::Status s = ApplyTimers(fd, t); !s.ok()) return s;
  if (absl::Status s = ApplyPaths(fd, t); !s.ok()) return s;
  return ApplySends(fd, t);
}

absl::StatusOr<SctpTuning> ReadTuning(int fd) {
  SctpTuning t;
  if (absl::Status s = ReadTimers(fd, t); !s.ok()) return s;
  if (absl::Status s = ReadPathsAndSends(fd, t); !s.ok()) return s;
  return t;
}

uint16_t DefaultPrFlags(int fd, sctp_assoc_t id) {
  sctp_default_prinfo pr{};
  pr.pr_assoc_id = id;
  socklen_t length = sizeof(pr);
  if (getsockopt(fd, IPPROTO_SCTP, SCTP_DEFAULT_PRINFO, &pr, &length) != 0) return 0;
  return static_cast<uint16_t>(pr.pr_policy & SCTP_PR_SCTP_MASK);
}

}  // namespace sctpdp
