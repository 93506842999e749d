#include "control/hotness_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sctpdp {

absl::StatusOr<PeerRule> PeerRule::Parse(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("peer rule '", text, "': ", why,
                                                   " (want always|never:ADDRESS[:PORT], [IPv6]:PORT, *:PORT)"));
  };
  PeerRule rule;
  size_t colon = text.find(':');
  if (colon == std::string::npos) return bad("no action");
  const std::string action = text.substr(0, colon);
  if (action == "always") {
    rule.action = Action::kAlwaysPeel;
  } else if (action == "never") {
    rule.action = Action::kNeverPeel;
  } else {
    return bad("unknown action '" + action + "'");
  }
  std::string rest = text.substr(colon + 1), port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return bad("unclosed '['");
    rule.address = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return bad("junk after ']'");
      port = rest.substr(close + 2);
    }
  } else if (std::count(rest.begin(), rest.end(), ':') == 1) {
    rule.address = rest.substr(0, rest.find(':'));
    port = rest.substr(rest.find(':') + 1);
  } else {
    rule.address = rest;  // IPv4, bare IPv6, or '*'
  }
  if (rule.address == "*") rule.address.clear();
  if (!rule.address.empty()) {
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET, rule.address.c_str(), buf) != 1 && inet_pton(AF_INET6, rule.address.c_str(), buf) != 1) {
      return bad("'" + rule.address + "' is not an IP address");
    }
  }
  if (!port.empty()) {
    uint32_t p = 0;
    if (!absl::SimpleAtoi(port, &p) || p == 0 || p > 65535) return bad("bad port '" + port + "'");
    rule.port = static_cast<uint16_t>(p);
  }
  return rule;
}

absl::StatusOr<HotnessPolicy> HotnessPolicy::Create(const HotnessOptions& options) {
  if (options.window <= absl::ZeroDuration() || options.buckets == 0 || options.buckets > 1000) {
    return absl::InvalidArgumentError("hotness: window must be > 0 and buckets 1..1000");
  }
  if (options.peel_messages_per_sec < 0 || options.peel_bytes_per_sec < 0 ||
      (!options.peel_all && options.peel_messages_per_sec == 0 && options.peel_bytes_per_sec == 0)) {
    return absl::InvalidArgumentError("hotness: need a positive messages/s or bytes/s threshold (or peel_all)");
  }
  if (options.hysteresis <= 0 || options.hysteresis > 1) {
    return absl::InvalidArgumentError("hotness: hysteresis must be in (0, 1]");
  }
  if (options.sustain < absl::ZeroDuration()) return absl::InvalidArgumentError("hotness: negative sustain");
  HotnessPolicy p(options);
  p.bucket_width_ = options.window / options.buckets;
  return p;
}

HotnessPolicy::Verdict HotnessPolicy::Judge(const Peer& peer) const {
  for (const PeerRule& r : options_.rules) {
    if (!r.address.empty() && r.address != peer.address) continue;
    if (r.port != 0 && r.port != peer.port) continue;
    return r.action == PeerRule::Action::kAlwaysPeel ? Verdict::kAlways : Verdict::kNever;
  }
  return options_.peel_all ? Verdict::kAlways : Verdict::kAuto;
}

void HotnessPolicy::Add(sctp_assoc_t id, const Peer& peer, absl::Time now) {
  Track t;
  t.verdict = Judge(peer);
  for (Counts* c : {&t.in, &t.out}) {
    c->messages.assign(options_.buckets, 0);
    c->bytes.assign(options_.buckets, 0);
  }
  t.bucket_epoch = Epoch(now);
  tracked_[id] = std::move(t);
}

void HotnessPolicy::Remove(sctp_assoc_t id) { tracked_.erase(id); }

bool HotnessPolicy::Force(sctp_assoc_t id) {
  auto it = tracked_.find(id);
  if (it == tracked_.end() || it->second.verdict == Verdict::kNever) return false;
  it->second.verdict = Verdict::kAlways;
  return true;
}

