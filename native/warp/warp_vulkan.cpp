// rife.Warp on Vulkan: pipelines for warp.comp (pack1 and pack4 images) and the GPU forward.
// Built only with NCNN_VULKAN (the -vulkan targets); the CPU forward stays in warp.cpp.
#include "warp.h"

#include <gpu.h>
#include <pipeline.h>

#include <string>

#include "warp_comp.h" // kWarpComp: warp.comp's text, embedded by CMake

namespace rife {

// SPIR-V for one elempack under the net's options (fp32/fp16 storage and arithmetic). Compiled per
// layer from these options, never shared through a static cache: two nets with different precisions
// in one process (fp32 and fp16) would otherwise run each other's storage types.
static ncnn::Pipeline* make_pipeline(const ncnn::VulkanDevice* vkdev, int elempack, const ncnn::Option& opt)
{
    const std::string source = "#version 450\n#define WARP_PACK " + std::to_string(elempack) + "\n" + kWarpComp;
    std::vector<uint32_t> spirv;
    if (ncnn::compile_spirv_module(source.data(), (int)source.size(), opt, spirv) != 0)
    {
        NCNN_LOGE("rife.Warp: compiling warp.comp (pack%d) failed", elempack);
        return 0;
    }
    ncnn::Pipeline* pipeline = new ncnn::Pipeline(vkdev);
    pipeline->set_optimal_local_size_xyz(8, 8, 1);
    if (pipeline->create(spirv.data(), spirv.size() * sizeof(uint32_t), std::vector<ncnn::vk_specialization_type>()) != 0)
    {
        NCNN_LOGE("rife.Warp: creating the Vulkan pipeline (pack%d) failed", elempack);
        delete pipeline;
        return 0;
    }
    return pipeline;
}

int Warp::create_pipeline(const ncnn::Option& opt)
{
    if (!support_vulkan || !vkdev)
        return 0;
    pipeline_pack1 = make_pipeline(vkdev, 1, opt);
    pipeline_pack4 = make_pipeline(vkdev, 4, opt);
    return pipeline_pack1 && pipeline_pack4 ? 0 : -1;
}

int Warp::destroy_pipeline(const ncnn::Option& /*opt*/)
{
    delete pipeline_pack1;
    pipeline_pack1 = 0;
    delete pipeline_pack4;
    pipeline_pack4 = 0;
    return 0;
}

int Warp::forward(const std::vector<ncnn::VkMat>& bottom_blobs, std::vector<ncnn::VkMat>& top_blobs,
                  ncnn::VkCompute& cmd, const ncnn::Option& opt) const
{
    if (bottom_blobs.size() != 2 || top_blobs.size() != 1)
        return -100;
    const ncnn::VkMat& image = bottom_blobs[0];
    const ncnn::VkMat& flow = bottom_blobs[1];
    if (image.dims != 3 || flow.dims != 3 || flow.c * flow.elempack != 2 || flow.elempack != 1
        || flow.w != image.w || flow.h != image.h || (image.elempack != 1 && image.elempack != 4))
    {
        NCNN_LOGE("rife.Warp: expected image [C,H,W] (elempack 1 or 4) and flow [2,H,W], got image dims %d %dx%dx%d "
                  "(elempack %d) flow dims %d %dx%dx%d (elempack %d)", image.dims, image.c * image.elempack, image.h,
                  image.w, image.elempack, flow.dims, flow.c * flow.elempack, flow.h, flow.w, flow.elempack);
        return -100;
    }

    ncnn::VkMat& top = top_blobs[0];
    top.create(image.w, image.h, image.c, image.elemsize, image.elempack, opt.blob_vkallocator);
    if (top.empty())
        return -100;

    std::vector<ncnn::VkMat> bindings(3);
    bindings[0] = image;
    bindings[1] = flow;
    bindings[2] = top;

    std::vector<ncnn::vk_constant_type> constants(6);
    constants[0].i = image.w;
    constants[1].i = image.h;
    constants[2].i = image.c;
    constants[3].i = (int)image.cstep;
    constants[4].i = (int)flow.cstep;
    constants[5].i = (int)top.cstep;

    cmd.record_pipeline(image.elempack == 4 ? pipeline_pack4 : pipeline_pack1, bindings, constants, top);
    return 0;
}

} // namespace rife
