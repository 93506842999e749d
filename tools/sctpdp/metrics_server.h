// `serve --metrics-port`: Prometheus text on 127.0.0.1:PORT/metrics from its
// own threads (cpp-httplib), bounded so that idle or slow clients can neither
// starve a scrape nor hold up shutdown:
//  - kWorkers threads serve connections; at most kQueued more wait, newest
//    first (a scrape that just connected goes before connections that have
//    been waiting, idle); past that the oldest waiting one is closed unserved.
//    So at most kWorkers + kQueued connections are open at once.
//  - Every read, write and keep-alive wait gives up after kIdleSeconds; a
//    connection gets at most 8 requests and 5 s (slow clients too).
//  - Stopping shuts down the connections in service and closes the waiting
//    ones: no client delays it.
#ifndef SCTPDP_TOOLS_SCTPDP_METRICS_SERVER_H_
#define SCTPDP_TOOLS_SCTPDP_METRICS_SERVER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace sctpdp {

class MetricsServer {
 public:
  static constexpr size_t kWorkers = 2;
  static constexpr size_t kQueued = 16;
  static constexpr int kIdleSeconds = 1;

  MetricsServer();
  ~MetricsServer();  // stops: returns at once, whatever the clients do
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Serves `render()` at /metrics on 127.0.0.1:port (0: any free port; -1:
  // off). The port it listens on (-1 when off), or an error line printed and
  // nothing. Returns once the server accepts connections.
  std::optional<int> Start(int64_t port, std::function<std::string()> render);

 private:
  class Http;
  class Queue;
  std::unique_ptr<Http> http_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable listening_cv_;
  bool listening_ = false;  // the accept loop runs (or ended): stop() reaches it
};

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_METRICS_SERVER_H_
