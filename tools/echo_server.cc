// An SCTP echo appliance on the DataPlane API: every message goes back on its
// stream with its PPID, wherever its association lives (control or worker),
// from the buffer it arrived in, in order under backpressure (ReplyQueue).
//   echo_server [PORT]     (default 2905; 0: any free port)
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>

#include "control/data_plane.h"
#include "control/reply_queue.h"

class Echo : public sctpdp::DataPlaneHandler {
 public:
  sctpdp::ReplyQueue* replies = nullptr;

  void OnMessage(sctpdp::DataPlane&, const sctpdp::MessageView& m) override { replies->Echo(m); }
  void OnWritable(sctpdp::DataPlane&, sctp_assoc_t id) override { replies->OnWritable(id); }
  void OnAssociationDown(sctpdp::DataPlane&, sctp_assoc_t id, sctpdp::DownReason, const sctpdp::AssocStats&) override {
    replies->OnAssociationDown(id);
  }
  void OnError(sctpdp::DataPlane&, sctp_assoc_t id, const absl::Status& e) override {
    std::fprintf(stderr, "echo_server: association %d: %s\n", id, e.ToString().c_str());
  }
};

int main(int argc, char** argv) {
  char* end = nullptr;
  const long port = argc > 1 ? std::strtol(argv[1], &end, 10) : 2905;
  if (argc > 2 || (argc > 1 && (*end != '\0' || port < 0 || port > 65535))) {
    std::fprintf(stderr, "usage: echo_server [PORT]  (PORT: 0..65535)\n");
    return 2;
  }
  sigset_t stop;  // SIGINT/SIGTERM: blocked in every thread, taken by sigwait
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  Echo echo;
  sctpdp::DataPlaneOptions options;
  options.listener.port = static_cast<uint16_t>(port);
  auto dp = sctpdp::DataPlane::Create(options, &echo);
  if (!dp.ok()) return std::fprintf(stderr, "echo_server: %s\n", dp.status().ToString().c_str()), 1;
  sctpdp::ReplyQueue replies(dp->get());
  echo.replies = &replies;
  if (absl::Status s = (*dp)->Start(); !s.ok()) return std::fprintf(stderr, "echo_server: %s\n", s.ToString().c_str()), 1;
  std::printf("echo_server: listening on port %u\n", (*dp)->port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  (*dp)->Stop();
  const sctpdp::DataPlaneStats s = (*dp)->Snapshot();
  std::printf("echo_server: %llu messages echoed, %llu associations peeled, %llu copied\n",
              (unsigned long long)(s.control.totals.messages_out + s.workers.totals.messages_out),
              (unsigned long long)s.peeled, (unsigned long long)s.send_copies);
  return 0;
}
