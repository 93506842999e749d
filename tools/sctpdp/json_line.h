// The JSON lines `serve`, `load` and `bench` write and read, through
// nlohmann/json (Debian's nlohmann-json3-dev). Objects keep their keys in
// the order written (ordered_json): a line reads as it always did, "type"
// first, and a shell test's grep for "type":"cell",... still matches.
#ifndef SCTPDP_TOOLS_SCTPDP_JSON_LINE_H_
#define SCTPDP_TOOLS_SCTPDP_JSON_LINE_H_

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace sctpdp {

using Json = nlohmann::ordered_json;

// `value` rounded to `decimals` places, so that a line carries the digits
// that mean something (0.1489, not 0.14893617021276595). Not finite: 0.
double Rounded(double value, int decimals);

// `j` on one line of `out`, flushed (a reader may be waiting on a pipe).
void PrintJsonLine(const Json& j, FILE* out = stdout);

// One line as a JSON object; nothing when it is not one.
std::optional<Json> ParseJsonObject(std::string_view line);

// j[key] when it is a number, else `fallback` (a line without the key, or
// with a value of another type, reads as without it).
double NumberAt(const Json& j, std::string_view key, double fallback = 0);
// j[key] when `j` is an object that has it, else `fallback`.
Json ValueAt(const Json& j, std::string_view key, Json fallback);
// j[key] when it is a string, else "".
std::string StringAt(const Json& j, std::string_view key);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_JSON_LINE_H_
