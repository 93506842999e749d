// Backoff: the delays between attempts to set up an outbound association
// (DataPlane::Connect), capped exponential with jitter, drawn from a seeded
// RNG so that a schedule can be replayed exactly (tests, and a log that
// names the seed). Pure: no clock, no threads.
//
// Attempt n (0, 1, 2, ... failures in a row) waits
//
//   base(n)  = min(max, initial * multiplier^n)
//   delay(n) = min(max, base(n) * (1 + jitter * u)),  u uniform in [-1, 1)
//
// so every delay lies in [base(n) * (1 - jitter), min(max, base(n) * (1 + jitter))]:
// growing until the cap, spread so that many connections refused at once do
// not all come back at once.
#ifndef SCTPDP_CONTROL_BACKOFF_H_
#define SCTPDP_CONTROL_BACKOFF_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sctpdp {

// SplitMix64 (Steele, Lea, Flood 2014): a tiny deterministic generator, the
// same sequence for the same seed on every platform.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, 1), 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

struct ReconnectOptions {
  // Reconnect after the peer or the network ended the association
  // (SHUTDOWN_COMP, COMM_LOST) or after a failed attempt (CANT_STR_ASSOC,
  // the connect timeout, a connectx error). Never after the application's
  // own Shutdown, Abort or Disconnect.
  bool enabled = true;
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(30);
  double multiplier = 2.0;  // >= 1
  double jitter = 0.2;      // 0..1: each delay is spread by +-jitter
  // Failed attempts in a row before giving up (0: never).
  unsigned max_attempts = 0;
  // An association that was up at least this long starts the next
  // schedule over from `initial`; one that went down sooner continues it (a
  // peer that accepts and drops at once is not hammered).
  absl::Duration reset_after = absl::Seconds(5);
  // 0: a seed of the data plane's choosing (each connection its own).
  uint64_t seed = 0;
};

absl::Status ValidateReconnectOptions(const ReconnectOptions& o);

class Backoff {
 public:
  // REQUIRES: ValidateReconnectOptions(options).ok(); `seed` != 0 is used as
  // is (options.seed is the caller's to resolve).
  Backoff(const ReconnectOptions& options, uint64_t seed) : options_(options), rng_(seed) {}

  // The delay before the next attempt, and counts it.
  absl::Duration Next();
  // The schedule starts over (an association stayed up).
  void Reset() { attempts_ = 0; }
  // Delays handed out since the last Reset.
  unsigned attempts() const { return attempts_; }
  // base(n) of the formula above.
  absl::Duration Base(unsigned n) const;

 private:
  ReconnectOptions options_;
  SplitMix64 rng_;
  unsigned attempts_ = 0;
};

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_BACKOFF_H_
