// Streams over bytes in memory, for the runtime sources of TVM that the wheel ships without them.
#ifndef DESKTOP_LLM_TVM_SRC_SUPPORT_BYTES_IO_H_
#define DESKTOP_LLM_TVM_SRC_SUPPORT_BYTES_IO_H_

#include <tvm/ffi/string.h>
#include <tvm/support/io.h>
#include <tvm/support/serializer.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace tvm {
namespace support {

// Reads from bytes it does not own: the caller keeps them alive while the stream is used.
class BytesInStream : public Stream {
 public:
  using Stream::Read;
  using Stream::Write;

  BytesInStream(const char* data, size_t size) : data_(data), size_(size) {}
  explicit BytesInStream(const std::string& bytes) : BytesInStream(bytes.data(), bytes.size()) {}
  explicit BytesInStream(const ffi::Bytes& bytes) : BytesInStream(bytes.data(), bytes.size()) {}

  size_t Read(void* ptr, size_t size) override {
    size_t count = std::min(size, size_ - position_);
    if (count != 0) std::memcpy(ptr, data_ + position_, count);
    position_ += count;
    return count;
  }
  size_t Write(const void*, size_t) override { return 0; }

 private:
  const char* data_;
  size_t size_;
  size_t position_ = 0;
};

// Appends to a string the caller owns.
class BytesOutStream : public Stream {
 public:
  using Stream::Read;
  using Stream::Write;

  explicit BytesOutStream(std::string* out) : out_(out) {}

  size_t Read(void*, size_t) override { return 0; }
  size_t Write(const void* ptr, size_t size) override {
    out_->append(static_cast<const char*>(ptr), size);
    return size;
  }

 private:
  std::string* out_;
};

}  // namespace support
}  // namespace tvm

#endif  // DESKTOP_LLM_TVM_SRC_SUPPORT_BYTES_IO_H_
