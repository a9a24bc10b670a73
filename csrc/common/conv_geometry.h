// Geometry of one N-D convolution, normalised to 3 spatial dimensions.
//
// 1D and 2D convolutions are 3D ones with leading singleton dimensions (size 1, kernel 1,
// stride 1, no padding, dilation 1). Sizes are explicit on both sides: the output size is
// given, not derived, so that transposed convolution (whose output may be larger than the
// formula gives back, via output_padding) and asymmetric 'same' padding need no special
// case; only the padding *before* each dimension matters, positions past the input read 0.
// All arithmetic is 64-bit.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace fastconv {

struct ConvGeometry {
  int64_t batch = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t groups = 1;
  int64_t in_size[3] = {1, 1, 1};
  int64_t out_size[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t pad_before[3] = {0, 0, 0};
  int64_t dilation[3] = {1, 1, 1};

  int64_t in_channels_per_group() const { return in_channels / groups; }
  int64_t out_channels_per_group() const { return out_channels / groups; }
  int64_t kernel_volume() const { return kernel[0] * kernel[1] * kernel[2]; }
  int64_t in_plane() const { return in_size[0] * in_size[1] * in_size[2]; }
  int64_t out_plane() const { return out_size[0] * out_size[1] * out_size[2]; }
  // Rows of the (virtual) column matrix of one group: one per (input channel, kernel offset).
  int64_t gemm_k() const { return in_channels_per_group() * kernel_volume(); }

  // A 1x1 kernel with unit stride and no padding reads the input plane as it is: the column
  // matrix is the input itself and no im2col copy is needed.
  bool is_pointwise() const {
    for (int d = 0; d < 3; ++d) {
      if (kernel[d] != 1 || stride[d] != 1 || pad_before[d] != 0 || out_size[d] != in_size[d])
        return false;
    }
    return true;
  }

  // Defence in depth: the Python layer validates user arguments with precise messages; this
  // catches an inconsistent call of the extension itself before a kernel could read out of bounds.
  void check() const {
    auto fail = [](const std::string& what) {
      throw std::invalid_argument("fastconv: inconsistent convolution geometry: " + what);
    };
    if (batch < 0 || in_channels < 0 || out_channels < 0) fail("negative batch or channel count");
    if (groups < 1 || in_channels % groups != 0 || out_channels % groups != 0)
      fail("groups must be >= 1 and divide both channel counts");
    for (int d = 0; d < 3; ++d) {
      if (kernel[d] < 1 || stride[d] < 1 || dilation[d] < 1 || pad_before[d] < 0)
        fail("kernel, stride and dilation must be >= 1 and padding >= 0");
      // Any output size is safe to compute: every read is bounds-checked against in_size.
      if (in_size[d] < 0 || out_size[d] < 0) fail("negative spatial size");
    }
  }
};

}  // namespace fastconv
