// Geometry of one N-D pooling, normalised to 3 spatial dimensions.
//
// 1D and 2D pooling are 3D pooling with leading singleton dimensions (size 1, kernel 1,
// stride 1, no padding, dilation 1). The output size is given, not derived, so that ceil_mode
// and TensorFlow's asymmetric 'same' padding need no special case in the kernels. Padding is
// virtual: no padded copy of the input is made; every read is clipped to [0, in_size), so any
// output size is safe. pad_after only matters for average pooling's count_include_pad divisor
// (torch clips the window at in_size + pad_after). `planes` is N * C: every (n, c) plane is
// pooled independently. All arithmetic is 64-bit.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace fastconv {

struct PoolGeometry {
  int64_t planes = 0;  // batch * channels
  int64_t in_size[3] = {1, 1, 1};
  int64_t out_size[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t pad_before[3] = {0, 0, 0};
  int64_t pad_after[3] = {0, 0, 0};
  int64_t dilation[3] = {1, 1, 1};

  int64_t in_plane() const { return in_size[0] * in_size[1] * in_size[2]; }
  int64_t out_plane() const { return out_size[0] * out_size[1] * out_size[2]; }
  int64_t kernel_volume() const { return kernel[0] * kernel[1] * kernel[2]; }

  // Defence in depth: the Python layer validates user arguments with precise messages; this
  // catches an inconsistent call of the extension itself before a kernel could misbehave.
  void check() const {
    auto fail = [](const std::string& what) {
      throw std::invalid_argument("fastconv: inconsistent pooling geometry: " + what);
    };
    if (planes < 0) fail("negative batch or channel count");
    for (int d = 0; d < 3; ++d) {
      if (kernel[d] < 1 || stride[d] < 1 || dilation[d] < 1 || pad_before[d] < 0 ||
          pad_after[d] < 0)
        fail("kernel, stride and dilation must be >= 1 and padding >= 0");
      if (in_size[d] < 0 || out_size[d] < 0) fail("negative spatial size");
    }
  }
};

// Torch's adaptive pooling windows: output i of `out` over an input of `in` reads
// [floor(i * in / out), ceil((i + 1) * in / out)). (Python checks out * in < 2**62.)
inline int64_t adaptive_start(int64_t i, int64_t out, int64_t in) { return (i * in) / out; }
inline int64_t adaptive_end(int64_t i, int64_t out, int64_t in) {
  return ((i + 1) * in + out - 1) / out;
}

}  // namespace fastconv
