#include "tools/sctpdp/regress_side.h"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/sctpdp/flags.h"

namespace sctpdp {
namespace {

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// "key.name=value": a sysctl the guest can write under /proc/sys.
bool ValidSysctl(const std::string& kv) {
  const size_t eq = kv.find('=');
  if (eq == 0 || eq == std::string::npos || eq + 1 == kv.size()) return false;
  for (size_t i = 0; i < eq; ++i) {
    const char c = kv[i];
    if (!isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return kv.find_first_of("\n'\"\\") == std::string::npos;
}

FlagParser SideParser(Side* side, std::string* sysctls) {
  FlagParser p(
      "Side flags (after --side=NAME, up to the next --side):");
  p.String("kernel", &side->kernel,
           "a kernel setup cached (6.1, 6.12), an unpacked Debian package in the cache, or an image path");
  p.String("modules", &side->modules, "the kernel's module tree (lib/modules/RELEASE) for an image path");
  p.String("append", &side->append, "kernel command-line additions");
  p.String("sysctl", sysctls, "comma-separated KEY=VALUE sysctls set in the guest before the suite");
  p.String("setup", &side->setup, "a shell command run in the guest before the suite (e.g. a qdisc)");
  return p;
}

absl::StatusOr<Side> ParseOneSide(const std::string& name, std::vector<std::string> args, bool* help) {
  Side side;
  side.name = name;
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--side=", name, ": want a name of 1..32 letters, digits, '.', '_' or '-'"));
  }
  std::string sysctls;
  FlagParser p = SideParser(&side, &sysctls);
  std::vector<char*> argv = {const_cast<char*>("side")};
  for (std::string& a : args) argv.push_back(a.data());
  if (absl::Status s = p.Parse(static_cast<int>(argv.size()), argv.data(), 1); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("side ", name, ": ", s.message()));
  }
  if (p.help_requested()) *help = true;
  if (side.kernel.empty()) return absl::InvalidArgumentError(absl::StrCat("side ", name, ": --kernel is required"));
  for (absl::string_view kv : absl::StrSplit(sysctls, ',', absl::SkipEmpty())) {
    if (!ValidSysctl(std::string(kv))) {
      return absl::InvalidArgumentError(absl::StrCat("side ", name, ": --sysctl: bad '", kv, "' (want KEY=VALUE)"));
    }
    side.sysctls.emplace_back(kv);
  }
  if (side.append.find('\n') != std::string::npos || side.setup.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("side ", name, ": --append and --setup must be one line"));
  }
  return side;
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? buf : path;
}

// The one path matching `pattern`, or "".
std::string GlobOne(const std::string& pattern) {
  glob_t g;
  std::string out;
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc == 1) out = g.gl_pathv[0];
  globfree(&g);
  return out;
}

std::string Basename(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string SideFlagsHelp() {
  Side side;
  std::string sysctls;
  std::string help = SideParser(&side, &sysctls).Help();
  return help.substr(0, help.find("\nExit codes:"));
}

absl::StatusOr<std::vector<Side>> ParseSides(const std::vector<std::string>& args, bool* help) {
  std::vector<Side> sides;
  std::set<std::string> names;
  for (size_t i = 0; i < args.size();) {
    std::string name;
    if (absl::StartsWith(args[i], "--side=")) {
      name = args[i].substr(7);
    } else if (args[i] == "--side" && i + 1 < args.size()) {
      name = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("'", args[i], "' before any --side=NAME"));
    }
    size_t end = ++i;
    while (end < args.size() && args[end] != "--side" && !absl::StartsWith(args[end], "--side=")) ++end;
    absl::StatusOr<Side> side = ParseOneSide(name, {args.begin() + i, args.begin() + end}, help);
    if (!side.ok()) return side.status();
    if (!names.insert(name).second) return absl::InvalidArgumentError("two sides named " + name);
    sides.push_back(*std::move(side));
    i = end;
  }
  if (sides.empty()) {
    sides = {Side{.name = "6.1", .kernel = "6.1"}, Side{.name = "6.12", .kernel = "6.12"}};
  }
  if (sides.size() < 2 && !*help) return absl::InvalidArgumentError("want at least two sides (--side=NAME ...)");
  return sides;
}

absl::Status ResolveKernel(const std::string& cache, Side* side) {
  const std::string& k = side->kernel;
  std::string image, modules = side->modules;
  if (k.find('/') == std::string::npos && IsFile(cache + "/vmlinuz-" + k)) {
    image = cache + "/vmlinuz-" + k;
    if (modules.empty()) modules = cache + "/modules-" + k;
  } else if (k.find('/') == std::string::npos && IsDir(cache + "/" + k + "/boot")) {
    image = GlobOne(cache + "/" + k + "/boot/vmlinuz-*");
    if (modules.empty()) modules = GlobOne(cache + "/" + k + "/lib/modules/*");
  } else if (IsFile(k)) {
    image = k;
    // An unpacked package: boot/vmlinuz-RELEASE beside lib/modules/RELEASE.
    const std::string base = Basename(k);
    if (modules.empty() && absl::StartsWith(base, "vmlinuz-")) {
      const std::string guess = k.substr(0, k.size() - base.size()) + "../lib/modules/" + base.substr(8);
      if (IsDir(guess)) modules = guess;
    }
  }
  if (image.empty() || !IsFile(image)) {
    return absl::NotFoundError(absl::StrCat("side ", side->name, ": no kernel '", k, "': not a kernel setup cached in ",
                                            cache, " (run tools/setup.sh), nor an unpacked package there, nor a file"));
  }
  if (modules.empty() || !IsDir(modules)) {
    return absl::NotFoundError(absl::StrCat("side ", side->name, ": no module tree for ", k,
                                            modules.empty() ? "" : " at " + modules, " (pass --modules DIR)"));
  }
  side->image = RealPath(image);
  side->modules = RealPath(modules);
  side->release = Basename(side->modules);
  return absl::OkStatus();
}

}  // namespace sctpdp
