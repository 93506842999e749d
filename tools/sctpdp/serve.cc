// `sctpdp serve`: the appliance daemon on one of the engines (uring, the
// data plane; epoll and threads, the baselines): sink, echo or verify what
// arrives; JSON stats lines and a final summary with syscalls and CPU.
// With --connect (uring only) it is an appliance that originates: it sets
// up an association to a peer (reconnecting unless --no-reconnect) and
// serves it like an accepted one; it listens too only when --listen says so.
#include "tools/sctpdp/serve.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/sctpdp/cpu.h"
#include "tools/sctpdp/engine.h"
#include "tools/sctpdp/flags.h"
#include "tools/sctpdp/json_line.h"
#include "tools/sctpdp/kernel_report.h"
#include "tools/sctpdp/metrics_server.h"
#include "tools/sctpdp/second_signal.h"
#include "tools/sctpdp/sequence_checker.h"
#include "tools/sctpdp/tuning_flags.h"

namespace sctpdp {
namespace {

struct ServeFlags {
  std::vector<Endpoint> listen = {{"127.0.0.1", 2905}};
  std::string mode = "sink";
  int64_t ppid = 0;  // verify: the PPID of every message, its sequence number in the payload (--ppid given)
  std::string engine = "uring";
  std::vector<int> cpus;
  int64_t workers = 0;
  double peel_rate = 500;
  bool peel_all = false;
  absl::Duration sustain = absl::Milliseconds(500);
  absl::Duration coalesce = absl::Milliseconds(2);
  int64_t coalesce_batch = 2;
  std::string coalesce_by = "best";
  bool bundle_sends = true;
  absl::Duration stats_interval = absl::InfiniteDuration();
  absl::Duration duration = absl::InfiniteDuration();
  absl::Duration drain = absl::Seconds(2);
  int64_t max_associations = 100000;
  int64_t max_associations_per_peer = 0;
  uint64_t max_message = 1 << 20;
  int64_t streams = 16;
  uint64_t rcvbuf = 0, sndbuf = 0;
  int64_t metrics_port = -1;  // -1: off; 0: any free port
  MultiEndpoint connect;      // no addresses: accept only
  std::vector<std::string> local;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration kernel_stats_interval = absl::Seconds(1);
  absl::Duration stall_after = absl::Seconds(30);
  int64_t kernel_top = 10;
  bool reconnect = true;
  TuningFlags tuning;
};

double PerMessage(uint64_t n, uint64_t messages) { return messages ? double(n) / double(messages) : 0.0; }

Json StatsJson(const char* kind, const Engine& engine, MessageSink& sink, const std::string& engine_name, bool verify,
               bool connecting, absl::Duration elapsed, Cpu cpu) {
  const EngineStats s = engine.Snapshot();
  Json j = {{"type", kind},
            {"engine", engine_name},
            {"elapsed_s", Rounded(absl::ToDoubleSeconds(elapsed), 3)},
            {"cpu_s", Rounded(cpu.total(), 3)},
            {"cpu_user_s", Rounded(cpu.user, 3)},
            {"cpu_sys_s", Rounded(cpu.sys, 3)},
            {"sleeps_per_message", Rounded(PerMessage(static_cast<uint64_t>(cpu.sleeps), s.messages_in), 4)},
            {"threads", engine.threads()},
            {"associations", s.associations},
            {"peeled", s.peeled},
            {"messages_in", s.messages_in},
            {"bytes_in", s.bytes_in},
            {"messages_out", s.messages_out},
            {"syscalls", s.syscalls},
            {"syscalls_per_message", Rounded(PerMessage(s.syscalls, s.messages_in), 4)},
            {"control_syscalls", s.control_syscalls},
            {"control_messages_in", s.control_messages_in},
            {"copied_bytes", s.copied_bytes},
            {"copies_per_message", Rounded(PerMessage(s.copies, s.messages_in), 4)},
            {"move_copies", s.move_copies},
            {"retain_refused", s.retain_refused},
            {"shared_locks_per_message", Rounded(PerMessage(s.shared_locks, s.messages_in), 5)},
            {"naps", s.naps},
            {"gathers", s.gathers},
            {"errors", s.errors},
            {"echo_refused", sink.echo_refused()},
            {"oversize_messages", s.oversize_messages},
            {"rejected", s.rejected},
            {"discarded", s.discarded},
            {"replies_dropped", s.replies_dropped},
            {"restarts", sink.restarts()}};
  if (verify) {
    const SequenceCounts c = sink.counts();
    j["verified"] = c.messages;
    j["gaps"] = c.gaps;
    j["duplicates"] = c.duplicates;
    j["reorders"] = c.reorders;
    j["malformed"] = c.malformed;
  }
  if (connecting) {
    j["connects"] = s.connects;
    j["connect_failures"] = s.connect_failures;
  }
  if (s.kernel) j["kernel"] = KernelReportJson(*s.kernel);
  return j;
}

// Prometheus text exposition of the engine's counters.
std::string Metrics(const Engine& engine, MessageSink& sink, const std::string& name, bool verify, bool connecting) {
  const EngineStats s = engine.Snapshot();
  std::string out;
  auto metric = [&](const char* id, const char* type, const char* help, double value) {
    absl::StrAppendFormat(&out, "# HELP sctpdp_%s %s\n# TYPE sctpdp_%s %s\nsctpdp_%s{engine=\"%s\"} %.17g\n", id,
                          help, id, type, id, name, value);
  };
  metric("associations", "gauge", "Live associations.", s.associations);
  metric("peeled_total", "counter", "Associations moved to their own socket.", s.peeled);
  metric("messages_in_total", "counter", "Messages received.", s.messages_in);
  metric("bytes_in_total", "counter", "Payload bytes received.", s.bytes_in);
  metric("messages_out_total", "counter", "Messages sent.", s.messages_out);
  metric("syscalls_total", "counter", "System calls on the serving path.", s.syscalls);
  metric("copied_bytes_total", "counter", "Received bytes copied in user space (reassembly).", s.copied_bytes);
  metric("copies_total", "counter", "Messages copied in user space (reassembled or copied out).", s.copies);
  metric("move_copies_total", "counter", "Of those, waiting for an association that moved.", s.move_copies);
  metric("retain_refused_total", "counter", "Echoes not kept in their receive buffer (retain budget): copied.",
         s.retain_refused);
  metric("shared_locks_total", "counter", "Shared mutex acquisitions by the data plane.", s.shared_locks);
  metric("errors_total", "counter", "Errors.", s.errors);
  metric("oversize_messages_total", "counter", "Messages over --max-message: association aborted.",
         s.oversize_messages);
  metric("rejected_total", "counter", "Associations over --max-associations: aborted.", s.rejected);
  metric("discarded_total", "counter", "Messages received and never delivered.", s.discarded);
  metric("replies_dropped_total", "counter", "Echoes accepted, then dropped.", s.replies_dropped);
  metric("restarts_total", "counter", "Peers that restarted an association (SCTP_RESTART).", sink.restarts());
  if (verify) {
    const SequenceCounts c = sink.counts();
    metric("verify_gaps_total", "counter", "Sequence numbers skipped.", c.gaps);
    metric("verify_duplicates_total", "counter", "Messages seen twice.", c.duplicates);
    metric("verify_reorders_total", "counter", "Messages after a later one.", c.reorders);
    metric("verify_malformed_total", "counter", "Messages without a sequence number where one should be.",
           c.malformed);
  }
  if (connecting) {
    metric("connects_total", "counter", "Associations set up by --connect.", s.connects);
    metric("connect_failures_total", "counter", "--connect attempts that failed.", s.connect_failures);
  }
  if (s.kernel) AppendKernelMetrics(*s.kernel, name, out);
  return out;
}

void DefineFlags(FlagParser& p, ServeFlags& f) {
  p.Endpoints("listen", &f.listen, "ADDR:PORT[,ADDR:PORT...]: local addresses (one port; 0 picks one)");
  p.Choice("mode", &f.mode, {"sink", "echo", "verify"},
           "sink counts, echo sends every message back, verify checks per-stream sequence numbers (PPID)");
  p.Int("ppid", &f.ppid, 0, 0xffffffff,
        "verify: every message's PPID is this and its sequence number is in the payload's first 4 bytes, "
        "network order (load --ppid=N); default: the PPID is the sequence number");
  p.Choice("engine", &f.engine, {"uring", "epoll", "threads"},
           "uring: the data plane; epoll: one thread, epoll + recvmsg on the one-to-many socket; "
           "threads: every association peeled to a thread with blocking recvmsg");
  p.Cpus("cpus", &f.cpus, "CPU list for the workers, one worker each (e.g. 0-3)");
  p.Int("workers", &f.workers, 0, 254, "number of workers, not pinned (0: one per allowed CPU)");
  p.Double("peel-rate", &f.peel_rate, 0.001, 1e9, "messages/s that make an association hot");
  p.Duration("sustain", &f.sustain, "how long above --peel-rate before it moves");
  p.Bool("peel-all", &f.peel_all, "move every association to a worker at once");
  p.Duration("coalesce", &f.coalesce, absl::ZeroDuration(), absl::Milliseconds(100),
             "uring: under load a worker sleeps this long between reaps instead of waking per message; 0: off");
  p.Int("coalesce-batch", &f.coalesce_batch, 1, 1 << 20, "uring: completions in one batch that count as load");
  p.Choice("coalesce-by", &f.coalesce_by, {"best", "nap"},
           "uring: best: inside io_uring_enter with a minimum timeout where the kernel has it (6.12), else naps; "
           "nap: naps outside io_uring_enter on every kernel (to compare the two)");
  p.Bool("bundle-sends", &f.bundle_sends,
         "uring: a send chain's messages to one hot association go with MSG_MORE but the last, so the kernel "
         "bundles them into full packets (see WorkerOptions::bundle_sends); --no-bundle-sends: a packet each");
  p.Duration("stats-interval", &f.stats_interval, "print a JSON stats line this often");
  p.Duration("duration", &f.duration, "stop after this long (default: at SIGINT/SIGTERM)");
  p.Duration("drain", &f.drain, absl::ZeroDuration(), absl::Hours(1),
             "uring: stopping, go on this long at most sending what is queued and reading what peers already "
             "sent (acknowledged by the kernel) before closing; a second signal exits at once (the baselines read "
             "until the kernel holds nothing more)");
  p.Int("max-associations", &f.max_associations, 1, 10000000, "more are aborted, counted");
  p.Int("max-associations-per-peer", &f.max_associations_per_peer, 0, 10000000,
        "at most this many at once from one primary peer address, more are aborted, counted (0: no limit)");
  p.Size("max-message", &f.max_message, 1, 1 << 30, "largest message; bigger aborts its association");
  p.Int("streams", &f.streams, 1, 65535, "inbound and outbound streams");
  p.Size("rcvbuf", &f.rcvbuf, 0, 1 << 30,
         "SO_RCVBUF of the listening socket (0: the engine's default: 4 MiB for uring, the kernel's for the "
         "baselines); past net.core.rmem_max it is forced where permitted");
  p.Int("metrics-port", &f.metrics_port, -1, 65535,
        "serve Prometheus metrics on 127.0.0.1:PORT/metrics (0: any free port; -1: off)");
  p.Size("sndbuf", &f.sndbuf, 0, 1 << 30, "SO_SNDBUF of the listening socket (0: as --rcvbuf)");
  p.MultiEndpoint("connect", &f.connect,
                  "ADDR[,ADDR...]:PORT: originate an association to this peer (sctp_connectx to every address; IPv6 "
                  "in brackets: [::1]:2905) and sink, echo or verify on it like an accepted one; uring only. "
                  "Nothing is accepted unless --listen is given too");
  p.Addresses("local", &f.local,
              "ADDR[,ADDR...]: --connect's local addresses, IPv4 and IPv6 mixed as needed (sctp_bindx; default: "
              "the kernel's choice)");
  p.Duration("connect-timeout", &f.connect_timeout, "--connect: an attempt not up after this long counts as failed");
  p.Bool("reconnect", &f.reconnect,
         "--connect: set the association up again after the peer or the network ends it or an attempt fails "
         "(capped exponential backoff with jitter, 100ms to 30s); --no-reconnect: serve ends with it (exit 3 if it "
         "never came up)");
  f.tuning.Define(p);
  p.Duration("kernel-stats-interval", &f.kernel_stats_interval, absl::ZeroDuration(), absl::Hours(1),
             "uring: read every association's SCTP_STATUS, SCTP_GET_ASSOC_STATS and paths this often, on its "
             "own thread (0: never); in the stats lines and metrics as \"kernel\"");
  p.Duration("stall-after", &f.stall_after, absl::ZeroDuration(), absl::Hours(24),
             "uring: report an association whose peer window stays shut, or whose data stays unacknowledged "
             "without a SACK, this long (0: never)");
  p.Int("kernel-top", &f.kernel_top, 0, 1000,
        "uring: how many of the busiest associations the stats lines and metrics show one by one");
}

// The engine's configuration from the flags; nothing if they disagree
// (after a one-line error). `listen_given`: --listen was on the command line.
std::optional<ServeConfig> ConfigOf(const ServeFlags& f, bool listen_given) {
  const bool connecting = !f.connect.addresses.empty();
  if (!f.local.empty() && !connecting) {
    std::fprintf(stderr, "sctpdp serve: --local needs --connect\n");
    return std::nullopt;
  }
  if (connecting && f.engine != "uring") {
    std::fprintf(stderr, "sctpdp serve: --connect needs --engine=uring (the %s baseline only accepts)\n",
                 f.engine.c_str());
    return std::nullopt;
  }
  for (const Endpoint& e : f.listen) {
    if (e.port != f.listen[0].port) {
      std::fprintf(stderr, "sctpdp serve: --listen: every address needs the same port\n");
      return std::nullopt;
    }
  }
  absl::StatusOr<SctpTuning> tuning = f.tuning.Tuning();
  if (!tuning.ok()) {
    std::fprintf(stderr, "sctpdp serve: %s\n", std::string(tuning.status().message()).c_str());
    return std::nullopt;
  }
  ServeConfig config;
  config.listener.tuning = *tuning;
  config.listener.addresses.clear();
  for (const Endpoint& e : f.listen) config.listener.addresses.push_back(e.address);
  config.listener.port = f.listen[0].port;
  config.listener.streams = static_cast<uint16_t>(f.streams);
  config.listener.rcvbuf = static_cast<int>(f.rcvbuf);
  config.listener.sndbuf = static_cast<int>(f.sndbuf);
  config.mode = f.mode;
  config.worker_cpus = f.cpus;
  if (f.cpus.empty() && f.workers > 0) config.worker_cpus.assign(f.workers, -1);
  config.max_message = f.max_message;
  config.max_associations = static_cast<size_t>(f.max_associations);
  config.max_associations_per_peer = static_cast<size_t>(f.max_associations_per_peer);
  config.peel_rate = f.peel_rate;
  config.sustain = f.sustain;
  config.peel_all = f.peel_all;
  config.coalesce = f.coalesce;
  config.coalesce_batch = static_cast<unsigned>(f.coalesce_batch);
  config.coalesce_by_naps = f.coalesce_by == "nap";
  config.bundle_sends = f.bundle_sends;
  config.drain = f.drain;
  config.listen = !connecting || listen_given;
  config.connect = f.connect.addresses;
  config.connect_port = f.connect.port;
  config.local = f.local;
  config.connect_timeout = f.connect_timeout;
  config.reconnect = f.reconnect;
  config.kernel_stats = {.interval = f.kernel_stats_interval, .stall_after = f.stall_after};
  config.kernel_top = static_cast<size_t>(f.kernel_top);
  return config;
}

// "10.0.0.1,[::1]:2905 from 127.0.0.1,::1" for the start line.
std::string ConnectTarget(const ServeFlags& f) {
  std::vector<std::string> remote;
  for (const std::string& a : f.connect.addresses) {
    remote.push_back(a.find(':') != std::string::npos ? "[" + a + "]" : a);
  }
  return absl::StrCat(absl::StrJoin(remote, ","), ":", f.connect.port, " from ",
                      f.local.empty() ? std::string("*") : absl::StrJoin(f.local, ","));
}

// Until --duration or SIGINT/SIGTERM: a JSON stats line every
// --stats-interval, and on a terminal a live status line every second.
void ServeUntilStopped(const ServeFlags& f, const Engine& engine, MessageSink& sink, const sigset_t& stop,
                       absl::Time start, Cpu cpu0) {
  const absl::Time end = f.duration == absl::InfiniteDuration() ? absl::InfiniteFuture() : start + f.duration;
  const bool connecting = !f.connect.addresses.empty();
  // --connect --no-reconnect ends with its connection: looked at this often.
  const absl::Duration poll = connecting && !f.reconnect ? absl::Milliseconds(50) : absl::InfiniteDuration();
  absl::Time next_stats = start + f.stats_interval;
  const bool live = isatty(STDERR_FILENO);
  absl::Time next_status = live ? start + absl::Seconds(1) : absl::InfiniteFuture();
  uint64_t last_in = 0;
  while (true) {
    if (engine.ConnectionClosed()) break;
    const absl::Time wake =
        std::min({end, next_stats, next_status, poll == absl::InfiniteDuration() ? end : absl::Now() + poll});
    timespec ts = absl::ToTimespec(wake == absl::InfiniteFuture() ? absl::Hours(24) : wake - absl::Now());
    if (ts.tv_sec < 0) ts = {0, 0};
    if (sigtimedwait(&stop, nullptr, &ts) > 0) break;  // SIGINT/SIGTERM
    const absl::Time now = absl::Now();
    if (now >= end) break;
    if (now >= next_status) {
      const EngineStats st = engine.Snapshot();
      std::fprintf(stderr, "\r%s: %llu associations (%llu peeled), %llu msgs in (%llu/s), %.3f syscalls/msg   ",
                   f.engine.c_str(), (unsigned long long)st.associations, (unsigned long long)st.peeled,
                   (unsigned long long)st.messages_in, (unsigned long long)(st.messages_in - last_in),
                   PerMessage(st.syscalls, st.messages_in));
      last_in = st.messages_in;
      next_status = now + absl::Seconds(1);
    }
    if (now >= next_stats) {
      PrintJsonLine(StatsJson("stats", engine, sink, f.engine, f.mode == "verify", connecting, now - start,
                              Cpu::Now() - cpu0));
      next_stats = now + f.stats_interval;
    }
  }
  if (live) std::fprintf(stderr, "\n");
}

}  // namespace

int RunServe(int argc, char** argv) {
  ServeFlags f;
  FlagParser p(
      "usage: sctpdp serve [flags]\n"
      "       sctpdp serve --connect=ADDR[,ADDR]:PORT [--local=ADDR[,ADDR]] [flags]\n"
      "Runs the SCTP data plane: a one-to-many listener; hot associations move to per-core io_uring workers.\n"
      "With --connect it originates: one association to the peer, served like an accepted one (cold on its\n"
      "one-to-many socket, peeled to a worker when hot), set up again after it ends unless --no-reconnect.");
  DefineFlags(p, f);
  if (std::optional<int> exit = p.ParseCommand(argc, argv, 2, "sctpdp serve")) return *exit;
  const std::optional<ServeConfig> config = ConfigOf(f, p.given("listen"));
  if (!config) return kExitUsage;
  const sigset_t stop = BlockStopSignals();  // SIGINT/SIGTERM: blocked in every thread, taken by sigtimedwait
  const bool connecting = !f.connect.addresses.empty();
  if (p.given("ppid") && f.mode != "verify") {
    std::fprintf(stderr, "sctpdp serve: --ppid is for --mode=verify (where the sequence numbers are)\n");
    return kExitUsage;
  }
  MessageSink sink(f.mode, p.given("ppid") ? std::optional<uint32_t>(static_cast<uint32_t>(f.ppid)) : std::nullopt);
  auto engine = MakeEngine(f.engine, *config, &sink);
  if (!engine.ok()) {
    std::fprintf(stderr, "sctpdp serve: %s\n", std::string(engine.status().message()).c_str());
    return kExitUsage;
  }
  if (absl::Status s = (*engine)->Start(); !s.ok()) {
    std::fprintf(stderr, "sctpdp serve: %s\n", s.ToString().c_str());
    if (absl::StrContains(s.message(), "bind")) return kExitAddress;
    return s.code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  std::optional<SecondSignal> stopping;  // destroyed last: a second signal ends any part of the stop
  MetricsServer metrics;
  const std::optional<int> metrics_port =
      metrics.Start(f.metrics_port, [&] { return Metrics(**engine, sink, f.engine, f.mode == "verify", connecting); });
  if (!metrics_port) {
    (*engine)->Stop();
    return kExitAddress;
  }
  const std::string where =
      !connecting ? absl::StrCat("listening on port ", (*engine)->port())
      : config->listen ? absl::StrCat("listening on port ", (*engine)->port(), ", connecting to ", ConnectTarget(f))
                       : absl::StrCat("connecting to ", ConnectTarget(f));
  std::printf("sctpdp serve: %s, engine %s, mode %s, %zu threads%s\n", where.c_str(), f.engine.c_str(),
              f.mode.c_str(), (*engine)->threads(),
              *metrics_port >= 0 ? absl::StrCat(", metrics on 127.0.0.1:", *metrics_port).c_str() : "");
  std::fflush(stdout);
  const absl::Time start = absl::Now();
  const Cpu cpu0 = Cpu::Now();
  ServeUntilStopped(f, **engine, sink, stop, start, cpu0);
  stopping.emplace("sctpdp serve");
  (*engine)->Stop();
  PrintJsonLine(StatsJson("summary", **engine, sink, f.engine, f.mode == "verify", connecting, absl::Now() - start,
                          Cpu::Now() - cpu0));
  if (connecting && (*engine)->ConnectionClosed() && (*engine)->Snapshot().connects == 0) {
    std::fprintf(stderr, "sctpdp serve: could not connect to %s: %s\n", ConnectTarget(f).c_str(),
                 (*engine)->ConnectError().c_str());
    return kExitAddress;
  }
  return f.mode == "verify" && !sink.counts().clean() ? kExitFailure : kExitOk;
}

}  // namespace sctpdp
