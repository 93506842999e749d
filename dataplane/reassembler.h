// Reassembler: a message (or notification) that arrived in several receive
// completions, gathered until its MSG_EOR piece. This is the receive path's
// one user-space copy, and only for messages larger than a receive buffer.
// Bounded by the largest message allowed, and together with the thread's
// other reassemblies by a ReassemblyBudget.
//
// SCTP delivers one partial message at a time per socket (fragment
// interleave level 0, the default), so one reassembly per socket is enough;
// on a one-to-many socket each piece's `key` (its association) is checked
// against the one in progress.
#ifndef SCTPDP_DATAPLANE_REASSEMBLER_H_
#define SCTPDP_DATAPLANE_REASSEMBLER_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "dataplane/sctp_parse.h"

namespace sctpdp {

// The memory one thread's reassemblies hold together, in progress and kept
// for reuse: many associations each halfway through a large message cannot
// take the machine's. Written by the owning thread only; `used` may be read
// from any.
struct ReassemblyBudget {
  ReassemblyBudget() = default;
  // `limit`, raised to `max_message` (one message must always fit).
  ReassemblyBudget(size_t limit, size_t max_message) : limit(std::max(limit, max_message)) {}
  size_t limit = SIZE_MAX;
  std::atomic<size_t> used{0};
  bool Charge(size_t bytes);
  void Uncharge(size_t bytes) { used.store(used.load(std::memory_order_relaxed) - bytes, std::memory_order_relaxed); }
};

// The error for association `id` whose message would take `budget` past
// its limit.
absl::Status OverBudget(uint32_t id, const ReassemblyBudget& budget);

class Reassembler {
 public:
  Reassembler() = default;
  // REQUIRES: max_message >= 1. `budget` (may be null: unbounded) outlives
  // the reassembler.
  Reassembler(size_t max_message, size_t first_capacity, ReassemblyBudget* budget = nullptr)
      : max_(max_message), first_capacity_(first_capacity), budget_(budget) {}
  Reassembler(Reassembler&& other) noexcept { *this = std::move(other); }
  Reassembler& operator=(Reassembler&& other) noexcept;
  ~Reassembler() { Free(); }

  enum class Result : uint8_t {
    kPartial,      // taken; more pieces to come
    kWhole,        // taken, and that was the last piece: Take() it
    kOversize,     // over max_message: everything gathered is dropped
    kInterleaved,  // a piece of another message while one is in progress:
                   // the one in progress is dropped, this piece is not taken
    kOverBudget,   // growing would take the budget past its limit: everything
                   // gathered is dropped (and its storage freed)
  };
  // Appends one piece: `eor` marks the last. `key` names its owner (the
  // association, on a one-to-many socket; anything constant elsewhere).
  Result Add(const RecvParts& piece, bool eor, uint32_t key);

  bool in_progress() const { return length_ > 0; }
  uint32_t key() const { return key_; }
  bool notification() const { return notification_; }
  size_t length() const { return length_; }

  // A whole message, handed out with its storage.
  struct Whole {
    std::unique_ptr<char[]> data;
    size_t length = 0;
    size_t capacity = 0;
    RecvParts first;  // the first piece's metadata (its payload span is stale)
    bool notification = false;
  };
  // REQUIRES: Add returned kWhole. The reassembler is empty after.
  Whole Take();
  // Storage back from a Whole that was not kept, for the next message: kept
  // only up to first_capacity (a large message's storage is freed, so idle
  // associations hold little) and while the budget has room.
  void Recycle(Whole whole);
  // Drops whatever is in progress.
  void Reset() { length_ = 0; }

 private:
  // Gives the storage (and its charge) back.
  void Free();

  size_t max_ = 1;
  size_t first_capacity_ = 0;
  ReassemblyBudget* budget_ = nullptr;
  std::unique_ptr<char[]> data_;
  size_t length_ = 0;
  size_t capacity_ = 0;
  RecvParts first_;
  bool notification_ = false;
  uint32_t key_ = 0;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_REASSEMBLER_H_
