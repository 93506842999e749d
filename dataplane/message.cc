#include "dataplane/message.h"

namespace sctpdp {

const char* DownReasonName(DownReason reason) {
  switch (reason) {
    case DownReason::kShutdown: return "shutdown";
    case DownReason::kCommLost: return "comm_lost";
    case DownReason::kPeerClosed: return "peer_closed";
    case DownReason::kError: return "error";
    case DownReason::kOversize: return "oversize";
    case DownReason::kAborted: return "aborted";
    case DownReason::kStopped: return "stopped";
  }
  return "unknown";
}

const char* SendResultName(SendResult result) {
  switch (result) {
    case SendResult::kOk: return "ok";
    case SendResult::kQueueFull: return "queue_full";
    case SendResult::kNoBuffers: return "no_buffers";
    case SendResult::kTooBig: return "too_big";
    case SendResult::kNoAssociation: return "no_association";
    case SendResult::kClosing: return "closing";
    case SendResult::kBadStream: return "bad_stream";
    case SendResult::kBadFlags: return "bad_flags";
  }
  return "unknown";
}

}  // namespace sctpdp
