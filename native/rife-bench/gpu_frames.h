// Frames in and out of a net that runs on Vulkan, converted on the GPU: the 8-bit RGB frames are uploaded as
// they are (w*h*3 bytes each), a shader turns them into the net's padded float input and fills the timestep
// map, the net runs on VkMats, and a second shader crops the output and quantizes it to 8 bits, so only
// w*h*3 bytes come back. Why: ncnn's Mat upload casts fp32 to fp16 on the CPU and stages 2-4x the bytes, and
// that transfer path, not the network, was most of rife-bench's time per 720p frame on an H100.
// Built only with NCNN_VULKAN; the CPU conversions in main.cpp (frame_to_mat, mat_to_frame) stay the reference.
#pragma once

#include "imageio.h"

#include <net.h>

#include <string>

namespace ncnn {
class Pipeline;
}

namespace rife {

class GpuFrames
{
public:
    // Compiles the two shaders under `net`'s options (after its load_param: they are the sanitized ones), for
    // this net only: SPIR-V compiled under other options would read or write the wrong storage type.
    explicit GpuFrames(const ncnn::Net& net);
    ~GpuFrames();
    GpuFrames(const GpuFrames&) = delete;
    GpuFrames& operator=(const GpuFrames&) = delete;

    // Empty when the shaders compiled, else what failed.
    const std::string& error() const { return error_; }

    // The frame between i0 and i1 (same size) at timestep t, the net run at pw x ph (i0's size padded up),
    // into `res`. Thread-safe: one command buffer and extractor per call. Returns "" or a sentence.
    std::string interpolate(const Image& i0, const Image& i1, float t, int pw, int ph, Image& res) const;

private:
    const ncnn::Net& net_;
    ncnn::Pipeline* in_ = 0;  // frame_in.comp
    ncnn::Pipeline* out_ = 0; // frame_out.comp
    std::string error_;
};

} // namespace rife
