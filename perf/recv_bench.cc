// Receive benchmark: the worker's receive path against a plain blocking
// recvmsg loop, side by side on the same peeled SCTP socket under the same
// load, in one run.
//
// For each (message size, worker mode): a client saturates one association
// with 2*M sequence-numbered messages on 4 streams; the association is peeled
// off; a blocking recvmsg loop reads the first M, then the same descriptor is
// adopted by a Worker for the next M (checking per-stream order across that
// handoff). Printed per design: messages/s, syscalls, user-space copies and
// receiver CPU per message, and the ratios. Run it where SCTP is:
//
//   bazel build //perf:recv_bench && tools/sctpvm -- bazel-bin/perf/recv_bench
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "dataplane/worker.h"
#include "dataplane/sctp_socket.h"
#include "perf/bench_util.h"

namespace sctpdp::perf {
namespace {

struct Row {
  std::string design;
  size_t size = 0;
  uint64_t messages = 0;
  double seconds = 0;
  uint64_t syscalls = 0;
  uint64_t copies = 0;
  double cpu_seconds = 0;
  double cqes_per_enter = 0;
};

// The baseline a user would write: one blocking recvmsg per message (or per
// piece of one), SCTP_RCVINFO on, reading in place into its own buffer.
Row RecvmsgLoop(int fd, size_t size, uint64_t count, StreamOrder* order) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::vector<char> buf(1 << 20);
  Row row{"recvmsg loop", size};
  const double cpu0 = ThreadCpuSeconds();
  const absl::Time t0 = absl::Now();
  while (row.messages < count) {
    const RecvResult r = RecvWithInfo(fd, absl::MakeSpan(buf), 0);
    ++row.syscalls;
    if (r.bytes <= 0) Die("baseline recvmsg: %s", r.bytes == 0 ? "EOF" : std::strerror(static_cast<int>(-r.bytes)));
    if (r.msg_flags & MSG_NOTIFICATION) continue;
    if (!(r.msg_flags & MSG_EOR)) Die("baseline: message larger than its 1 MiB buffer");
    order->Check(r.info.rcv_sid, ntohl(r.info.rcv_ppid));
    ++row.messages;
  }
  row.seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  row.cpu_seconds = ThreadCpuSeconds() - cpu0;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return row;
}

class CountingHandler : public WorkerHandler {
 public:
  CountingHandler(uint64_t target, StreamOrder* order) : target_(target), order_(order) {}
  void OnMessage(Worker& w, const MessageView& m) override {
    order_->Check(m.stream, m.ppid);
    if (++messages_ == target_) done_.Notify();
  }
  void OnError(Worker&, AssocHandle, const absl::Status& e) override {
    Die("worker error: %s", e.ToString().c_str());
  }
  Notification done_;

 private:
  const uint64_t target_;
  StreamOrder* const order_;
  uint64_t messages_ = 0;
};

// One association: the baseline reads `count`, then the worker reads `count`.
std::pair<Row, Row> RunPair(size_t size, uint64_t count, const WorkerOptions& options, const char* name) {
  Association assoc = Association::Open();
  Sender sender(assoc.client.get(), size, 2 * count);
  StreamOrder order;
  Row base = RecvmsgLoop(assoc.peeled.get(), size, count, &order);

  CountingHandler handler(count, &order);
  auto worker = Worker::Create(options, &handler);
  if (!worker.ok()) Die("worker: %s", worker.status().ToString().c_str());
  const WorkerStats s0 = (*worker)->Snapshot();
  const absl::Duration cpu0 = (*worker)->ThreadCpuTime();
  const absl::Time t0 = absl::Now();
  if (!(*worker)->Adopt(std::move(assoc.peeled), assoc.id, 0).ok()) Die("adopt failed");
  if (!handler.done_.WaitFor(absl::Minutes(10))) Die("worker did not receive %llu messages", static_cast<unsigned long long>(count));
  Row uring{name, size, count};
  uring.seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  uring.cpu_seconds = absl::ToDoubleSeconds((*worker)->ThreadCpuTime() - cpu0);
  const WorkerStats s1 = (*worker)->Snapshot();
  uring.syscalls = s1.Syscalls() - s0.Syscalls();
  uring.copies = s1.totals.reassemblies - s0.totals.reassemblies;
  uring.cqes_per_enter = double(s1.cqes - s0.cqes) / double(std::max<uint64_t>(1, s1.enter_calls - s0.enter_calls));
  sender.Join();
  (*worker)->Stop();
  if (order.violations() > 0) Die("%llu per-stream order violations", static_cast<unsigned long long>(order.violations()));
  return {base, uring};
}

void Print(const Row& r) {
  std::printf("%6zu  %-22s %8llu %11.0f %12.3f %11.3f %12.1f %10.1f\n", r.size, r.design.c_str(),
              (unsigned long long)r.messages, r.messages / r.seconds, double(r.syscalls) / r.messages,
              double(r.copies) / r.messages, 1e6 * r.cpu_seconds / r.messages, r.cqes_per_enter);
}

int Main(int argc, char** argv) {
  Flags flags(argc, argv);
  const uint64_t small = flags.Get("messages_1k", 20000);
  const uint64_t large = flags.Get("messages_16k", 4000);
  const unsigned batch = static_cast<unsigned>(flags.Get("wait_batch", 64));
  const int64_t wait_us = static_cast<int64_t>(flags.Get("wait_timeout_us", 2000));
  flags.CheckAllUsed();

  WorkerOptions throughput;
  throughput.buffer_size = 32768;  // a 16 KiB message fits one buffer: no copy
  throughput.wait_batch = batch;
  throughput.wait_timeout = absl::Microseconds(wait_us);
  WorkerOptions latency = throughput;
  latency.wait_batch = 1;
  const std::string batch_name = absl::StrFormat("uring batch=%u/%dus", batch, wait_us);

  std::printf("receive benchmark: blocking recvmsg loop vs io_uring worker, same peeled socket and load\n");
  std::printf("%6s  %-22s %8s %11s %12s %11s %12s %10s\n", "bytes", "design", "msgs", "msgs/s",
              "syscalls/msg", "copies/msg", "cpu_us/msg", "cqe/enter");
  std::vector<std::pair<Row, Row>> pairs;
  for (auto [size, count] : {std::pair<size_t, uint64_t>{1024, small}, {16384, large}}) {
    for (bool batched : {true, false}) {
      auto p = RunPair(size, count, batched ? throughput : latency,
                       batched ? batch_name.c_str() : "uring latency (1)");
      Print(p.first);
      Print(p.second);
      std::printf("%6s  ratio uring/loop: msgs/s x%.2f, syscalls/msg x%.3f, cpu/msg x%.2f\n", "",
                  (p.second.messages / p.second.seconds) / (p.first.messages / p.first.seconds),
                  (double(p.second.syscalls) / p.second.messages) / (double(p.first.syscalls) / p.first.messages),
                  (p.second.cpu_seconds / p.second.messages) / (p.first.cpu_seconds / p.first.messages));
    }
  }
  return 0;
}

}  // namespace
}  // namespace sctpdp::perf

int main(int argc, char** argv) { return sctpdp::perf::Main(argc, argv); }
