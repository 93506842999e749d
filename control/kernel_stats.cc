#include "control/kernel_stats.h"

#include <algorithm>
#include <utility>

namespace sctpdp {
namespace {

// The increments of the cumulative counters from `before` to `after` (a
// counter that went back, as after SCTP_RESTART, counts from 0).
void AddIncrements(const SctpAssocCounters& before, const SctpAssocCounters& after, KernelTotals& t) {
  auto inc = [](uint64_t b, uint64_t a) { return a >= b ? a - b : a; };
  t.packets_in += inc(before.packets_in, after.packets_in);
  t.packets_out += inc(before.packets_out, after.packets_out);
  t.data_chunks_in += inc(before.data_chunks_in, after.data_chunks_in);
  t.data_chunks_out += inc(before.data_chunks_out, after.data_chunks_out);
  t.retransmitted_chunks += inc(before.retransmitted_chunks, after.retransmitted_chunks);
  t.gap_acks_in += inc(before.gap_acks_in, after.gap_acks_in);
  t.out_of_sequence_tsns += inc(before.out_of_sequence_tsns, after.out_of_sequence_tsns);
  t.duplicate_chunks_in += inc(before.duplicate_chunks_in, after.duplicate_chunks_in);
  t.abandoned_unsent += inc(before.abandoned_unsent, after.abandoned_unsent);
  t.abandoned_sent += inc(before.abandoned_sent, after.abandoned_sent);
}

// Whether `after` is stuck (see the banner); `before`: the previous read.
bool Stuck(const SctpStatus& before, const SctpStatus& after) {
  if (after.peer_rwnd == 0) return true;
  if (after.unacked_chunks == 0) return false;
  if (after.has_counters && before.has_counters) return after.counters.sacks_in == before.counters.sacks_in;
  return after.unacked_chunks == before.unacked_chunks;
}

}  // namespace

bool KernelStatsSampler::Due(absl::Time now) const {
  return options_.interval > absl::ZeroDuration() && now >= next_;
}

void KernelStatsSampler::Begin(absl::Time now) {
  now_ = now;
  next_ = now + options_.interval;
  pass_ = Pass{};
}

void KernelStatsSampler::Read(sctp_assoc_t id, int fd, SctpStatusReader read) {
  absl::StatusOr<SctpStatus> status = read(fd, id);
  ++pass_.increments.reads;
  if (!status.ok()) {
    ++pass_.increments.read_errors;
    return;
  }
  pass_.increments.syscalls += status->syscalls;
  AssociationKernelStats cur{.id = id, .shard = shard_, .sampled = now_, .status = *std::move(status)};
  auto it = last_.find(id);
  Account(it == last_.end() ? nullptr : &it->second, cur);
  pass_.reads.push_back(std::move(cur));
}

void KernelStatsSampler::Account(const AssociationKernelStats* previous, AssociationKernelStats& cur) {
  const SctpAssocCounters& after = cur.status.counters;
  if (previous == nullptr) {
    cur.progress_at = now_;
    // Its first read here: the counters so far count (once: a move's new
    // shard starts from the old one's last read, approximately).
    AddIncrements(SctpAssocCounters{}, after, pass_.increments);
    cur.packets_in_interval = after.packets_in + after.packets_out;
    return;
  }
  const SctpAssocCounters& before = previous->status.counters;
  AddIncrements(before, after, pass_.increments);
  const uint64_t packets = after.packets_in + after.packets_out, was = before.packets_in + before.packets_out;
  cur.packets_in_interval = packets >= was ? packets - was : packets;
  const bool stuck = Stuck(previous->status, cur.status);
  cur.progress_at = stuck ? previous->progress_at : now_;
  cur.stalled = stuck && options_.stall_after > absl::ZeroDuration() && now_ - cur.progress_at >= options_.stall_after;
  if (cur.stalled && !previous->stalled) {
    ++pass_.increments.stalls;
    pass_.stalled_now.push_back(cur);
  }
}

KernelStatsSampler::Pass KernelStatsSampler::Finish() {
  last_.clear();
  for (const AssociationKernelStats& r : pass_.reads) last_.emplace(r.id, r);
  return std::exchange(pass_, Pass{});
}

void KernelStatsBoard::Publish(int shard, const KernelStatsSampler::Pass& pass) {
  std::lock_guard<std::mutex> l(mu_);
  reads_[shard] = pass.reads;
  const KernelTotals& i = pass.increments;
  KernelTotals& c = counters_;
  c.stalls += i.stalls;
  c.reads += i.reads;
  c.read_errors += i.read_errors;
  c.syscalls += i.syscalls;
  c.packets_in += i.packets_in;
  c.packets_out += i.packets_out;
  c.data_chunks_in += i.data_chunks_in;
  c.data_chunks_out += i.data_chunks_out;
  c.retransmitted_chunks += i.retransmitted_chunks;
  c.gap_acks_in += i.gap_acks_in;
  c.out_of_sequence_tsns += i.out_of_sequence_tsns;
  c.duplicate_chunks_in += i.duplicate_chunks_in;
  c.abandoned_unsent += i.abandoned_unsent;
  c.abandoned_sent += i.abandoned_sent;
}

std::optional<AssociationKernelStats> KernelStatsBoard::Get(sctp_assoc_t id) const {
  std::lock_guard<std::mutex> l(mu_);
  const AssociationKernelStats* best = nullptr;  // the latest, should two shards have read it (a move)
  for (const auto& shard : reads_) {
    for (const AssociationKernelStats& r : shard) {
      if (r.id == id && (best == nullptr || r.sampled > best->sampled)) best = &r;
    }
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

std::unordered_map<sctp_assoc_t, const AssociationKernelStats*> KernelStatsBoard::LatestLocked() const {
  std::unordered_map<sctp_assoc_t, const AssociationKernelStats*> latest;
  for (const auto& shard : reads_) {
    for (const AssociationKernelStats& r : shard) {
      auto [it, added] = latest.emplace(r.id, &r);
      if (!added && r.sampled > it->second->sampled) it->second = &r;
    }
  }
  return latest;
}

std::vector<AssociationKernelStats> KernelStatsBoard::Busiest(size_t n) const {
  std::vector<AssociationKernelStats> all;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [id, r] : LatestLocked()) all.push_back(*r);
  }
  const size_t keep = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + keep, all.end(), [](const auto& a, const auto& b) {
    return a.packets_in_interval != b.packets_in_interval ? a.packets_in_interval > b.packets_in_interval
                                                          : a.id < b.id;
  });
  all.resize(keep);
  return all;
}

KernelTotals KernelStatsBoard::Totals() const {
  std::lock_guard<std::mutex> l(mu_);
  KernelTotals t = counters_;
  for (const auto& [id, r] : LatestLocked()) {
    ++t.associations;
    t.unacked_chunks += r->status.unacked_chunks;
    t.pending_chunks += r->status.pending_chunks;
    t.stalled += r->stalled;
    t.paths += r->status.paths.size();
    for (const SctpPathStatus& p : r->status.paths) t.paths_unreachable += p.state == SCTP_INACTIVE || p.state == SCTP_PF;
  }
  return t;
}

}  // namespace sctpdp
