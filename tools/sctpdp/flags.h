// Flags of the sctpdp subcommands: typed, range-checked, each error one line
// naming the flag. Values: integers, sizes ("1500", "16KiB", "1M"),
// durations ("10s", "250ms"), endpoints ("127.0.0.1:2905", "[::1]:2905"),
// CPU lists ("0-3,6"), choices, booleans (--name / --no-name).
#ifndef SCTPDP_TOOLS_SCTPDP_FLAGS_H_
#define SCTPDP_TOOLS_SCTPDP_FLAGS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sctpdp {

// Exit codes of the sctpdp tool (documented in --help and the README).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // the run failed (verify found errors, I/O error)
inline constexpr int kExitUsage = 2;     // a bad flag or value
inline constexpr int kExitAddress = 3;   // cannot bind or connect (address in use, refused)
inline constexpr int kExitNoSctp = 4;    // no kernel SCTP and no guest to run in

struct Endpoint {
  std::string address;  // literal
  uint16_t port = 0;
};

// A multi-homed peer: its addresses (IPv4 and IPv6 mixed as needed) on one
// port, as sctp_connectx takes them.
struct MultiEndpoint {
  std::vector<std::string> addresses;  // literals, primary first
  uint16_t port = 0;
};

absl::StatusOr<uint64_t> ParseSize(const std::string& text);  // bytes
absl::StatusOr<Endpoint> ParseEndpoint(const std::string& text);
// "ADDR[,ADDR...]": IPv4 and IPv6 literals, IPv6 bare or in brackets; at
// most 16, none twice.
absl::StatusOr<std::vector<std::string>> ParseAddressList(const std::string& text);
// "ADDR[,ADDR...]:PORT": the same list, then the port after the last colon;
// an IPv6 address in the list must be in brackets ("[::1]:2905",
// "10.0.0.1,[2001:db8::1]:2905").
absl::StatusOr<MultiEndpoint> ParseMultiEndpoint(const std::string& text);
absl::StatusOr<std::vector<int>> ParseCpuList(const std::string& text);

class FlagParser {
 public:
  explicit FlagParser(std::string usage) : usage_(std::move(usage)) {}

  void String(const std::string& name, std::string* out, const std::string& help);
  void Int(const std::string& name, int64_t* out, int64_t min, int64_t max, const std::string& help);
  void Double(const std::string& name, double* out, double min, double max, const std::string& help);
  void Size(const std::string& name, uint64_t* out, uint64_t min, uint64_t max, const std::string& help);
  void Duration(const std::string& name, absl::Duration* out, const std::string& help);  // > 0
  void Duration(const std::string& name, absl::Duration* out, absl::Duration min, absl::Duration max,
                const std::string& help);
  // Unset (nullopt) unless given: for values whose default is someone
  // else's (the kernel's).
  void OptionalInt(const std::string& name, std::optional<int64_t>* out, int64_t min, int64_t max,
                   const std::string& help);
  void OptionalDuration(const std::string& name, std::optional<absl::Duration>* out, absl::Duration min,
                        absl::Duration max, const std::string& help);
  void Bool(const std::string& name, bool* out, const std::string& help);
  void Choice(const std::string& name, std::string* out, std::vector<std::string> choices, const std::string& help);
  void Endpoints(const std::string& name, std::vector<Endpoint>* out, const std::string& help);
  void MultiEndpoint(const std::string& name, struct MultiEndpoint* out, const std::string& help);
  void Addresses(const std::string& name, std::vector<std::string>* out, const std::string& help);
  void Cpus(const std::string& name, std::vector<int>* out, const std::string& help);

  // Parses argv[first..]: "--name=value", "--name value", "--name"/"--no-name"
  // for booleans. "--help" sets help_requested() and stops.
  absl::Status Parse(int argc, char** argv, int first = 1);
  bool help_requested() const { return help_; }
  // Whether the last Parse set flag `name` (any value).
  bool given(const std::string& name) const;
  // A subcommand's start: parses argv[first..]; on a bad flag prints
  // "<who>: <error>" and returns kExitUsage, on --help prints Help() and
  // returns kExitOk; otherwise (go on) nothing.
  std::optional<int> ParseCommand(int argc, char** argv, int first, const char* who);
  std::string Help() const;

 private:
  struct Flag {
    std::string name, help, default_text;
    bool is_bool = false;
    std::function<absl::Status(const std::string&)> set;
  };
  std::vector<std::string> given_;
  void Add(Flag flag) { flags_.push_back(std::move(flag)); }
  const Flag* Find(const std::string& name) const;

  std::string usage_;
  std::vector<Flag> flags_;
  bool help_ = false;
};

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_FLAGS_H_
