// Shared pieces of the benchmarks under perf/: an SCTP association peeled off
// a one-to-many listener, a saturating sender, a per-stream order check,
// --name=value flags. Benchmarks die loudly on any error.
#ifndef SCTPDP_PERF_BENCH_UTIL_H_
#define SCTPDP_PERF_BENCH_UTIL_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>

#include "dataplane/fd.h"
#include "dataplane/worker_test_util.h"  // Notification

namespace sctpdp::perf {

[[noreturn]] void Die(const char* format, ...) __attribute__((format(printf, 1, 2)));

double ThreadCpuSeconds();

// A one-to-one client connected to a fresh one-to-many listener on loopback,
// and the association peeled off it (SOCK_NONBLOCK | SOCK_CLOEXEC).
struct Association {
  Fd listener;
  Fd client;
  Fd peeled;
  sctp_assoc_t id = 0;
  static Association Open();
};

// Sends `count` messages of `size` bytes on streams 0..3 as fast as the
// socket takes them; PPID = sequence number.
class Sender {
 public:
  Sender(int fd, size_t size, uint64_t count);
  ~Sender() { Join(); }
  void Join();

 private:
  std::thread thread_;
};

// Per stream, sequence numbers must increase (SCTP orders within a stream).
class StreamOrder {
 public:
  void Check(uint16_t stream, uint32_t seq) {
    auto [it, fresh] = last_.try_emplace(stream, seq);
    if (!fresh) {
      if (seq <= it->second) ++violations_;
      it->second = seq;
    }
  }
  uint64_t violations() const { return violations_; }

 private:
  std::map<uint16_t, uint32_t> last_;
  uint64_t violations_ = 0;
};

// --name=value flags; unknown ones are an error.
class Flags {
 public:
  Flags(int argc, char** argv);
  int64_t Get(const std::string& name, int64_t fallback);
  void CheckAllUsed();

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
};

}  // namespace sctpdp::perf

#endif  // SCTPDP_PERF_BENCH_UTIL_H_
