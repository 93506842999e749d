// `sctpdp serve`: the appliance daemon on the data plane (engine uring):
// sink, echo or verify what arrives; JSON stats lines and a final summary.
#include "tools/sctpdp/serve.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/data_plane.h"
#include "tools/sctpdp/flags.h"
#include "tools/sctpdp/sequence_checker.h"

namespace sctpdp {
namespace {

struct ServeFlags {
  std::vector<Endpoint> listen = {{"127.0.0.1", 2905}};
  std::string mode = "sink";
  std::string engine = "uring";
  std::vector<int> cpus;
  int64_t workers = 0;
  double peel_rate = 500;
  bool peel_all = false;
  absl::Duration sustain = absl::Milliseconds(500);
  absl::Duration stats_interval = absl::InfiniteDuration();
  absl::Duration duration = absl::InfiniteDuration();
  int64_t max_associations = 100000;
  uint64_t max_message = 1 << 20;
  int64_t streams = 16;
};

class Server : public DataPlaneHandler {
 public:
  explicit Server(const std::string& mode) : echo_(mode == "echo"), verify_(mode == "verify") {}

  void OnMessage(DataPlane& dp, const MessageView& m) override {
    if (verify_) {
      std::lock_guard<std::mutex> l(mu_);
      checker_.Observe(m.assoc_id, m.stream, m.ppid);
    }
    if (echo_ && dp.Send(m.assoc_id, m.stream, m.ppid, m.payload) != SendResult::kOk) {
      echo_refused_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  void OnError(DataPlane&, sctp_assoc_t id, const absl::Status& e) override {
    errors_.fetch_add(1, std::memory_order_relaxed);
    std::fprintf(stderr, "sctpdp serve: association %d: %s\n", id, e.ToString().c_str());
  }

  SequenceCounts counts() {
    std::lock_guard<std::mutex> l(mu_);
    return checker_.counts();
  }
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  uint64_t echo_refused() const { return echo_refused_.load(std::memory_order_relaxed); }

 private:
  const bool echo_, verify_;
  std::mutex mu_;
  SequenceChecker checker_;  // guarded by mu_
  std::atomic<uint64_t> errors_{0}, echo_refused_{0};
};

std::string StatsJson(const char* kind, DataPlane& dp, Server& server, bool verify, absl::Duration elapsed) {
  const DataPlaneStats s = dp.Snapshot();
  const uint64_t in = s.control.totals.messages_in + s.workers.totals.messages_in;
  const uint64_t bytes = s.control.totals.bytes_in + s.workers.totals.bytes_in;
  const uint64_t syscalls = s.control.Syscalls() + s.workers.Syscalls();
  std::string out = absl::StrFormat(
      "{\"type\":\"%s\",\"elapsed_s\":%.3f,\"associations\":%d,\"on_workers\":%d,\"peeled\":%d,"
      "\"messages_in\":%d,\"bytes_in\":%d,\"messages_out\":%d,\"syscalls\":%d,\"syscalls_per_message\":%.4f,"
      "\"copied_bytes\":%d,\"enobufs\":%d,\"rejected\":%d,\"errors\":%d,\"echo_refused\":%d",
      kind, absl::ToDoubleSeconds(elapsed), s.associations, s.on_workers, s.peeled, in, bytes,
      s.control.totals.messages_out + s.workers.totals.messages_out, syscalls,
      in ? double(syscalls) / double(in) : 0.0, s.control.totals.copied_bytes + s.workers.totals.copied_bytes,
      s.control.enobufs + s.workers.enobufs, s.rejected, server.errors(), server.echo_refused());
  if (verify) {
    const SequenceCounts c = server.counts();
    absl::StrAppendFormat(&out, ",\"verified\":%d,\"gaps\":%d,\"duplicates\":%d,\"reorders\":%d", c.messages, c.gaps,
                          c.duplicates, c.reorders);
  }
  return out + "}";
}

}  // namespace

int RunServe(int argc, char** argv) {
  ServeFlags f;
  FlagParser p(
      "usage: sctpdp serve [flags]\n"
      "Runs the SCTP data plane: a one-to-many listener; hot associations move to per-core io_uring workers.");
  p.Endpoints("listen", &f.listen, "ADDR:PORT[,ADDR:PORT...]: local addresses (one port; 0 picks one)");
  p.Choice("mode", &f.mode, {"sink", "echo", "verify"},
           "sink counts, echo sends every message back, verify checks per-stream sequence numbers (PPID)");
  p.Choice("engine", &f.engine, {"uring"}, "uring: the data plane");
  p.Cpus("cpus", &f.cpus, "CPU list for the workers, one worker each (e.g. 0-3)");
  p.Int("workers", &f.workers, 0, 255, "number of workers, not pinned (0: one per allowed CPU)");
  p.Double("peel-rate", &f.peel_rate, 0.001, 1e9, "messages/s that make an association hot");
  p.Duration("sustain", &f.sustain, "how long above --peel-rate before it moves");
  p.Bool("peel-all", &f.peel_all, "move every association to a worker at once");
  p.Duration("stats-interval", &f.stats_interval, "print a JSON stats line this often");
  p.Duration("duration", &f.duration, "stop after this long (default: at SIGINT/SIGTERM)");
  p.Int("max-associations", &f.max_associations, 1, 10000000, "more are aborted, counted");
  p.Size("max-message", &f.max_message, 1, 1 << 30, "largest message; bigger aborts its association");
  p.Int("streams", &f.streams, 1, 65535, "inbound and outbound streams");
  if (absl::Status s = p.Parse(argc, argv, 2); !s.ok()) {
    std::fprintf(stderr, "sctpdp serve: %s\n", std::string(s.message()).c_str());
    return kExitUsage;
  }
  if (p.help_requested()) {
    std::printf("%s", p.Help().c_str());
    return kExitOk;
  }
  for (const Endpoint& e : f.listen) {
    if (e.port != f.listen[0].port) {
      std::fprintf(stderr, "sctpdp serve: --listen: every address needs the same port\n");
      return kExitUsage;
    }
  }
  DataPlaneOptions o;
  o.listener.addresses.clear();
  for (const Endpoint& e : f.listen) o.listener.addresses.push_back(e.address);
  o.listener.port = f.listen[0].port;
  o.listener.streams = static_cast<uint16_t>(f.streams);
  o.worker_cpus = f.cpus;
  if (f.cpus.empty() && f.workers > 0) o.worker_cpus.assign(f.workers, -1);
  o.worker.max_message_size = f.max_message;
  o.control.max_message_size = f.max_message;
  o.hotness.peel_messages_per_sec = f.peel_rate;
  o.hotness.sustain = f.sustain;
  o.hotness.peel_all = f.peel_all;
  o.max_associations = static_cast<size_t>(f.max_associations);

  sigset_t stop;  // SIGINT/SIGTERM: blocked in every thread, taken by sigtimedwait
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  Server server(f.mode);
  auto dp = DataPlane::Create(o, &server);
  if (!dp.ok()) {
    std::fprintf(stderr, "sctpdp serve: %s\n", std::string(dp.status().message()).c_str());
    return kExitUsage;
  }
  if (absl::Status s = (*dp)->Start(); !s.ok()) {
    std::fprintf(stderr, "sctpdp serve: %s\n", s.ToString().c_str());
    return s.code() == absl::StatusCode::kUnavailable || absl::StrContains(s.message(), "bind") ? kExitAddress
                                                                                                : kExitFailure;
  }
  std::printf("sctpdp serve: listening on port %u, engine %s, mode %s, %zu workers\n", (*dp)->port(),
              f.engine.c_str(), f.mode.c_str(), (*dp)->workers());
  std::fflush(stdout);
  const absl::Time start = absl::Now();
  const absl::Time end = f.duration == absl::InfiniteDuration() ? absl::InfiniteFuture() : start + f.duration;
  absl::Time next_stats = start + f.stats_interval;
  while (true) {
    const absl::Time wake = std::min(end, next_stats);
    timespec ts = absl::ToTimespec(wake == absl::InfiniteFuture() ? absl::Hours(24) : wake - absl::Now());
    if (ts.tv_sec < 0) ts = {0, 0};
    if (sigtimedwait(&stop, nullptr, &ts) > 0) break;  // SIGINT/SIGTERM
    const absl::Time now = absl::Now();
    if (now >= end) break;
    if (now >= next_stats) {
      std::printf("%s\n", StatsJson("stats", **dp, server, f.mode == "verify", now - start).c_str());
      std::fflush(stdout);
      next_stats = now + f.stats_interval;
    }
  }
  (*dp)->Stop();
  std::printf("%s\n", StatsJson("summary", **dp, server, f.mode == "verify", absl::Now() - start).c_str());
  std::fflush(stdout);
  return f.mode == "verify" && !server.counts().clean() ? kExitFailure : kExitOk;
}

}  // namespace sctpdp
