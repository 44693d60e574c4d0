// A growable byte queue, used by TVM's RPC endpoint (compiled into the web runtime, unused by
// model libraries).
#ifndef DESKTOP_LLM_TVM_SRC_SUPPORT_RING_BUFFER_H_
#define DESKTOP_LLM_TVM_SRC_SUPPORT_RING_BUFFER_H_

#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

namespace tvm {
namespace support {

class RingBuffer {
 public:
  size_t bytes_available() const { return bytes_.size(); }

  // A deque grows on demand; reserving is only a hint.
  void Reserve(size_t) {}

  void Read(void* ptr, size_t size) {
    size = std::min(size, bytes_.size());
    std::copy(bytes_.begin(), bytes_.begin() + size, static_cast<char*>(ptr));
    bytes_.erase(bytes_.begin(), bytes_.begin() + size);
  }

  void Write(const void* ptr, size_t size) {
    const char* in = static_cast<const char*>(ptr);
    bytes_.insert(bytes_.end(), in, in + size);
  }

  // Hands up to max_bytes to `consume(const void*, size_t) -> size_t` and drops what it took.
  template <typename F>
  size_t ReadWithCallback(F consume, size_t max_bytes) {
    size_t size = std::min(max_bytes, bytes_.size());
    std::vector<char> chunk(bytes_.begin(), bytes_.begin() + size);
    size_t taken = size == 0 ? 0 : consume(chunk.data(), size);
    bytes_.erase(bytes_.begin(), bytes_.begin() + std::min(taken, size));
    return taken;
  }

  // Lets `produce(void*, size_t) -> size_t` fill up to max_bytes and keeps what it wrote.
  template <typename F>
  size_t WriteWithCallback(F produce, size_t max_bytes) {
    std::vector<char> chunk(max_bytes);
    size_t made = max_bytes == 0 ? 0 : produce(chunk.data(), max_bytes);
    bytes_.insert(bytes_.end(), chunk.begin(), chunk.begin() + std::min(made, max_bytes));
    return made;
  }

 private:
  std::deque<char> bytes_;
};

}  // namespace support
}  // namespace tvm

#endif  // DESKTOP_LLM_TVM_SRC_SUPPORT_RING_BUFFER_H_
