// SlotTable: a fixed number of slots allocated at start-up (a worker's
// associations; a slot's index is also its fixed-file index), each with a
// generation that changes whenever the slot is freed, so a handle or a
// completion from an earlier occupant is recognised as stale. Slots never
// move: a pointer to one stays valid for the table's life.
//
// Single-threaded: the owner's thread only.
#ifndef SCTPDP_DATAPLANE_SLOT_TABLE_H_
#define SCTPDP_DATAPLANE_SLOT_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace sctpdp {

template <typename T>
class SlotTable {
 public:
  // REQUIRES: 1 <= count <= 65536.
  explicit SlotTable(unsigned count) : slots_(new Entry[count]), count_(count) {
    free_.reserve(count);
    for (unsigned i = count; i-- > 0;) free_.push_back(static_cast<uint16_t>(i));
  }
  SlotTable(const SlotTable&) = delete;
  SlotTable& operator=(const SlotTable&) = delete;

  unsigned size() const { return count_; }
  unsigned in_use() const { return count_ - static_cast<unsigned>(free_.size()); }
  bool full() const { return free_.empty(); }

  // The lowest-numbered free slot is not promised; none when full.
  std::optional<uint16_t> Allocate() {
    if (free_.empty()) return std::nullopt;
    const uint16_t slot = free_.back();
    free_.pop_back();
    slots_[slot].used = true;
    return slot;
  }
  // Frees `slot` and moves it to its next generation (never 0: a zero
  // generation marks "no handle"). The value is left for the next occupant
  // to reset.
  void Free(uint16_t slot) {
    Entry& e = slots_[slot];
    e.used = false;
    e.generation = static_cast<uint16_t>(e.generation == 0xffff ? 1 : e.generation + 1);
    free_.push_back(slot);
  }

  // The occupant of `slot` if it is in use at `generation`.
  T* Find(uint16_t slot, uint16_t generation) {
    if (slot >= count_) return nullptr;
    Entry& e = slots_[slot];
    return e.used && e.generation == generation ? &e.value : nullptr;
  }
  bool used(uint16_t slot) const { return slots_[slot].used; }
  uint16_t generation(uint16_t slot) const { return slots_[slot].generation; }
  T& operator[](uint16_t slot) { return slots_[slot].value; }
  const T& operator[](uint16_t slot) const { return slots_[slot].value; }

 private:
  struct Entry {
    T value{};
    uint16_t generation = 1;
    bool used = false;
  };
  std::unique_ptr<Entry[]> slots_;
  unsigned count_;
  std::vector<uint16_t> free_;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SLOT_TABLE_H_
