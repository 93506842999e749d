#include "tools/sctpdp/flags.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace sctpdp {
namespace {

absl::Status Bad(const std::string& flag, const std::string& value, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, "=", value, ": ", why));
}

absl::Status ParseIntIn(const std::string& name, const std::string& v, int64_t min, int64_t max, int64_t* out) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(v, &n)) return Bad(name, v, "not an integer");
  if (n < min || n > max) return Bad(name, v, absl::StrCat("must be ", min, "..", max));
  *out = n;
  return absl::OkStatus();
}

absl::Status ParseDurationIn(const std::string& name, const std::string& v, absl::Duration min, absl::Duration max,
                             absl::Duration* out) {
  absl::Duration d;
  if (!absl::ParseDuration(v, &d) || d < min || d > max) {
    return Bad(name, v,
               absl::StrCat("want a duration from ", absl::FormatDuration(min), " to ", absl::FormatDuration(max),
                            " (e.g. 500us, 1ms)"));
  }
  *out = d;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> ParseSize(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  uint64_t n = 0;
  if (i == 0 || !absl::SimpleAtoi(text.substr(0, i), &n)) return absl::InvalidArgumentError("not a size");
  std::string unit = text.substr(i);
  uint64_t mult = 1;
  if (unit.empty() || unit == "B") {
  } else if (unit == "k" || unit == "K" || unit == "KiB" || unit == "kB") {
    mult = 1024;
  } else if (unit == "M" || unit == "MiB" || unit == "MB") {
    mult = 1024 * 1024;
  } else {
    return absl::InvalidArgumentError("unknown size unit '" + unit + "' (B, KiB, MiB)");
  }
  if (n > (uint64_t{1} << 40) / mult) return absl::InvalidArgumentError("size too large");
  return n * mult;
}

absl::StatusOr<Endpoint> ParseEndpoint(const std::string& text) {
  Endpoint e;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find("]:");
    if (close == std::string::npos) return absl::InvalidArgumentError("want [IPv6]:PORT");
    e.address = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return absl::InvalidArgumentError("want ADDRESS:PORT or [IPv6]:PORT");
    }
    e.address = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, e.address.c_str(), buf) != 1 && inet_pton(AF_INET6, e.address.c_str(), buf) != 1) {
    return absl::InvalidArgumentError("'" + e.address + "' is not an IP address");
  }
  uint32_t p = 0;
  if (!absl::SimpleAtoi(port, &p) || p > 65535) return absl::InvalidArgumentError("bad port '" + port + "'");
  e.port = static_cast<uint16_t>(p);
  return e;
}

absl::StatusOr<std::vector<std::string>> ParseAddressList(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return absl::InvalidArgumentError("no address");
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::string a(part);
    if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET, a.c_str(), buf) != 1 && inet_pton(AF_INET6, a.c_str(), buf) != 1) {
      return absl::InvalidArgumentError("'" + std::string(part) + "' is not an IP address");
    }
    for (const std::string& seen : out) {
      if (seen == a) return absl::InvalidArgumentError("'" + a + "' given twice");
    }
    out.push_back(a);
  }
  if (out.size() > 16) return absl::InvalidArgumentError("at most 16 addresses");
  return out;
}

absl::StatusOr<MultiEndpoint> ParseMultiEndpoint(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError("want ADDR[,ADDR...]:PORT (IPv6 in brackets)");
  }
  // A colon inside a bare IPv6 literal would be taken for the port's.
  const std::string list = text.substr(0, colon);
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    if (part.find(':') != absl::string_view::npos && !(part.front() == '[' && part.back() == ']')) {
      return absl::InvalidArgumentError("IPv6 address '" + std::string(part) + "' needs brackets: [" +
                                        std::string(part) + "]:PORT");
    }
  }
  MultiEndpoint e;
  absl::StatusOr<std::vector<std::string>> addresses = ParseAddressList(list);
  if (!addresses.ok()) return addresses.status();
  e.addresses = *std::move(addresses);
  const std::string port = text.substr(colon + 1);
  uint32_t p = 0;
  if (!absl::SimpleAtoi(port, &p) || p == 0 || p > 65535) return absl::InvalidArgumentError("bad port '" + port + "'");
  e.port = static_cast<uint16_t>(p);
  return e;
}

