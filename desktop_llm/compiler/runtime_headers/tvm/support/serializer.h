// Serializer<T> for the types TVM's runtime reads from a compiled model library: numbers, enums,
// strings, vectors, pairs, maps, ffi containers, DLDataType and DLDevice. The byte layout is the
// one the compiler writes: little-endian values, and a uint64 count before every sequence.
// WebAssembly is little-endian, so values are copied as they are.
#ifndef DESKTOP_LLM_TVM_SUPPORT_SERIALIZER_H_
#define DESKTOP_LLM_TVM_SUPPORT_SERIALIZER_H_

#include <dlpack/dlpack.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/map.h>
#include <tvm/ffi/string.h>
#include <tvm/support/io.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tvm {
namespace support {

template <typename T>
struct Serializer<T, std::enable_if_t<std::is_arithmetic_v<T>>> {
  static constexpr bool enabled = true;
  static void Write(Stream* out, const T& value) { out->Write(&value, sizeof(T)); }
  static bool Read(Stream* in, T* value) { return in->Read(value, sizeof(T)) == sizeof(T); }
};

template <typename T>
struct Serializer<T, std::enable_if_t<std::is_enum_v<T>>> {
  static constexpr bool enabled = true;
  using Underlying = std::underlying_type_t<T>;
  static void Write(Stream* out, const T& value) {
    Serializer<Underlying>::Write(out, static_cast<Underlying>(value));
  }
  static bool Read(Stream* in, T* value) {
    Underlying raw;
    if (!Serializer<Underlying>::Read(in, &raw)) return false;
    *value = static_cast<T>(raw);
    return true;
  }
};

namespace detail {
inline void WriteCount(Stream* out, size_t count) {
  Serializer<uint64_t>::Write(out, static_cast<uint64_t>(count));
}
inline bool ReadCount(Stream* in, uint64_t* count) { return Serializer<uint64_t>::Read(in, count); }
}  // namespace detail

template <>
struct Serializer<std::string> {
  static constexpr bool enabled = true;
  static void Write(Stream* out, const std::string& text) {
    detail::WriteCount(out, text.size());
    if (!text.empty()) out->Write(text.data(), text.size());
  }
  static bool Read(Stream* in, std::string* text) {
    uint64_t count;
    if (!detail::ReadCount(in, &count)) return false;
    text->resize(static_cast<size_t>(count));
    return count == 0 || in->Read(&(*text)[0], text->size()) == text->size();
  }
};

template <typename T>
struct Serializer<std::vector<T>> {
  static constexpr bool enabled = true;
  static void Write(Stream* out, const std::vector<T>& items) {
    detail::WriteCount(out, items.size());
    if constexpr (std::is_arithmetic_v<T>) {
      if (!items.empty()) out->Write(items.data(), sizeof(T) * items.size());
    } else {
      for (const T& item : items) Serializer<T>::Write(out, item);
    }
  }
  static bool Read(Stream* in, std::vector<T>* items) {
    uint64_t count;
    if (!detail::ReadCount(in, &count)) return false;
    items->resize(static_cast<size_t>(count));
    if constexpr (std::is_arithmetic_v<T>) {
      size_t bytes = sizeof(T) * items->size();
      return bytes == 0 || in->Read(items->data(), bytes) == bytes;
    } else {
      for (T& item : *items) {
        if (!Serializer<T>::Read(in, &item)) return false;
      }
      return true;
    }
  }
};

template <typename A, typename B>
struct Serializer<std::pair<A, B>> {
  static constexpr bool enabled = true;
  static void Write(Stream* out, const std::pair<A, B>& pair) {
    Serializer<A>::Write(out, pair.first);
    Serializer<B>::Write(out, pair.second);
  }
  static bool Read(Stream* in, std::pair<A, B>* pair) {
    return Serializer<A>::Read(in, &pair->first) && Serializer<B>::Read(in, &pair->second);
  }
};

template <typename K, typename V>
struct Serializer<std::unordered_map<K, V>> {
  static constexpr bool enabled = true;
  static void Write(Stream* out, const std::unordered_map<K, V>& map) {
    detail::WriteCount(out, map.size());
    for (const auto& entry : map) {
      Serializer<K>::Write(out, entry.first);
      Serializer<V>::Write(out, entry.second);
    }
  }
  static bool Read(Stream* in, std::unordered_map<K, V>* map) {
    uint64_t count;
    if (!detail::ReadCount(in, &count)) return false;
    map->clear();
    for (uint64_t i = 0; i < count; ++i) {
      K key;
      V value;
      if (!Serializer<K>::Read(in, &key) || !Serializer<V>::Read(in, &value)) return false;
      map->emplace(std::move(key), std::move(value));
    }
    return true;
  }
};

template <>
struct Serializer<ffi::String> {
  static constexpr bool enabled = true;
  static void Write(Stream* out, const ffi::String& text) {
    detail::WriteCount(out, text.size());
    if (text.size() != 0) out->Write(text.data(), text.size());
  }
  static bool Read(Stream* in, ffi::String* text) {
    std::string plain;
    if (!Serializer<std::string>::Read(in, &plain)) return false;
    *text = ffi::String(std::move(plain));
    return true;
  }
};

template <typename T>
struct Serializer<ffi::Array<T>> {
  static constexpr bool enabled = true;
  static void Write(Stream* out, const ffi::Array<T>& items) {
    detail::WriteCount(out, items.size());
    for (size_t i = 0; i < items.size(); ++i) Serializer<T>::Write(out, items[i]);
  }
  static bool Read(Stream* in, ffi::Array<T>* items) {
    uint64_t count;
    if (!detail::ReadCount(in, &count)) return false;
    ffi::Array<T> result;
    for (uint64_t i = 0; i < count; ++i) {
      T item;
      if (!Serializer<T>::Read(in, &item)) return false;
      result.push_back(std::move(item));
    }
    *items = std::move(result);
    return true;
  }
};

template <typename K, typename V>
struct Serializer<ffi::Map<K, V>> {
  static constexpr bool enabled = true;
  static void Write(Stream* out, const ffi::Map<K, V>& map) {
    detail::WriteCount(out, map.size());
    for (const auto& entry : map) {
      Serializer<K>::Write(out, entry.first);
      Serializer<V>::Write(out, entry.second);
    }
  }
  static bool Read(Stream* in, ffi::Map<K, V>* map) {
    uint64_t count;
    if (!detail::ReadCount(in, &count)) return false;
    ffi::Map<K, V> result;
    for (uint64_t i = 0; i < count; ++i) {
      K key;
      V value;
      if (!Serializer<K>::Read(in, &key) || !Serializer<V>::Read(in, &value)) return false;
      result.Set(std::move(key), std::move(value));
    }
    *map = std::move(result);
    return true;
  }
};

template <>
struct Serializer<DLDataType> {
  static constexpr bool enabled = true;
  static void Write(Stream* out, const DLDataType& dtype) {
    Serializer<uint8_t>::Write(out, dtype.code);
    Serializer<uint8_t>::Write(out, dtype.bits);
    Serializer<uint16_t>::Write(out, dtype.lanes);
  }
  static bool Read(Stream* in, DLDataType* dtype) {
    return Serializer<uint8_t>::Read(in, &dtype->code) &&
           Serializer<uint8_t>::Read(in, &dtype->bits) &&
           Serializer<uint16_t>::Read(in, &dtype->lanes);
  }
};

template <>
struct Serializer<DLDevice> {
  static constexpr bool enabled = true;
  static void Write(Stream* out, const DLDevice& device) {
    Serializer<int32_t>::Write(out, static_cast<int32_t>(device.device_type));
    Serializer<int32_t>::Write(out, device.device_id);
  }
  static bool Read(Stream* in, DLDevice* device) {
    int32_t type;
    if (!Serializer<int32_t>::Read(in, &type)) return false;
    device->device_type = static_cast<DLDeviceType>(type);
    return Serializer<int32_t>::Read(in, &device->device_id);
  }
};

}  // namespace support
}  // namespace tvm

#endif  // DESKTOP_LLM_TVM_SUPPORT_SERIALIZER_H_
