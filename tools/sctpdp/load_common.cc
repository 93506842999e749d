#include "tools/sctpdp/load_common.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace sctpdp {

Waker::Waker() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Waker::~Waker() {
  if (fd_ >= 0) close(fd_);
}

void Waker::Wake() {
  events_.fetch_add(1, std::memory_order_seq_cst);
  if (!asleep_.exchange(false, std::memory_order_seq_cst)) return;
  const uint64_t one = 1;
  (void)!write(fd_, &one, sizeof(one));
}

// asleep_ is raised before events_ is read: a Wake that the read misses
// comes after it and finds asleep_ raised, so it writes the eventfd.
void Waker::Sleep(int64_t wait_ns) {
  asleep_.store(true, std::memory_order_seq_cst);
  if (events_.load(std::memory_order_seq_cst) == seen_ && wait_ns > 0) {
    pollfd p{fd_, POLLIN, 0};
    const timespec wait = {static_cast<time_t>(wait_ns / 1000000000), static_cast<long>(wait_ns % 1000000000)};
    ppoll(&p, 1, &wait, nullptr);
  }
  asleep_.store(false, std::memory_order_seq_cst);
  uint64_t drained = 0;
  (void)!read(fd_, &drained, sizeof(drained));
  seen_ = events_.load(std::memory_order_seq_cst);
}

size_t MessageHead(const LoadFlags& f, const PayloadLayout& layout, const Association& a, uint16_t stream,
                   int64_t sent_at, int64_t due, char (&head)[PayloadLayout::kHeadBytes], uint32_t* ppid) {
  size_t bytes = 0;
  *ppid = f.ppid ? *f.ppid : a.seq[stream];
  if (f.ppid) {
    const uint32_t seq = htonl(a.seq[stream]);
    std::memcpy(head, &seq, sizeof(seq));
    bytes = sizeof(seq);
  }
  if (f.echo) {  // read back from the echo
    std::memcpy(head + layout.sent_at, &sent_at, sizeof(sent_at));
    std::memcpy(head + layout.due(), &due, sizeof(due));
    bytes = layout.stamped();
  }
  return bytes;
}

size_t NextSize(const LoadFlags& f, Association& a) {
  if (f.size_max <= f.size) return f.size;
  return std::uniform_int_distribution<uint64_t>(f.size, f.size_max)(a.sizes);
}

void CountSent(Association& a, uint16_t stream, size_t size, Progress& progress) {
  ++a.seq[stream];
  ++a.sent;
  a.bytes += size;
  progress.sent.fetch_add(1, std::memory_order_relaxed);
}

void RecordEcho(const PayloadLayout& layout, Association& a, absl::Span<const char> payload, Progress& progress) {
  const int64_t now = MonotonicNs();
  if (payload.size() >= layout.due()) {
    int64_t sent_at = 0;
    std::memcpy(&sent_at, payload.data() + layout.sent_at, sizeof(sent_at));
    a.rtt.Record(static_cast<uint64_t>(std::max<int64_t>(0, now - sent_at)));
    if (a.paced() && payload.size() >= layout.stamped()) {
      int64_t due = 0;
      std::memcpy(&due, payload.data() + layout.due(), sizeof(due));
      a.rtt_from_schedule.Record(static_cast<uint64_t>(std::max<int64_t>(0, now - due)));
    }
  }
  a.echoed.fetch_add(1, std::memory_order_relaxed);
  progress.echoed.fetch_add(1, std::memory_order_relaxed);
  progress.waker.Wake();
}

}  // namespace sctpdp
