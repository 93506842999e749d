#include "tools/sctpdp/metrics_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <cstdio>
#include <deque>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dataplane/fd.h"
#include "dataplane/sctp_socket.h"

namespace sctpdp {
namespace {

// Set while a connection's job runs only to close it unserved (a refused or
// left-over connection): Http::process_and_close_socket reads it.
thread_local bool t_refuse = false;

// httplib's Stream over one accepted socket, on poll(2): every wait ends at
// the first of kIdleSeconds, the connection's deadline, and `stop_fd`
// becoming readable (the server stopping).
class PollStream : public httplib::Stream {
 public:
  PollStream(int sock, int stop_fd, absl::Time deadline) : sock_(sock), stop_fd_(stop_fd), deadline_(deadline) {}

  bool is_readable() const override { return Wait(POLLIN); }
  bool is_writable() const override { return Wait(POLLOUT); }
  ssize_t read(char* ptr, size_t size) override { return Wait(POLLIN) ? ::recv(sock_, ptr, size, 0) : -1; }
  ssize_t write(const char* ptr, size_t size) override {
    return Wait(POLLOUT) ? ::send(sock_, ptr, size, MSG_NOSIGNAL) : -1;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { Name(getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { Name(getsockname, ip, port); }
  socket_t socket() const override { return sock_; }

 private:
  // True when `events` are ready on the socket in time, and not stopping.
  bool Wait(short events) const {
    const absl::Duration left = std::min(deadline_ - absl::Now(), absl::Seconds(MetricsServer::kIdleSeconds));
    if (left <= absl::ZeroDuration()) return false;
    pollfd fds[2] = {{sock_, events, 0}, {stop_fd_, POLLIN, 0}};
    int n;
    do {
      n = ::poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    } while (n < 0 && errno == EINTR);
    return n > 0 && fds[1].revents == 0 && fds[0].revents != 0;
  }
  void Name(int (*get)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (get(sock_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    ip = AddressString(reinterpret_cast<const sockaddr*>(&addr));
    port = PortOf(reinterpret_cast<const sockaddr*>(&addr));
  }

  const int sock_;
  const int stop_fd_;
  const absl::Time deadline_;
};

}  // namespace

// httplib::Server that serves each connection through a PollStream: at most
// kRequests requests and kConnectionSeconds per connection, and none past
// Cut. httplib runs process_and_close_socket on a worker for every accepted
// connection (virtual: this override replaces its own loop and timeouts).
class MetricsServer::Http : public httplib::Server {
 public:
  static constexpr int kRequests = 8;
  static constexpr int kConnectionSeconds = 5;

  Http() : stop_(eventfd(0, EFD_CLOEXEC)) {}

  // Every connection in service ends at its next wait; waiting ones close unserved.
  void Cut() {
    const uint64_t one = 1;
    if (::write(stop_.get(), &one, sizeof(one)) < 0) std::perror("sctpdp serve: metrics: eventfd write");
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    bool ok = false;
    if (!t_refuse) {
      PollStream stream(sock, stop_.get(), absl::Now() + absl::Seconds(kConnectionSeconds));
      for (int left = kRequests; left > 0 && stream.is_readable(); --left) {
        bool closed = false;
        ok = process_request(stream, /*close_connection=*/left == 1, closed, nullptr);
        if (!ok || closed) break;
      }
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  Fd stop_;  // an eventfd: readable once Cut
};

// httplib's TaskQueue for the Http server: kWorkers threads, at most kQueued
// waiting connections taken newest first; the oldest beyond that, and those
// still waiting at shutdown, are closed unserved on the accepting thread.
class MetricsServer::Queue : public httplib::TaskQueue {
 public:
  Queue() {
    for (size_t i = 0; i < kWorkers; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~Queue() override = default;

  void enqueue(std::function<void()> fn) override {
    std::function<void()> refused;
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(fn));
      if (jobs_.size() > kQueued) {
        refused = std::move(jobs_.front());
        jobs_.pop_front();
      }
    }
    cv_.notify_one();
    if (refused) Refuse(refused);
  }

  void shutdown() override {
    std::deque<std::function<void()>> left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      left.swap(jobs_);
    }
    cv_.notify_all();
    for (auto& fn : left) Refuse(fn);
    for (auto& t : threads_) t.join();
  }

 private:
  static void Refuse(std::function<void()>& fn) {
    t_refuse = true;
    fn();
    t_refuse = false;
  }

  void Work() {
    while (true) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;  // shutdown() took what was waiting
        fn = std::move(jobs_.back());
        jobs_.pop_back();
      }
      fn();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

MetricsServer::MetricsServer() : http_(std::make_unique<Http>()) {}

std::optional<int> MetricsServer::Start(int64_t port, std::function<std::string()> render) {
  if (port < 0) return -1;
  http_->Get("/metrics", [render = std::move(render)](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), "text/plain; version=0.0.4");
  });
  // httplib's own timeouts, for what it does before Http takes the
  // connection; Http's PollStream bounds every wait after that.
  http_->set_read_timeout(kIdleSeconds, 0);
  http_->set_write_timeout(kIdleSeconds, 0);
  // httplib calls this from its accept loop, after marking itself running:
  // from then on stop() ends the loop.
  http_->new_task_queue = [this]() -> httplib::TaskQueue* {
    {
      std::lock_guard<std::mutex> lock(mu_);
      listening_ = true;
    }
    listening_cv_.notify_all();
    return new Queue();
  };
  const int bound = port == 0 ? http_->bind_to_any_port("127.0.0.1")
                              : (http_->bind_to_port("127.0.0.1", static_cast<int>(port)) ? int(port) : -1);
  if (bound < 0) {
    std::fprintf(stderr, "sctpdp serve: --metrics-port=%lld: cannot bind 127.0.0.1:%lld\n", (long long)port,
                 (long long)port);
    return std::nullopt;
  }
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  std::unique_lock<std::mutex> lock(mu_);
  listening_cv_.wait(lock, [&] { return listening_; });
  return bound;
}

MetricsServer::~MetricsServer() {
  if (!thread_.joinable()) return;
  http_->Cut();   // connections in service end now
  http_->stop();  // the accept loop ends; its queue closes the waiting ones and joins the workers
  thread_.join();
}

}  // namespace sctpdp
