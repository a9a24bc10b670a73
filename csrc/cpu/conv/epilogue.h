// The epilogue of the forward kernels, applied to each output row while it is in cache:
// y = y + bias[channel], then ReLU when fused (conv*d(..., activation="relu")). ReLU here keeps
// NaN and -0.0 as they are, exactly as fastconv.relu (and torch.relu) do.
#pragma once

#include <cstdint>

namespace fastconv::cpu {

template <typename T>
inline void bias_relu_row(T* row, int64_t len, T bias, bool relu) {
  if (relu) {
    for (int64_t i = 0; i < len; ++i) {
      const T v = row[i] + bias;
      row[i] = v < T(0) ? T(0) : v;
    }
  } else {
    for (int64_t i = 0; i < len; ++i) row[i] += bias;
  }
}

}  // namespace fastconv::cpu