absl::StatusOr<std::vector<int>> ParseCpuList(const std::string& text) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::vector<std::string> range = absl::StrSplit(part, '-');
    int lo = 0, hi = 0;
    if (range.size() > 2 || !absl::SimpleAtoi(range[0], &lo) ||
        !absl::SimpleAtoi(range.size() == 2 ? range[1] : range[0], &hi) || lo < 0 || hi < lo || hi > 4095) {
      return absl::InvalidArgumentError(absl::StrCat("bad CPU list part '", part, "' (want N or N-M)"));
    }
    for (int c = lo; c <= hi; ++c) out.push_back(c);
  }
  if (out.empty() || out.size() > 255) return absl::InvalidArgumentError("want 1..255 CPUs");
  return out;
}

void FlagParser::String(const std::string& name, std::string* out, const std::string& help) {
  Add({name, help, *out, false, [out](const std::string& v) { *out = v; return absl::OkStatus(); }});
}

void FlagParser::Int(const std::string& name, int64_t* out, int64_t min, int64_t max, const std::string& help) {
  Add({name, help, std::to_string(*out), false,
       [=](const std::string& v) { return ParseIntIn(name, v, min, max, out); }});
}

void FlagParser::OptionalInt(const std::string& name, std::optional<int64_t>* out, int64_t min, int64_t max,
                             const std::string& help) {
  Add({name, help, "unset", false, [=](const std::string& v) {
         int64_t n = 0;
         if (absl::Status s = ParseIntIn(name, v, min, max, &n); !s.ok()) return s;
         *out = n;
         return absl::OkStatus();
       }});
}

void FlagParser::Double(const std::string& name, double* out, double min, double max, const std::string& help) {
  Add({name, help, absl::StrCat(*out), false, [=](const std::string& v) {
         double d = 0;
         if (!absl::SimpleAtod(v, &d)) return Bad(name, v, "not a number");
         if (!(d >= min && d <= max)) return Bad(name, v, absl::StrCat("must be ", min, "..", max));
         *out = d;
         return absl::OkStatus();
       }});
}

void FlagParser::Size(const std::string& name, uint64_t* out, uint64_t min, uint64_t max, const std::string& help) {
  Add({name, help, std::to_string(*out), false, [=](const std::string& v) {
         auto n = ParseSize(v);
         if (!n.ok()) return Bad(name, v, std::string(n.status().message()));
         if (*n < min || *n > max) return Bad(name, v, absl::StrCat("must be ", min, "..", max, " bytes"));
         *out = *n;
         return absl::OkStatus();
       }});
}

std::optional<int> FlagParser::ParseCommand(int argc, char** argv, int first, const char* who) {
  if (absl::Status s = Parse(argc, argv, first); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", who, std::string(s.message()).c_str());
    return kExitUsage;
  }
  if (help_requested()) {
    std::printf("%s", Help().c_str());
    return kExitOk;
  }
  return std::nullopt;
}

void FlagParser::Duration(const std::string& name, absl::Duration* out, const std::string& help) {
  Add({name, help, absl::FormatDuration(*out), false, [=](const std::string& v) {
         absl::Duration d;
         if (!absl::ParseDuration(v, &d) || d <= absl::ZeroDuration()) {
           return Bad(name, v, "want a positive duration (10s, 250ms)");
         }
         *out = d;
         return absl::OkStatus();
       }});
}

void FlagParser::Duration(const std::string& name, absl::Duration* out, absl::Duration min, absl::Duration max,
                          const std::string& help) {
  Add({name, help, absl::FormatDuration(*out), false,
       [=](const std::string& v) { return ParseDurationIn(name, v, min, max, out); }});
}

void FlagParser::OptionalDuration(const std::string& name, std::optional<absl::Duration>* out, absl::Duration min,
                                  absl::Duration max, const std::string& help) {
  Add({name, help, "unset", false, [=](const std::string& v) {
         absl::Duration d;
         if (absl::Status s = ParseDurationIn(name, v, min, max, &d); !s.ok()) return s;
         *out = d;
         return absl::OkStatus();
       }});
}

