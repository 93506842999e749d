#include "handoff/directory.h"

#include <algorithm>

#include "absl/base/internal/raw_logging.h"

namespace sctpdp {
namespace {

constexpr size_t kFirstTableSlots = 1024;

uint64_t Entry(sctp_assoc_t id, uint32_t index) {
  return (uint64_t{static_cast<uint32_t>(id)} << 32) | (uint64_t{index} + 1);
}
sctp_assoc_t IdOf(uint64_t entry) { return static_cast<sctp_assoc_t>(entry >> 32); }
uint32_t IndexOf(uint64_t entry) { return static_cast<uint32_t>(entry) - 1; }

}  // namespace

struct Directory::Table {
  explicit Table(size_t slots_count) : slots(new std::atomic<uint64_t>[slots_count]), mask(slots_count - 1) {
    for (size_t i = 0; i < slots_count; ++i) slots[i].store(0, std::memory_order_relaxed);
    shift = 64;
    for (size_t n = slots_count; n > 1; n >>= 1) --shift;
  }
  size_t Home(sctp_assoc_t id) const {
    return static_cast<size_t>((uint64_t{static_cast<uint32_t>(id)} * 0x9E3779B97F4A7C15ull) >> shift) & mask;
  }
  std::unique_ptr<std::atomic<uint64_t>[]> slots;
  size_t mask;
  unsigned shift;
  size_t used = 0;  // writer only
};

Directory::Directory(size_t max_routes)
    : max_(std::max<size_t>(1, std::min<size_t>(max_routes, size_t{kMaxChunks} << kChunkBits))),
      chunks_(new std::atomic<Route*>[kMaxChunks]) {
  for (uint32_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
  tables_.push_back(std::make_unique<Table>(kFirstTableSlots));
  table_.store(tables_.back().get(), std::memory_order_release);
}

Directory::~Directory() {
  for (uint32_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
}

Route* Directory::at(uint32_t index) const {
  return &chunks_[index >> kChunkBits].load(std::memory_order_acquire)[index & ((1u << kChunkBits) - 1)];
}

Route* Directory::Find(sctp_assoc_t id) const {
  while (true) {
    const uint64_t before = version_.load(std::memory_order_acquire);
    if (before & 1) continue;  // entries are moving: a miss now would prove nothing
    const Table* t = table_.load(std::memory_order_acquire);
    for (size_t i = t->Home(id), probes = 0; probes <= t->mask; ++probes, i = (i + 1) & t->mask) {
      const uint64_t e = t->slots[i].load(std::memory_order_acquire);
      if (e == 0) break;
      if (IdOf(e) == id) return at(IndexOf(e));
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (version_.load(std::memory_order_relaxed) == before) return nullptr;  // truly absent
  }
}

Route* Directory::NewRoute() {
  // Removed routes come back once nobody can still be using them: no sender
  // between lookup and hand-over, nothing handed over still unaccounted.
  for (size_t i = 0; i < quarantine_.size();) {
    Route* r = at(quarantine_[i]);
    if (r->senders.load(std::memory_order_acquire) == 0 && r->parcels.load(std::memory_order_acquire) == 0) {
      free_.push_back(quarantine_[i]);
      quarantine_[i] = quarantine_.back();
      quarantine_.pop_back();
    } else {
      ++i;
    }
  }
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = routes_++;
    const uint32_t chunk = index >> kChunkBits;
    if (chunks_[chunk].load(std::memory_order_relaxed) == nullptr) {
      Route* routes = new Route[size_t{1} << kChunkBits];
      for (uint32_t k = 0; k < (1u << kChunkBits); ++k) routes[k].index = (chunk << kChunkBits) | k;
      chunks_[chunk].store(routes, std::memory_order_release);
    }
  }
  Route* r = at(index);
  r->handle = 0;
  r->backlog.clear();
  r->handoff.clear();
  r->leaving = false;
  r->want_writable_local = false;
  r->app_context = nullptr;
  r->want_writable.store(false, std::memory_order_relaxed);
  r->closing.store(false, std::memory_order_relaxed);
  r->abort_requested.store(false, std::memory_order_relaxed);
  r->messages_in_control.Set(0);
  r->bytes_in_control.Set(0);
  return r;
}

Route* Directory::Insert(sctp_assoc_t id, RouteOwner owner, uint16_t outbound_streams) {
  if (id == 0 || live_ >= max_ || Find(id) != nullptr) return nullptr;
  Table* t = table_.load(std::memory_order_relaxed);
  if ((t->used + 1) * 2 > t->mask + 1) {
    Grow();
    t = table_.load(std::memory_order_relaxed);
  }
  Route* r = NewRoute();
  r->id.store(id, std::memory_order_relaxed);
  r->outbound_streams.store(outbound_streams, std::memory_order_relaxed);
  r->SetOwner(owner);
  Place(t, Entry(id, r->index));  // publishes the route (release)
  ++live_;
  return r;
}

void Directory::Place(Table* t, uint64_t entry) {
  size_t i = t->Home(IdOf(entry));
  while (t->slots[i].load(std::memory_order_relaxed) != 0) i = (i + 1) & t->mask;
  t->slots[i].store(entry, std::memory_order_release);
  ++t->used;
}

void Directory::Grow() {
  Table* old = table_.load(std::memory_order_relaxed);
  auto bigger = std::make_unique<Table>((old->mask + 1) * 2);
  for (size_t i = 0; i <= old->mask; ++i) {
    const uint64_t e = old->slots[i].load(std::memory_order_relaxed);
    if (e != 0) Place(bigger.get(), e);
  }
  version_.fetch_add(1, std::memory_order_acq_rel);
  table_.store(bigger.get(), std::memory_order_release);
  tables_.push_back(std::move(bigger));
  version_.fetch_add(1, std::memory_order_release);
}

void Directory::Remove(Route* route) {
  const sctp_assoc_t id = route->id.load(std::memory_order_relaxed);
  route->SetOwner({Route::Unpack(route->owner.load()).shard, RouteState::kGone});
  Table* t = table_.load(std::memory_order_relaxed);
  for (size_t i = t->Home(id), probes = 0; probes <= t->mask; ++probes, i = (i + 1) & t->mask) {
    const uint64_t e = t->slots[i].load(std::memory_order_relaxed);
    if (e == 0) break;
    if (IdOf(e) != id) continue;
    ABSL_RAW_CHECK(IndexOf(e) == route->index, "directory: id entered under another route");
    version_.fetch_add(1, std::memory_order_acq_rel);
    Erase(t, i);
    version_.fetch_add(1, std::memory_order_release);
    break;
  }
  route->id.store(0, std::memory_order_release);
  quarantine_.push_back(route->index);
  --live_;
}

// Backward-shift deletion: later entries of the probe run move up so no
// lookup stops early at the hole.
void Directory::Erase(Table* t, size_t at) {
  size_t hole = at;
  for (size_t j = (at + 1) & t->mask;; j = (j + 1) & t->mask) {
    const uint64_t e = t->slots[j].load(std::memory_order_relaxed);
    if (e == 0) break;
    const size_t home = t->Home(IdOf(e));
    // Movable when its home is not between the hole (exclusive) and j
    // (inclusive), cyclically.
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    t->slots[hole].store(e, std::memory_order_release);
    hole = j;
  }
  t->slots[hole].store(0, std::memory_order_release);
  --t->used;
}

}  // namespace sctpdp
