#include "control/backoff.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace sctpdp {

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

absl::Status ValidateReconnectOptions(const ReconnectOptions& o) {
  auto bad = [](const std::string& why) { return absl::InvalidArgumentError("reconnect options: " + why); };
  if (o.initial <= absl::ZeroDuration()) return bad("initial must be > 0");
  if (o.max < o.initial) return bad("max must be >= initial");
  if (!(o.multiplier >= 1.0 && o.multiplier <= 100.0)) return bad("multiplier must be 1..100");
  if (!(o.jitter >= 0.0 && o.jitter <= 1.0)) return bad("jitter must be 0..1");
  if (o.reset_after < absl::ZeroDuration()) return bad("reset_after must be >= 0");
  return absl::OkStatus();
}

absl::Duration Backoff::Base(unsigned n) const {
  // In seconds as a double: initial * multiplier^n overflows nothing there,
  // and the cap applies before it goes back to a Duration.
  const double max_s = absl::ToDoubleSeconds(options_.max);
  const double base_s = absl::ToDoubleSeconds(options_.initial) * std::pow(options_.multiplier, double(n));
  return absl::Seconds(std::min(max_s, base_s));
}

absl::Duration Backoff::Next() {
  const double base_s = absl::ToDoubleSeconds(Base(attempts_));
  ++attempts_;
  const double u = 2.0 * rng_.Uniform() - 1.0;  // [-1, 1)
  const double delay_s = std::min(absl::ToDoubleSeconds(options_.max), base_s * (1.0 + options_.jitter * u));
  return absl::Seconds(std::max(0.0, delay_s));
}

}  // namespace sctpdp
