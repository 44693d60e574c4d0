// Base64 (RFC 4648, with padding) streams layered on another stream, used by TVM's runtime to
// put tensors into JSON.
#ifndef DESKTOP_LLM_TVM_SRC_SUPPORT_BASE64_H_
#define DESKTOP_LLM_TVM_SRC_SUPPORT_BASE64_H_

#include <tvm/support/io.h>

#include <cctype>
#include <cstdint>

namespace tvm {
namespace support {

namespace base64_detail {
inline const char* Alphabet() {
  return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}
inline int ValueOf(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace base64_detail

class Base64InStream : public Stream {
 public:
  using Stream::Read;
  using Stream::Write;

  explicit Base64InStream(Stream* source) : source_(source) {}

  // Skips leading whitespace; call once before reading.
  void InitPosition() { pending_ = NextNonSpace(); }

  size_t Read(void* ptr, size_t size) override {
    uint8_t* out = static_cast<uint8_t*>(ptr);
    size_t done = 0;
    while (done < size) {
      if (buffered_ == 0 && !Refill()) break;
      out[done++] = buffer_[3 - buffered_];
      --buffered_;
    }
    return done;
  }
  size_t Write(const void*, size_t) override { return 0; }

 private:
  int NextChar() {
    char c;
    return source_->Read(&c, 1) == 1 ? static_cast<unsigned char>(c) : -1;
  }
  int NextNonSpace() {
    int c = NextChar();
    while (c != -1 && std::isspace(c)) c = NextChar();
    return c;
  }
  // Decodes one group of four characters into up to three bytes.
  bool Refill() {
    int chars[4];
    for (int i = 0; i < 4; ++i) {
      chars[i] = (i == 0 && pending_ != -2) ? pending_ : NextChar();
      if (i == 0) pending_ = -2;
    }
    if (chars[0] == -1 || base64_detail::ValueOf(chars[0]) < 0) return false;
    uint32_t bits = 0;
    int bytes = 3;
    for (int i = 0; i < 4; ++i) {
      int value = base64_detail::ValueOf(chars[i]);
      if (value < 0) {
        if (chars[i] != '=' || i < 2) return false;
        bytes = std::min(bytes, i - 1);
        value = 0;
      }
      bits = (bits << 6) | static_cast<uint32_t>(value);
    }
    uint8_t group[3] = {static_cast<uint8_t>(bits >> 16), static_cast<uint8_t>(bits >> 8),
                        static_cast<uint8_t>(bits)};
    // Keep the decoded bytes right-aligned so that Read takes them from buffer_[3 - buffered_].
    for (int i = 0; i < bytes; ++i) buffer_[3 - bytes + i] = group[i];
    buffered_ = bytes;
    return bytes > 0;
  }

  Stream* source_;
  int pending_ = -2;  // -2: nothing pending; otherwise the first character of the next group
  uint8_t buffer_[3] = {0, 0, 0};
  int buffered_ = 0;
};

class Base64OutStream : public Stream {
 public:
  using Stream::Read;
  using Stream::Write;

  explicit Base64OutStream(Stream* sink) : sink_(sink) {}

  size_t Write(const void* ptr, size_t size) override {
    const uint8_t* in = static_cast<const uint8_t*>(ptr);
    for (size_t i = 0; i < size; ++i) {
      group_[grouped_++] = in[i];
      if (grouped_ == 3) Flush();
    }
    return size;
  }
  size_t Read(void*, size_t) override { return 0; }

  // Writes the last partial group with padding.
  void Finish() {
    if (grouped_ != 0) Flush();
  }

 private:
  void Flush() {
    const char* alphabet = base64_detail::Alphabet();
    uint32_t bits = (uint32_t{group_[0]} << 16) | (uint32_t{grouped_ > 1 ? group_[1] : 0u} << 8) |
                    uint32_t{grouped_ > 2 ? group_[2] : 0u};
    char out[4] = {alphabet[(bits >> 18) & 63], alphabet[(bits >> 12) & 63],
                   grouped_ > 1 ? alphabet[(bits >> 6) & 63] : '=',
                   grouped_ > 2 ? alphabet[bits & 63] : '='};
    sink_->Write(out, 4);
    grouped_ = 0;
  }

  Stream* sink_;
  uint8_t group_[3] = {0, 0, 0};
  int grouped_ = 0;
};

}  // namespace support
}  // namespace tvm

#endif  // DESKTOP_LLM_TVM_SRC_SUPPORT_BASE64_H_
