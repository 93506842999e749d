#include "dataplane/reassembler.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sctpdp {

bool ReassemblyBudget::Charge(size_t bytes) {
  const size_t now = used.load(std::memory_order_relaxed);
  if (bytes > limit || now > limit - bytes) return false;
  used.store(now + bytes, std::memory_order_relaxed);
  return true;
}

absl::Status OverBudget(uint32_t id, const ReassemblyBudget& budget) {
  return absl::ResourceExhaustedError(absl::StrCat("association ", id, ": a message past the thread's reassembly memory (",
                                                   budget.used.load(std::memory_order_relaxed), " of ",
                                                   budget.limit, " B held): association aborted"));
}

Reassembler& Reassembler::operator=(Reassembler&& other) noexcept {
  if (this == &other) return *this;
  Free();
  max_ = other.max_;
  first_capacity_ = other.first_capacity_;
  budget_ = other.budget_;
  data_ = std::move(other.data_);
  length_ = other.length_;
  capacity_ = other.capacity_;
  first_ = other.first_;
  notification_ = other.notification_;
  key_ = other.key_;
  other.length_ = other.capacity_ = 0;  // the charge moved with the storage
  return *this;
}

void Reassembler::Free() {
  if (budget_ != nullptr) budget_->Uncharge(capacity_);
  data_.reset();
  length_ = capacity_ = 0;
}

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
    if (budget_ != nullptr && !budget_->Charge(capacity - capacity_)) {
      Free();
      return Result::kOverBudget;
    }
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
  if (budget_ != nullptr) budget_->Uncharge(capacity_);  // the storage leaves
  length_ = capacity_ = 0;
  return w;
}

void Reassembler::Recycle(Whole whole) {
  if (data_ != nullptr || whole.data == nullptr || whole.capacity > first_capacity_) return;
  if (budget_ != nullptr && !budget_->Charge(whole.capacity)) return;
  data_ = std::move(whole.data);
  capacity_ = whole.capacity;
}

}  // namespace sctpdp
