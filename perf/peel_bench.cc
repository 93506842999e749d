// Peel benchmark: how long from the control thread's decision to move an
// association to the first message the application handles on its worker
// (and to the worker's adoption), median and p99 over many associations,
// under continuous load. Run it where SCTP is:
//
//   bazel build //perf:peel_bench && tools/sctpvm -- bazel-bin/perf/peel_bench
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "control/data_plane.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/sctp_socket.h"
#include "perf/bench_util.h"

namespace sctpdp::perf {
namespace {

class Timing : public DataPlaneHandler {
 public:
  void OnMessage(DataPlane& dp, const MessageView& m) override {
    if (m.assoc.worker() >= dp.workers()) return;  // still on the control thread
    std::lock_guard<std::mutex> l(mu_);
    if (!first_.insert(m.assoc_id).second) return;
    if (auto info = dp.Association(m.assoc_id)) {
      const absl::Time now = absl::Now();
      to_message_us_.push_back(absl::ToDoubleMicroseconds(now - info->move_decided_at));
      to_adopt_us_.push_back(absl::ToDoubleMicroseconds(info->moved_at - info->move_decided_at));
    }
  }
  size_t moved() {
    std::lock_guard<std::mutex> l(mu_);
    return first_.size();
  }
  std::mutex mu_;
  std::set<sctp_assoc_t> first_;
  std::vector<double> to_message_us_, to_adopt_us_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

// Paced load on every association (`rate` msg/s each) until `stop`:
// steady traffic that leaves the CPUs to the data plane, so the figures are
// the move's, not the scheduler's. Non-blocking: a client whose window is
// full is skipped this round instead of stalling the others on its thread.
std::vector<std::thread> StartSenders(const std::vector<Fd>& clients, int senders, int rate,
                                      const std::atomic<bool>& stop) {
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t) {
    threads.emplace_back([&clients, &stop, senders, rate, t] {
      const std::string payload(200, 'p');
      const absl::Duration period = absl::Seconds(1) / rate;
      absl::Time next = absl::Now();
      for (uint32_t seq = 0; !stop.load(); ++seq) {
        next += period;
        absl::SleepFor(next - absl::Now());
        for (size_t i = t; i < clients.size(); i += senders) {
          SendWithInfo(clients[i].get(), payload, 0, seq, 0, MSG_DONTWAIT);
        }
      }
    });
  }
  return threads;
}

void Report(Timing& timing, int count, int rate, uint64_t peeled) {
  std::lock_guard<std::mutex> l(timing.mu_);
  std::printf("peel benchmark: %d associations at %d msg/s each (peel threshold 20), %llu peeled\n", count, rate,
              (unsigned long long)peeled);
  std::printf("%-40s %10s %10s %10s\n", "interval", "median_us", "p99_us", "samples");
  std::printf("%-40s %10.0f %10.0f %10zu\n", "decision -> worker adopts (OnMoved)", Percentile(timing.to_adopt_us_, 0.5),
              Percentile(timing.to_adopt_us_, 0.99), timing.to_adopt_us_.size());
  std::printf("%-40s %10.0f %10.0f %10zu\n", "decision -> first message on the worker",
              Percentile(timing.to_message_us_, 0.5), Percentile(timing.to_message_us_, 0.99),
              timing.to_message_us_.size());
}

int Main(int argc, char** argv) {
  Flags flags(argc, argv);
  const int count = static_cast<int>(flags.Get("associations", 64));
  const int senders = static_cast<int>(flags.Get("senders", 2));
  const int rate = static_cast<int>(flags.Get("rate", 40));  // messages/s per association
  flags.CheckAllUsed();
  Timing timing;
  DataPlaneOptions o;
  o.worker_cpus = {-1, -1};
  o.hotness.peel_messages_per_sec = 20;
  o.hotness.sustain = absl::ZeroDuration();
  o.evaluate_interval = absl::Milliseconds(10);
  auto dp = DataPlane::Create(o, &timing);
  if (!dp.ok()) Die("%s", dp.status().ToString().c_str());
  if (absl::Status s = (*dp)->Start(); !s.ok()) Die("%s", s.ToString().c_str());
  absl::StatusOr<SocketAddress> server = MakeAddress("127.0.0.1", (*dp)->port());
  std::vector<Fd> clients;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<Fd> c = OpenSctpSocket({.type = SOCK_STREAM, .streams = 4, .events = false});
    if (!c.ok()) Die("%s", c.status().ToString().c_str());
    if (connect(c->get(), server->get(), server->length) != 0) Die("connect: %s", std::strerror(errno));
    clients.push_back(*std::move(c));
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads = StartSenders(clients, senders, rate, stop);
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (timing.moved() < static_cast<size_t>(count) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));  // a benchmark's progress poll, not a test
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  const DataPlaneStats s = (*dp)->Snapshot();
  (*dp)->Stop();
  Report(timing, count, rate, s.peeled);
  return timing.moved() == static_cast<size_t>(count) ? 0 : 1;
}

}  // namespace
}  // namespace sctpdp::perf

int main(int argc, char** argv) { return sctpdp::perf::Main(argc, argv); }
