// FaultPlan: a seeded test seam between a Ring and the kernel (TigerBeetle's
// packet simulator, Envoy's injectCompletion). Two kinds of fault:
//
//  - errno faults: the next submission of an (op, slot) is replaced by a NOP
//    whose completion carries a chosen result and flags, so every errno
//    branch of a dispatch runs through the real ring;
//  - timing faults: completions are held back for a few reaps and released
//    interleaved with later ones. Order is kept only where the kernel keeps
//    it, within one (op, slot): a multishot receive's completions, a send
//    chain's. Everything else may be delayed and reordered.
//
// Single-threaded: the ring's owner thread only.
#ifndef SCTPDP_DATAPLANE_FAULT_PLAN_H_
#define SCTPDP_DATAPLANE_FAULT_PLAN_H_

#include <cstdint>
#include <deque>
#include <random>
#include <utility>
#include <vector>

#include "dataplane/completion.h"
#include "dataplane/user_data.h"

namespace sctpdp {

struct FaultPlanOptions {
  uint64_t seed = 1;
  // Chance that a completion (and every later one of its (op, slot)) is held.
  double delay_probability = 0;
  unsigned max_delay_reaps = 4;  // a held completion waits 1..this many reaps
};

class FaultPlan {
 public:
  explicit FaultPlan(const FaultPlanOptions& options = {});

  // The next submission of `op` on `slot` completes with `res` and `flags`
  // instead of reaching the kernel.
  void Plan(Op op, uint16_t slot, int res, uint32_t flags = 0);
  bool Planned(Op op, uint16_t slot) const;

  // Ring hooks. OnSubmit: true when the submission carrying `user_data` is
  // to be replaced by a NOP (its completion gets the planned result).
  bool OnSubmit(uint64_t user_data);
  // Filters `n` freshly reaped completions in `buf` (room for `cap`) and
  // returns how many to dispatch now: planned results applied, some held
  // back, earlier held ones released, interleaved across (op, slot).
  size_t OnReap(Completion* buf, size_t n, size_t cap);
  // Completions held back: the owner must not block waiting for new ones.
  bool holding() const { return held_count_ > 0; }

  uint64_t delayed() const { return delayed_; }
  uint64_t injected() const { return injected_; }

 private:
  struct Planned_ {
    Op op;
    uint16_t slot;
    int res;
    uint32_t flags;
  };
  struct Held {
    Completion c;
    uint64_t release_at;  // reap number
  };
  static uint32_t KeyOf(uint64_t user_data);
  void ApplyInjection(Completion* c);
  std::deque<Held>* QueueFor(uint32_t key);

  FaultPlanOptions options_;
  std::mt19937_64 rng_;
  std::vector<Planned_> planned_;
  std::vector<std::pair<uint64_t, Planned_>> injections_;  // NOPs in flight, by user_data
  std::vector<std::pair<uint32_t, std::deque<Held>>> held_;  // per (op, slot), FIFO
  size_t held_count_ = 0;
  uint64_t reaps_ = 0;
  uint64_t delayed_ = 0, injected_ = 0;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_FAULT_PLAN_H_
