#include "tools/sctpdp/json_line.h"

#include <cmath>

namespace sctpdp {

double Rounded(double value, int decimals) {
  if (!std::isfinite(value)) return 0;
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

void PrintJsonLine(const Json& j, FILE* out) {
  // Strings here are engine names, modes and error text: replace, never
  // throw, on bytes that are not UTF-8.
  const std::string line = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::fprintf(out, "%s\n", line.c_str());
  std::fflush(out);
}

std::optional<Json> ParseJsonObject(std::string_view line) {
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

double NumberAt(const Json& j, std::string_view key, double fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(std::string(key));
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

Json ValueAt(const Json& j, std::string_view key, Json fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(std::string(key));
  return it != j.end() ? *it : fallback;
}

std::string StringAt(const Json& j, std::string_view key) {
  if (!j.is_object()) return "";
  const auto it = j.find(std::string(key));
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace sctpdp