void FlagParser::Bool(const std::string& name, bool* out, const std::string& help) {
  Add({name, help, *out ? "true" : "false", true, [=](const std::string& v) {
         if (v == "true" || v == "1") {
           *out = true;
         } else if (v == "false" || v == "0") {
           *out = false;
         } else {
           return Bad(name, v, "want true or false");
         }
         return absl::OkStatus();
       }});
}

void FlagParser::Choice(const std::string& name, std::string* out, std::vector<std::string> choices,
                        const std::string& help) {
  Add({name, absl::StrCat(help, " (", absl::StrJoin(choices, "|"), ")"), *out, false,
       [=](const std::string& v) {
         for (const auto& c : choices) {
           if (c == v) {
             *out = v;
             return absl::OkStatus();
           }
         }
         return Bad(name, v, absl::StrCat("want one of ", absl::StrJoin(choices, ", ")));
       }});
}

void FlagParser::Endpoints(const std::string& name, std::vector<Endpoint>* out, const std::string& help) {
  Add({name, help, "", false, [=](const std::string& v) {
         out->clear();
         for (absl::string_view part : absl::StrSplit(v, ',')) {
           auto e = ParseEndpoint(std::string(part));
           if (!e.ok()) return Bad(name, v, std::string(e.status().message()));
           out->push_back(*e);
         }
         return absl::OkStatus();
       }});
}

void FlagParser::MultiEndpoint(const std::string& name, struct MultiEndpoint* out, const std::string& help) {
  Add({name, help, "", false, [=](const std::string& v) {
         auto e = ParseMultiEndpoint(v);
         if (!e.ok()) return Bad(name, v, std::string(e.status().message()));
         *out = *std::move(e);
         return absl::OkStatus();
       }});
}

void FlagParser::Addresses(const std::string& name, std::vector<std::string>* out, const std::string& help) {
  Add({name, help, "", false, [=](const std::string& v) {
         auto a = ParseAddressList(v);
         if (!a.ok()) return Bad(name, v, std::string(a.status().message()));
         *out = *std::move(a);
         return absl::OkStatus();
       }});
}

bool FlagParser::given(const std::string& name) const {
  return std::find(given_.begin(), given_.end(), name) != given_.end();
}

void FlagParser::Cpus(const std::string& name, std::vector<int>* out, const std::string& help) {
  Add({name, help, "all", false, [=](const std::string& v) {
         auto cpus = ParseCpuList(v);
         if (!cpus.ok()) return Bad(name, v, std::string(cpus.status().message()));
         *out = *cpus;
         return absl::OkStatus();
       }});
}

const FlagParser::Flag* FlagParser::Find(const std::string& name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

absl::Status FlagParser::Parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      return absl::OkStatus();
    }
    if (arg.rfind("--", 0) != 0) return absl::InvalidArgumentError("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Flag* f = Find(name);
    if (f == nullptr && !has_value && name.rfind("no-", 0) == 0 && (f = Find(name.substr(3))) && f->is_bool) {
      if (absl::Status s = f->set("false"); !s.ok()) return s;
      given_.push_back(f->name);
      continue;
    }
    if (f == nullptr) return absl::InvalidArgumentError("unknown flag --" + name + " (see --help)");
    if (!has_value) {
      if (f->is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError("--" + name + " needs a value");
      }
    }
    if (absl::Status s = f->set(value); !s.ok()) return s;
    given_.push_back(f->name);
  }
  return absl::OkStatus();
}

std::string FlagParser::Help() const {
  std::ostringstream out;
  out << usage_ << "\n\nFlags:\n";
  for (const Flag& f : flags_) {
    out << "  --" << f.name << (f.is_bool ? "" : "=VALUE") << "\n      " << f.help;
    if (!f.default_text.empty()) out << " [default: " << f.default_text << "]";
    out << "\n";
  }
  out << "\nExit codes: 0 ok, 1 run failed, 2 bad flag or value, 3 cannot bind/connect, 4 no SCTP.\n";
  return out.str();
}

}  // namespace sctpdp
