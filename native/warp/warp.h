// rife.Warp: ncnn custom layer for RIFE's backward warp.
// Inputs: image [C,H,W] and flow [2,H,W] in pixels (channel 0 = fx, channel 1 = fy).
// Output: [C,H,W], the image sampled bilinearly at (x + fx, y + fy) with coordinates clamped to the
// image border -- torch grid_sample(mode='bilinear', padding_mode='border', align_corners=True).
// Unlike ncnn's GridSample with a baked grid, it works at any resolution.
// In a Vulkan build (NCNN_VULKAN) the same layer also runs on the GPU (warp.comp), so a model with
// rife.Warp never leaves the GPU between its convolutions.
#pragma once

#include <layer.h>
#include <net.h>

namespace rife {

class Warp : public ncnn::Layer
{
public:
    Warp();
    int load_param(const ncnn::ParamDict& pd) override;
    int forward(const std::vector<ncnn::Mat>& bottom_blobs, std::vector<ncnn::Mat>& top_blobs,
                const ncnn::Option& opt) const override;
#if NCNN_VULKAN
    int create_pipeline(const ncnn::Option& opt) override;
    int destroy_pipeline(const ncnn::Option& opt) override;
    using ncnn::Layer::forward;
    int forward(const std::vector<ncnn::VkMat>& bottom_blobs, std::vector<ncnn::VkMat>& top_blobs,
                ncnn::VkCompute& cmd, const ncnn::Option& opt) const override;

private:
    ncnn::Pipeline* pipeline_pack1;  // image elempack 1 (RGB frames: 3 channels)
    ncnn::Pipeline* pipeline_pack4;  // image elempack 4 (feature maps with C % 4 == 0)
#endif
};

// Registers the layer under the type name "rife.Warp"; call before Net::load_param.
int register_warp(ncnn::Net& net);

} // namespace rife
