// Scratch memory that is handed out piecewise and recycled all at once (TVM's RPC endpoint).
#ifndef DESKTOP_LLM_TVM_SRC_SUPPORT_ARENA_H_
#define DESKTOP_LLM_TVM_SRC_SUPPORT_ARENA_H_

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace tvm {
namespace support {

class Arena {
 public:
  template <typename T>
  T* allocate_(size_t count = 1) {
    blocks_.emplace_back(new std::max_align_t[(sizeof(T) * count + sizeof(std::max_align_t) - 1) /
                                                  sizeof(std::max_align_t) +
                                              1]);
    return new (blocks_.back().get()) T[count];
  }

  // Frees every block; only for trivially destructible contents, as in the RPC endpoint.
  void RecycleAll() { blocks_.clear(); }

 private:
  std::vector<std::unique_ptr<std::max_align_t[]>> blocks_;
};

}  // namespace support
}  // namespace tvm

#endif  // DESKTOP_LLM_TVM_SRC_SUPPORT_ARENA_H_
