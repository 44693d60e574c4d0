// Widening conversion between IEEE-754 binary formats (e.g. half to single), which TVM's
// runtime sort uses to compare float16 values.
#ifndef DESKTOP_LLM_TVM_BUILTIN_FP16_H_
#define DESKTOP_LLM_TVM_BUILTIN_FP16_H_

#include <cstdint>
#include <cstring>

template <typename SrcT, typename SrcRepT, int SrcSigBits, typename DstT, typename DstRepT,
          int DstSigBits>
static inline DstT __extendXfYf2__(SrcT value) {
  constexpr int kSrcBits = sizeof(SrcRepT) * 8;
  constexpr int kDstBits = sizeof(DstRepT) * 8;
  constexpr int kSrcExpBits = kSrcBits - SrcSigBits - 1;
  constexpr int kDstExpBits = kDstBits - DstSigBits - 1;
  constexpr int kSrcExpMax = (1 << kSrcExpBits) - 1;
  constexpr int kDstExpMax = (1 << kDstExpBits) - 1;
  constexpr int kSrcBias = kSrcExpMax >> 1;
  constexpr int kDstBias = kDstExpMax >> 1;

  SrcRepT bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const DstRepT sign = static_cast<DstRepT>((bits >> (kSrcBits - 1)) & 1) << (kDstBits - 1);
  int exponent = static_cast<int>((bits >> SrcSigBits) & kSrcExpMax);
  DstRepT significand = static_cast<DstRepT>(bits & ((SrcRepT{1} << SrcSigBits) - 1));

  DstRepT out;
  if (exponent == kSrcExpMax) {  // infinity or NaN keeps its payload
    out = sign | (static_cast<DstRepT>(kDstExpMax) << DstSigBits) |
          (significand << (DstSigBits - SrcSigBits));
  } else if (exponent == 0 && significand == 0) {  // signed zero
    out = sign;
  } else {
    if (exponent == 0) {  // subnormal: normalise it, every wider format can hold it
      exponent = 1;
      while ((significand & (DstRepT{1} << SrcSigBits)) == 0) {
        significand <<= 1;
        --exponent;
      }
      significand &= (DstRepT{1} << SrcSigBits) - 1;
    }
    out = sign | (static_cast<DstRepT>(exponent - kSrcBias + kDstBias) << DstSigBits) |
          (significand << (DstSigBits - SrcSigBits));
  }
  DstT result;
  std::memcpy(&result, &out, sizeof(result));
  return result;
}

#endif  // DESKTOP_LLM_TVM_BUILTIN_FP16_H_
