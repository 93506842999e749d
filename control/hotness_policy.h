// HotnessPolicy: decides which associations on the one-to-many socket are hot
// enough to peel off to a worker. Pure: no sockets, no threads, no clock of
// its own (every call takes `now`), so tests drive it with a fake clock.
//
//   rate      messages/s and bytes/s over a sliding window of `buckets`
//             buckets covering `window`, each direction on its own: an
//             association is as hot as the busier of what it receives and
//             what it sends (an echo is not counted twice, and an
//             association that mostly sends, as a load generator or an
//             originating appliance does, turns hot too)
//   hot       rate above a threshold for `sustain` without dropping below
//             `hysteresis` x threshold (a short dip does not reset it, a
//             short burst does not trigger a peel)
//   rules     by peer address and port: always peel, or never peel
//   peel_all  peel every association as soon as it is up (benchmarks)
// Peeling is final: an association never moves back, so nothing flaps.
#ifndef SCTPDP_CONTROL_HOTNESS_POLICY_H_
#define SCTPDP_CONTROL_HOTNESS_POLICY_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sctpdp {

struct PeerRule {
  enum class Action : uint8_t { kAlwaysPeel, kNeverPeel };
  Action action = Action::kNeverPeel;
  std::string address;  // an IPv4 or IPv6 literal; empty: any address
  uint16_t port = 0;    // 0: any port

  // "always:10.0.0.1", "never:[::1]:3868", "always:*:2905"
  static absl::StatusOr<PeerRule> Parse(const std::string& text);
};

struct HotnessOptions {
  double peel_messages_per_sec = 500;  // 0: not a criterion
  double peel_bytes_per_sec = 0;       // 0: not a criterion
  absl::Duration window = absl::Seconds(1);
  unsigned buckets = 10;
  absl::Duration sustain = absl::Milliseconds(500);
  double hysteresis = 0.8;             // stays "hot" until below 0.8 x threshold
  bool peel_all = false;
  std::vector<PeerRule> rules;         // first match wins
};

struct Peer {
  std::string address;  // literal, as inet_ntop writes it
  uint16_t port = 0;
};

class HotnessPolicy {
 public:
  static absl::StatusOr<HotnessPolicy> Create(const HotnessOptions& options);

  void Add(sctp_assoc_t id, const Peer& peer, absl::Time now);
  void Remove(sctp_assoc_t id);
  enum class Direction : uint8_t { kIn, kOut };
  // One message of `bytes` received (kIn) or sent (kOut) on `id` at `now`.
  void Observe(sctp_assoc_t id, uint64_t bytes, absl::Time now, Direction direction = Direction::kIn);
  // Marks `id` to move at the next Evaluate, however cold (the application
  // asked for something only a peeled association can do). False if unknown
  // or pinned to the one-to-many socket by a `never` rule.
  bool Force(sctp_assoc_t id);
  // Associations to peel now, hottest first. Each is returned until Remove.
  std::vector<sctp_assoc_t> Evaluate(absl::Time now);

  double MessagesPerSec(sctp_assoc_t id, absl::Time now) const;
  double BytesPerSec(sctp_assoc_t id, absl::Time now) const;
  size_t tracked() const { return tracked_.size(); }

 private:
  enum class Verdict : uint8_t { kAuto, kAlways, kNever };
  // Per bucket, one direction's.
  struct Counts {
    std::vector<uint64_t> messages;
    std::vector<uint64_t> bytes;
  };
  struct Track {
    Verdict verdict = Verdict::kAuto;
    Counts in, out;
    int64_t bucket_epoch = 0;        // absolute index of the newest bucket
    std::optional<absl::Time> hot_since;
  };

  explicit HotnessPolicy(const HotnessOptions& options) : options_(options) {}
  Verdict Judge(const Peer& peer) const;
  int64_t Epoch(absl::Time now) const;
  void Advance(Track& t, int64_t epoch) const;
  double Rate(const Track& t, const std::vector<uint64_t>& counts, absl::Time now) const;
  // The busier direction's rate: `Counts::messages` or `Counts::bytes`.
  double Busier(const Track& t, std::vector<uint64_t> Counts::*which, absl::Time now) const;

  HotnessOptions options_;
  absl::Duration bucket_width_;
  std::unordered_map<sctp_assoc_t, Track> tracked_;
};

// Which worker takes the next peeled association: the one with the lowest
// summed rate among those below `cap` peeled associations; ties go to the
// lowest index (stable). -1 if every worker is at the cap.
struct WorkerLoad {
  unsigned peeled = 0;
  double messages_per_sec = 0;
};
int PickWorker(const std::vector<WorkerLoad>& loads, unsigned cap);

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_HOTNESS_POLICY_H_
