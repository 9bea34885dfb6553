// rife.Warp: ncnn custom layer for RIFE's backward warp.
// Inputs: image [C,H,W] and flow [2,H,W] in pixels (channel 0 = fx, channel 1 = fy).
// Output: [C,H,W], the image sampled bilinearly at (x + fx, y + fy) with coordinates clamped to the
// image border -- torch grid_sample(mode='bilinear', padding_mode='border', align_corners=True).
// Unlike ncnn's GridSample with a baked grid, it works at any resolution.
#pragma once

#include <layer.h>
#include <net.h>

namespace rife {

class Warp : public ncnn::Layer
{
public:
    Warp();
    int forward(const std::vector<ncnn::Mat>& bottom_blobs, std::vector<ncnn::Mat>& top_blobs,
                const ncnn::Option& opt) const override;
};

// Registers the layer under the type name "rife.Warp"; call before Net::load_param.
int register_warp(ncnn::Net& net);

} // namespace rife
