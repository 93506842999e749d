// Internal to sctpdp: the engine constructors (see engine.h).
#ifndef SCTPDP_TOOLS_SCTPDP_ENGINES_H_
#define SCTPDP_TOOLS_SCTPDP_ENGINES_H_

#include <memory>

#include "tools/sctpdp/engine.h"

namespace sctpdp {
std::unique_ptr<Engine> MakeUringEngine(const ServeConfig& config, MessageSink* sink);
std::unique_ptr<Engine> MakeEpollEngine(const ServeConfig& config, MessageSink* sink);
std::unique_ptr<Engine> MakeThreadsEngine(const ServeConfig& config, MessageSink* sink);
}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_ENGINES_H_
