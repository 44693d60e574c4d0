// Desktop LLM's own version of the binary stream interface that TVM's runtime sources include.
// The PyPI wheel of apache-tvm ships the runtime sources but not this header; this file meets
// the same contract: raw virtual Read/Write, typed Read/Write through Serializer<T>.
#ifndef DESKTOP_LLM_TVM_SUPPORT_IO_H_
#define DESKTOP_LLM_TVM_SUPPORT_IO_H_

#include <cstddef>
#include <cstdint>

namespace tvm {
namespace support {

// Specialised in serializer.h (and by runtime headers for their own types).
template <typename T, typename Enable = void>
struct Serializer {
  static constexpr bool enabled = false;
};

class Stream {
 public:
  virtual ~Stream() = default;
  // Raw bytes; both return how many bytes were moved.
  virtual size_t Read(void* ptr, size_t size) = 0;
  virtual size_t Write(const void* ptr, size_t size) = 0;

  template <typename T>
  void Write(const T& value) {
    static_assert(Serializer<T>::enabled, "this type has no Serializer");
    Serializer<T>::Write(this, value);
  }

  template <typename T>
  bool Read(T* out) {
    static_assert(Serializer<T>::enabled, "this type has no Serializer");
    return Serializer<T>::Read(this, out);
  }

  template <typename T>
  void WriteArray(const T* values, size_t count) {
    for (size_t i = 0; i < count; ++i) Write<T>(values[i]);
  }

  template <typename T>
  bool ReadArray(T* out, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      if (!Read<T>(out + i)) return false;
    }
    return true;
  }
};

}  // namespace support
}  // namespace tvm

#endif  // DESKTOP_LLM_TVM_SUPPORT_IO_H_
