// NVIDIA's profiler ranges do not exist in a WebGPU build: the range is a no-op.
#ifndef DESKTOP_LLM_TVM_SUPPORT_CUDA_NVTX_H_
#define DESKTOP_LLM_TVM_SUPPORT_CUDA_NVTX_H_

#include <string>

namespace tvm {
namespace support {

class NVTXScopedRange {
 public:
  explicit NVTXScopedRange(const char*) {}
  explicit NVTXScopedRange(const std::string&) {}
  NVTXScopedRange(const NVTXScopedRange&) = delete;
  NVTXScopedRange& operator=(const NVTXScopedRange&) = delete;
};

}  // namespace support
}  // namespace tvm

#endif  // DESKTOP_LLM_TVM_SUPPORT_CUDA_NVTX_H_
