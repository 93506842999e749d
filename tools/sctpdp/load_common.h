// What `sctpdp load`'s parts share: its flags, one association's state, the
// layout of what a message carries, and the Link a sending thread sends
// through (load.cc: plain sockets; load_plane.cc: the data plane).
#ifndef SCTPDP_TOOLS_SCTPDP_LOAD_COMMON_H_
#define SCTPDP_TOOLS_SCTPDP_LOAD_COMMON_H_

#include <netinet/in.h>
#include <netinet/sctp.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "control/connection.h"
#include "dataplane/fd.h"
#include "dataplane/histogram.h"
#include "tools/sctpdp/flags.h"

namespace sctpdp {

struct Progress;

struct LoadFlags {
  MultiEndpoint connect;            // the server's addresses (sctp_connectx), primary first
  std::vector<std::string> local;   // sctp_bindx before connecting; empty: the kernel's choice
  std::string engine = "sockets";   // sockets: a socket per association; uring: the data plane (load_plane.h)
  int64_t associations = 1;
  int64_t streams = 4;
  uint64_t size = 1024;
  uint64_t size_max = 0;          // > size: each message's size is uniform in [size, size_max]
  std::string socket = "stream";  // sockets engine: stream (one-to-one) or seqpacket (one-to-many)
  double rate = 0;                // messages/s per hot association; 0: as fast as the socket takes them
  int64_t hot = -1;               // associations at --rate; the rest at --cold-rate (-1: all hot)
  double cold_rate = 1;
  int64_t count = 0;  // messages per association (0: until --duration)
  absl::Duration duration = absl::Seconds(10);
  bool nodelay = true;
  int64_t bundle = 1;  // messages per burst at rate 0; all but the last with MSG_MORE
  int64_t window = 0;  // with --echo: most messages awaiting their echo per association (0: no limit)
  int64_t threads = 2;
  int64_t workers = 1;  // uring engine: the data plane's workers, not pinned
  double peel_rate = 500;  // uring engine: messages/s (either way) that make an association hot
  absl::Duration sustain = absl::Milliseconds(500);
  bool echo = false;  // the server echoes: measure round trips
  absl::Duration drain = absl::Seconds(5);  // with --echo: how long the echoes still out get after sending stops
  bool progress = false;
  // Every message's PPID; the sequence number then rides in the payload's
  // first 4 bytes (network order). Unset: the PPID is the sequence number.
  std::optional<uint32_t> ppid;
};

// Where a message's fields sit in its payload: the sequence number (with
// --ppid), then, with --echo, when it was sent and, paced, when it was due.
struct PayloadLayout {
  static constexpr size_t kSeqBytes = sizeof(uint32_t);
  static constexpr size_t kHeadBytes = kSeqBytes + 2 * sizeof(int64_t);  // the most a head holds
  size_t sent_at = 0;  // offset of the send time (int64 ns, host order)
  explicit PayloadLayout(const LoadFlags& f) : sent_at(f.ppid ? kSeqBytes : 0) {}
  size_t due() const { return sent_at + sizeof(int64_t); }
  size_t stamped() const { return due() + sizeof(int64_t); }  // bytes with both stamps
};

struct Association {
  Fd fd;                 // sockets engine
  sctp_assoc_t id = 0;   // one-to-many socket or data plane: the association to send on
  uint16_t streams = 1;  // outbound streams the server granted (<= --streams)
  size_t sender = 0;     // the sending thread it belongs to
  double rate = 0;       // messages/s (0: as fast as possible)
  // uring engine, rate 0 and no --count: its messages are sent on the
  // thread that owns it, from the data plane's callbacks (LoadPlane::Pump),
  // not by its sending thread.
  bool driven = false;
  std::minstd_rand sizes;  // --size-max: its messages' sizes (whoever sends them)
  // Paced (rate > 0): its k-th message (from 0) is due at start_ns + k *
  // period_ns on the monotonic clock, whenever the one before it went out:
  // an open loop, as a population of independent peers would send.
  int64_t start_ns = 0;
  double period_ns = 0;
  std::vector<uint32_t> seq;  // per stream
  uint64_t sent = 0, bytes = 0;
  // Written by whichever thread reads the echoes (the data plane's, for the
  // uring engine), read by its sender for the window.
  std::atomic<uint64_t> echoed{0};
  // The data plane refused a send for room (backpressure) and has not said
  // OnWritable since: its sender skips it.
  std::atomic<bool> blocked{false};
  // With --echo, in ns: from the send (rtt) and, paced, from when the
  // message was due (rtt_from_schedule: coordinated omission corrected).
  // Written by the echo reader (one thread at a time).
  Histogram rtt, rtt_from_schedule;

  bool paced() const { return period_ns > 0; }
  int64_t Due() const { return start_ns + static_cast<int64_t>(static_cast<double>(sent) * period_ns); }
};

// The next message of `a` on `stream`: its head in `head` (the sequence
// number with --ppid; with --echo the send time `sent_at` and the time it
// was due), returning how many bytes of it to write; its PPID in `*ppid`.
size_t MessageHead(const LoadFlags& f, const PayloadLayout& layout, const Association& a, uint16_t stream,
                   int64_t sent_at, int64_t due, char (&head)[PayloadLayout::kHeadBytes], uint32_t* ppid);
// Its size: --size, or uniform up to --size-max.
size_t NextSize(const LoadFlags& f, Association& a);
// Counts a message of `size` bytes sent on `stream` of `a`.
void CountSent(Association& a, uint16_t stream, size_t size, Progress& progress);

inline int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Wakes a sending thread that waits for echoes or room (Link::Wait) from
// the threads that see them: the eventfd is written only while it sleeps.
class Waker {
 public:
  Waker();
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;
  // Something its sender waits for happened (any thread).
  void Wake();
  // Sleeps until a Wake after the previous Sleep returned, or `wait_ns`.
  void Sleep(int64_t wait_ns);

 private:
  int fd_ = -1;
  std::atomic<uint64_t> events_{0};
  std::atomic<bool> asleep_{false};
  uint64_t seen_ = 0;  // the sender's
};

// What the sending threads have sent so far, for the progress line and
// the end of the drain (one per thread, apart so the threads do not share
// a cache line).
struct alignas(64) Progress {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> echoed{0};
  Waker waker;
};

// Records the round trips of echo `payload` of a message of `a` (at least
// the send time's bytes) and counts it in `a` and `progress`.
void RecordEcho(const PayloadLayout& layout, Association& a, absl::Span<const char> payload, Progress& progress);

// How one sending thread's messages leave.
class Link {
 public:
  enum class Sent : uint8_t { kOk, kBlocked, kFailed };
  virtual ~Link() = default;
  // Sends a message of `size` bytes on `a`, starting with `head` (the rest
  // is filler). kBlocked: not now, retry once `a.blocked` clears; kFailed:
  // said on stderr.
  virtual Sent Send(Association& a, uint16_t stream, uint32_t ppid, size_t size, absl::Span<const char> head,
                    bool more) = 0;
  // Waits at most `wait_ns` for echoes (recorded) or room.
  virtual void Wait(int64_t wait_ns) = 0;
};

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_LOAD_COMMON_H_
