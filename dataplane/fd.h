// Fd: the move-only owner of one file descriptor (socket, ring, peeled
// association). Closing is the destructor's job; release() hands it on.
#ifndef SCTPDP_DATAPLANE_FD_H_
#define SCTPDP_DATAPLANE_FD_H_

#include <unistd.h>

#include <utility>

namespace sctpdp {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }

  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership; the caller closes.
  int release() { return std::exchange(fd_, -1); }

  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_FD_H_
