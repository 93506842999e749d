#include "dataplane/reassembler.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace sctpdp {

Reassembler::Result Reassembler::Add(const RecvParts& piece, bool eor, uint32_t key) {
  const bool notification = piece.msg_flags & MSG_NOTIFICATION;
  if (length_ > 0 && (notification != notification_ || key != key_)) {
    length_ = 0;
    return Result::kInterleaved;
  }
  const size_t n = piece.payload.size();
  if (length_ + n > max_) {
    length_ = 0;
    return Result::kOversize;
  }
  if (length_ == 0) {
    first_ = piece;
    notification_ = notification;
    key_ = key;
  }
  if (length_ + n > capacity_) {
    size_t capacity = std::max(capacity_ * 2, first_capacity_);
    capacity = std::min(std::max(capacity, length_ + n), max_);
    std::unique_ptr<char[]> grown(new char[capacity]);
    if (length_ > 0) std::memcpy(grown.get(), data_.get(), length_);
    data_ = std::move(grown);
    capacity_ = capacity;
  }
  if (n > 0) std::memcpy(data_.get() + length_, piece.payload.data(), n);
  length_ += n;
  return eor ? Result::kWhole : Result::kPartial;
}

Reassembler::Whole Reassembler::Take() {
  Whole w{std::move(data_), length_, capacity_, first_, notification_};
  length_ = capacity_ = 0;
  return w;
}

void Reassembler::Recycle(Whole whole) {
  if (data_ == nullptr && whole.data != nullptr) {
    data_ = std::move(whole.data);
    capacity_ = whole.capacity;
  }
}

}  // namespace sctpdp
