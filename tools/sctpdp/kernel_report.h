// The kernel's per-association statistics (uring: KernelReport) as serve
// writes them: a "kernel" object in its JSON stats lines, and Prometheus
// metrics with bounded cardinality (the totals over every association, then
// the busiest few one by one, labelled by association, peer and path).
#ifndef SCTPDP_TOOLS_SCTPDP_KERNEL_REPORT_H_
#define SCTPDP_TOOLS_SCTPDP_KERNEL_REPORT_H_

#include <string>

#include "tools/sctpdp/engine.h"
#include "tools/sctpdp/json_line.h"

namespace sctpdp {

Json KernelReportJson(const KernelReport& report);
// Appends the metrics of `report` to `out` (labels: engine="`engine`").
void AppendKernelMetrics(const KernelReport& report, const std::string& engine, std::string& out);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_KERNEL_REPORT_H_
