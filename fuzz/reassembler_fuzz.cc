// Fuzzes the Reassembler against a model: pieces of messages and
// notifications from one or several associations, interleaved, empty,
// oversize, in any order. What comes out whole is exactly the bytes that
// went in since the last whole message, dropped run or interleaving; nothing
// is ever held past the limit. Input: two bytes of limit, then per piece a
// control byte (MSG_EOR, notification, one of four keys, recycle the storage)
// and a length byte, its payload taken from what follows.
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "dataplane/reassembler.h"
#include "fuzz/fuzz_check.h"

namespace {

using sctpdp::Reassembler;

struct Model {
  std::string bytes;
  bool notification = false;
  uint32_t key = 0;
};

void Check(Reassembler& r, Reassembler::Result result, Model& model, const sctpdp::RecvParts& piece, bool eor,
           uint32_t key, bool recycle, size_t max) {
  const bool notification = piece.msg_flags & MSG_NOTIFICATION;
  const std::string in(piece.payload.data(), piece.payload.size());
  if (!model.bytes.empty() && (notification != model.notification || key != model.key)) {
    FUZZ_CHECK(result == Reassembler::Result::kInterleaved);
    model.bytes.clear();
    FUZZ_CHECK(!r.in_progress());
    return;
  }
  if (model.bytes.size() + in.size() > max) {
    FUZZ_CHECK(result == Reassembler::Result::kOversize);
    model.bytes.clear();
    FUZZ_CHECK(!r.in_progress());
    return;
  }
  if (model.bytes.empty()) {
    model.notification = notification;
    model.key = key;
  }
  model.bytes += in;
  FUZZ_CHECK(result == (eor ? Reassembler::Result::kWhole : Reassembler::Result::kPartial));
  FUZZ_CHECK(r.length() == model.bytes.size());
  if (!eor) return;
  Reassembler::Whole whole = r.Take();
  FUZZ_CHECK(whole.length == model.bytes.size() && whole.length <= max);
  FUZZ_CHECK(whole.notification == model.notification);
  FUZZ_CHECK(whole.length == 0 || std::string(whole.data.get(), whole.length) == model.bytes);
  FUZZ_CHECK(!r.in_progress());
  model.bytes.clear();
  if (recycle) r.Recycle(std::move(whole));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const size_t max = 1 + ((size_t{data[0]} << 8 | data[1]) % 4096);
  const size_t first_capacity = data[2] % 2 ? max / 4 : 0;
  Reassembler r(max, first_capacity);
  Model model;
  size_t at = 3;
  while (at + 2 <= size) {
    const uint8_t control = data[at];
    size_t n = data[at + 1] * (control & 0x40 ? 16 : 1);
    at += 2;
    if (n > size - at) n = size - at;
    sctpdp::RecvParts piece;
    piece.payload = absl::MakeConstSpan(reinterpret_cast<const char*>(data + at), n);
    piece.msg_flags = (control & 1 ? MSG_EOR : 0) | (control & 2 ? MSG_NOTIFICATION : 0);
    at += n;
    const bool eor = control & 1;
    const uint32_t key = (control >> 2) & 3;
    const Reassembler::Result result = r.Add(piece, eor, key);
    Check(r, result, model, piece, eor, key, control & 0x80, max);
  }
  return 0;
}
