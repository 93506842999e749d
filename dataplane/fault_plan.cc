#include "dataplane/fault_plan.h"

#include <algorithm>

namespace sctpdp {

FaultPlan::FaultPlan(const FaultPlanOptions& options) : options_(options), rng_(options.seed) {}

void FaultPlan::Plan(Op op, uint16_t slot, int res, uint32_t flags) {
  planned_.push_back(Planned_{op, slot, res, flags});
}

bool FaultPlan::Planned(Op op, uint16_t slot) const {
  return std::any_of(planned_.begin(), planned_.end(),
                     [&](const Planned_& p) { return p.op == op && p.slot == slot; });
}

uint32_t FaultPlan::KeyOf(uint64_t user_data) {
  const Tag tag = Tag::Unpack(user_data);
  return (uint32_t{static_cast<uint8_t>(tag.op)} << 16) | tag.slot;
}

bool FaultPlan::OnSubmit(uint64_t user_data) {
  if (planned_.empty()) return false;
  const Tag tag = Tag::Unpack(user_data);
  for (size_t i = 0; i < planned_.size(); ++i) {
    if (planned_[i].op != tag.op || planned_[i].slot != tag.slot) continue;
    injections_.push_back({user_data, planned_[i]});
    planned_.erase(planned_.begin() + static_cast<long>(i));
    ++injected_;
    return true;
  }
  return false;
}

void FaultPlan::ApplyInjection(Completion* c) {
  for (size_t i = 0; i < injections_.size(); ++i) {
    if (injections_[i].first != c->user_data) continue;
    c->res = injections_[i].second.res;
    c->flags = injections_[i].second.flags;
    injections_.erase(injections_.begin() + static_cast<long>(i));
    return;
  }
}

std::deque<FaultPlan::Held>* FaultPlan::QueueFor(uint32_t key) {
  for (auto& [k, q] : held_) {
    if (k == key) return &q;
  }
  held_.emplace_back(key, std::deque<Held>());
  return &held_.back().second;
}

size_t FaultPlan::OnReap(Completion* buf, size_t n, size_t cap) {
  ++reaps_;
  for (size_t i = 0; i < n; ++i) {
    if (!injections_.empty()) ApplyInjection(&buf[i]);
  }
  if (options_.delay_probability <= 0 && held_count_ == 0) return n;
  std::uniform_real_distribution<double> chance(0, 1);
  std::uniform_int_distribution<unsigned> delay(1, std::max(1u, options_.max_delay_reaps));
  // New completions: held behind earlier held ones of their (op, slot), or
  // held by chance; the rest go now.
  std::vector<std::pair<uint32_t, std::deque<Completion>>> ready;
  auto ready_for = [&](uint32_t key) -> std::deque<Completion>& {
    for (auto& [k, q] : ready) {
      if (k == key) return q;
    }
    ready.emplace_back(key, std::deque<Completion>());
    return ready.back().second;
  };
  for (size_t i = 0; i < n; ++i) {
    const uint32_t key = KeyOf(buf[i].user_data);
    std::deque<Held>* q = QueueFor(key);
    const bool behind = !q->empty();
    if (behind || chance(rng_) < options_.delay_probability) {
      q->push_back(Held{buf[i], behind ? reaps_ : reaps_ + delay(rng_)});
      ++held_count_;
      delayed_ += !behind;
    } else {
      ready_for(key).push_back(buf[i]);
    }
  }
  // Held ones whose time has come, oldest first per (op, slot).
  for (auto& [key, q] : held_) {
    while (!q.empty() && q.front().release_at <= reaps_) {
      ready_for(key).push_back(q.front().c);
      q.pop_front();
      --held_count_;
    }
  }
  // Interleave (op, slot)s at random, each in its own order.
  size_t out = 0;
  while (out < cap) {
    std::vector<size_t> open;
    for (size_t k = 0; k < ready.size(); ++k) {
      if (!ready[k].second.empty()) open.push_back(k);
    }
    if (open.empty()) break;
    auto& q = ready[open[std::uniform_int_distribution<size_t>(0, open.size() - 1)(rng_)]].second;
    buf[out++] = q.front();
    q.pop_front();
  }
  // No room left: what is ready goes first next time.
  for (auto& [key, q] : ready) {
    std::deque<Held>* h = QueueFor(key);
    for (auto it = q.rbegin(); it != q.rend(); ++it) {
      h->push_front(Held{*it, reaps_});
      ++held_count_;
    }
  }
  return out;
}

}  // namespace sctpdp
