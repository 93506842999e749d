#include "dataplane/send_buffer.h"

#include <algorithm>
#include <cstring>

#include "absl/base/internal/raw_logging.h"
#include "dataplane/parcel_pool.h"
#include "dataplane/send_pool.h"

namespace sctpdp {

unsigned SendBuffer::segments() const {
  if (parcels_ != nullptr) return parcels_->parcel(id_).segments;
  return pool_->desc(id_).segments;
}

absl::Span<char> SendBuffer::segment(unsigned i) const {
  if (parcels_ != nullptr) return parcels_->segment(id_, i);
  const iovec& v = pool_->desc(id_).iov[i];
  return absl::MakeSpan(static_cast<char*>(v.iov_base), v.iov_len);
}

void SendBuffer::Write(size_t offset, absl::Span<const char> bytes) {
  ABSL_RAW_CHECK(offset + bytes.size() <= size_, "SendBuffer::Write past the end");
  for (unsigned i = 0; i < segments() && !bytes.empty(); ++i) {
    absl::Span<char> seg = segment(i);
    if (offset >= seg.size()) {
      offset -= seg.size();
      continue;
    }
    const size_t n = std::min(seg.size() - offset, bytes.size());
    std::memcpy(seg.data() + offset, bytes.data(), n);
    bytes.remove_prefix(n);
    offset = 0;
  }
}

}  // namespace sctpdp