int64_t HotnessPolicy::Epoch(absl::Time now) const {
  absl::Duration rem;
  return absl::IDivDuration(now - absl::UnixEpoch(), bucket_width_, &rem);
}

// Moves the window forward to `epoch`, clearing the buckets it passes.
void HotnessPolicy::Advance(Track& t, int64_t epoch) const {
  if (epoch <= t.bucket_epoch) return;
  const int64_t n = options_.buckets;
  for (int64_t e = std::max(t.bucket_epoch + 1, epoch - n + 1); e <= epoch; ++e) {
    for (Counts* c : {&t.in, &t.out}) {
      c->messages[e % n] = 0;
      c->bytes[e % n] = 0;
    }
  }
  t.bucket_epoch = epoch;
}

void HotnessPolicy::Observe(sctp_assoc_t id, uint64_t bytes, absl::Time now, Direction direction) {
  auto it = tracked_.find(id);
  if (it == tracked_.end()) return;
  Track& t = it->second;
  const int64_t epoch = Epoch(now);
  Advance(t, epoch);
  Counts& c = direction == Direction::kIn ? t.in : t.out;
  c.messages[epoch % options_.buckets] += 1;
  c.bytes[epoch % options_.buckets] += bytes;
}

double HotnessPolicy::Rate(const Track& t, const std::vector<uint64_t>& counts, absl::Time now) const {
  const int64_t epoch = Epoch(now);
  const int64_t n = options_.buckets;
  uint64_t sum = 0;
  for (int64_t e = epoch - n + 1; e <= std::min(epoch, t.bucket_epoch); ++e) {
    if (e > t.bucket_epoch - n) sum += counts[((e % n) + n) % n];
  }
  return double(sum) / absl::ToDoubleSeconds(options_.window);
}

double HotnessPolicy::Busier(const Track& t, std::vector<uint64_t> Counts::*which, absl::Time now) const {
  return std::max(Rate(t, t.in.*which, now), Rate(t, t.out.*which, now));
}

double HotnessPolicy::MessagesPerSec(sctp_assoc_t id, absl::Time now) const {
  auto it = tracked_.find(id);
  return it == tracked_.end() ? 0 : Busier(it->second, &Counts::messages, now);
}

double HotnessPolicy::BytesPerSec(sctp_assoc_t id, absl::Time now) const {
  auto it = tracked_.find(id);
  return it == tracked_.end() ? 0 : Busier(it->second, &Counts::bytes, now);
}

std::vector<sctp_assoc_t> HotnessPolicy::Evaluate(absl::Time now) {
  std::vector<std::pair<double, sctp_assoc_t>> hot;
  for (auto& [id, t] : tracked_) {
    if (t.verdict == Verdict::kNever) continue;
    const double mps = Busier(t, &Counts::messages, now);
    if (t.verdict == Verdict::kAlways) {
      hot.emplace_back(mps, id);
      continue;
    }
    const double bps = Busier(t, &Counts::bytes, now);
    auto above = [&](double factor) {
      return (options_.peel_messages_per_sec > 0 && mps > factor * options_.peel_messages_per_sec) ||
             (options_.peel_bytes_per_sec > 0 && bps > factor * options_.peel_bytes_per_sec);
    };
    if (!t.hot_since) {
      if (above(1.0)) t.hot_since = now;
    } else if (!above(options_.hysteresis)) {
      t.hot_since.reset();  // dropped out of the band: start over
    }
    if (t.hot_since && now - *t.hot_since >= options_.sustain) hot.emplace_back(mps, id);
  }
  std::sort(hot.begin(), hot.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<sctp_assoc_t> out;
  out.reserve(hot.size());
  for (const auto& h : hot) out.push_back(h.second);
  return out;
}

int PickWorker(const std::vector<WorkerLoad>& loads, unsigned cap) {
  int best = -1;
  for (size_t i = 0; i < loads.size(); ++i) {
    if (loads[i].peeled >= cap) continue;
    if (best < 0 || loads[i].messages_per_sec < loads[best].messages_per_sec) best = static_cast<int>(i);
  }
  return best;
}

}  // namespace sctpdp
