// GpuFrames: 8-bit frames up, 8-bit frames down, everything between on the GPU (see gpu_frames.h).
#include "gpu_frames.h"

#include <command.h>
#include <gpu.h>
#include <pipeline.h>

#include <string.h>

#include "frame_in_comp.h"  // kFrameInComp: frame_in.comp's text, embedded by CMake
#include "frame_out_comp.h" // kFrameOutComp

namespace rife {

namespace {

// Words per row of frame_out's 2D dispatch: a 1D dispatch of a 4K frame's words would pass the 65535
// workgroups a dimension may have.
const int kRowWords = 1024;

ncnn::Pipeline* make_pipeline(const ncnn::VulkanDevice* vkdev, const char* text, const ncnn::Option& opt, int lx,
                              int ly, int lz)
{
    const std::string source = std::string("#version 450\n") + text;
    std::vector<uint32_t> spirv;
    if (ncnn::compile_spirv_module(source.data(), (int)source.size(), opt, spirv) != 0)
        return 0;
    ncnn::Pipeline* pipeline = new ncnn::Pipeline(vkdev);
    pipeline->set_local_size_xyz(lx, ly, lz);
    if (pipeline->create(spirv.data(), spirv.size() * sizeof(uint32_t), std::vector<ncnn::vk_specialization_type>()) != 0)
    {
        delete pipeline;
        return 0;
    }
    return pipeline;
}

// One frame's bytes into a host-visible staging buffer of whole uints (the shader reads uints; the tail word's
// spare bytes are never used), marked as written by the host for the copy that follows.
bool stage_frame(const Image& img, ncnn::VkAllocator* staging, ncnn::VkMat& st)
{
    const size_t nbytes = (size_t)img.w * img.h * 3;
    st.create((int)((nbytes + 3) / 4), (size_t)4u, staging);
    if (st.empty())
        return false;
    memcpy(st.mapped_ptr(), img.rgb.data(), nbytes);
    st.allocator->flush(st.data);
    st.data->access_flags = VK_ACCESS_HOST_WRITE_BIT;
    st.data->stage_flags = VK_PIPELINE_STAGE_HOST_BIT;
    return true;
}

} // namespace

GpuFrames::GpuFrames(const ncnn::Net& net)
    : net_(net)
{
    const ncnn::VulkanDevice* vkdev = net.vulkan_device();
    if (!vkdev)
    {
        error_ = "the net has no Vulkan device";
        return;
    }
    in_ = make_pipeline(vkdev, kFrameInComp, net.opt, 8, 8, 1);
    out_ = make_pipeline(vkdev, kFrameOutComp, net.opt, 64, 1, 1);
    if (!in_ || !out_)
        error_ = "compiling the frame conversion shaders (frame_in.comp, frame_out.comp) failed";
}

GpuFrames::~GpuFrames()
{
    delete in_;
    delete out_;
}

std::string GpuFrames::interpolate(const Image& i0, const Image& i1, float t, int pw, int ph, Image& res) const
{
    const ncnn::VulkanDevice* vkdev = net_.vulkan_device();
    ncnn::VkAllocator* blob = vkdev->acquire_blob_allocator();
    ncnn::VkAllocator* staging = vkdev->acquire_staging_allocator();
    ncnn::Option opt = net_.opt;
    opt.blob_vkallocator = blob;
    opt.workspace_vkallocator = blob;
    opt.staging_vkallocator = staging;
    std::string err;
    {
        const int w = i0.w, h = i0.h;
        const int nbytes = w * h * 3, nwords = (nbytes + 3) / 4;
        const size_t elemsize = opt.use_fp16_storage ? 2u : 4u; // pack1 blobs, as ncnn stores them
        ncnn::VkCompute cmd(vkdev);
        ncnn::VkMat st0, st1, raw0, raw1;
        if (!stage_frame(i0, staging, st0) || !stage_frame(i1, staging, st1))
            err = "cannot allocate the frames' staging buffers";
        ncnn::VkMat in0, in1, in2;
        if (err.empty())
        {
            cmd.record_clone(st0, raw0, opt);
            cmd.record_clone(st1, raw1, opt);
            in0.create(pw, ph, 3, elemsize, 1, blob);
            in1.create(pw, ph, 3, elemsize, 1, blob);
            in2.create(pw, ph, 1, elemsize, 1, blob);
            if (raw0.empty() || raw1.empty() || in0.empty() || in1.empty() || in2.empty())
                err = "cannot allocate the net's inputs on the GPU";
        }
        if (err.empty())
        {
            const ncnn::Mat dispatch(pw, ph, 4, (void*)0); // x, y, and z: 3 channels + the timestep map
            std::vector<ncnn::VkMat> bindings(3);
            std::vector<ncnn::vk_constant_type> constants(7);
            constants[0].i = w;
            constants[1].i = h;
            constants[2].i = pw;
            constants[3].i = ph;
            constants[4].i = (int)in0.cstep;
            constants[6].f = t;
            bindings[0] = raw0;
            bindings[1] = in0;
            bindings[2] = in2;
            constants[5].i = 1;
            cmd.record_pipeline(in_, bindings, std::vector<ncnn::VkImageMat>(), constants, dispatch);
            bindings[0] = raw1;
            bindings[1] = in1;
            constants[5].i = 0;
            cmd.record_pipeline(in_, bindings, std::vector<ncnn::VkImageMat>(), constants, dispatch);
        }
        ncnn::VkMat out;
        if (err.empty())
        {
            ncnn::Extractor ex = net_.create_extractor();
            ex.set_blob_vkallocator(blob);
            ex.set_workspace_vkallocator(blob);
            ex.set_staging_vkallocator(staging);
            if (ex.input("in0", in0) != 0 || ex.input("in1", in1) != 0 || ex.input("in2", in2) != 0)
                err = "the model lacks one of the inputs in0, in1, in2";
            else if (ex.extract("out0", out, cmd) != 0 || out.empty())
                err = "running the model failed at output 'out0'; see the ncnn message above";
        }
        if (err.empty() && out.elempack != 1)
        {
            ncnn::VkMat unpacked;
            vkdev->convert_packing(out, unpacked, 1, cmd, opt);
            out = unpacked;
        }
        if (err.empty() && (out.dims != 3 || out.c != 3 || out.w != pw || out.h != ph))
            err = "the model's out0 is " + std::to_string(out.c * out.elempack) + "x" + std::to_string(out.h) + "x"
                  + std::to_string(out.w) + ", expected 3xHxW of the input; is this a RIFE v4 model?";
        ncnn::Mat bytes;
        if (err.empty())
        {
            ncnn::VkMat packed;
            packed.create(nwords, (size_t)4u, blob);
            if (packed.empty())
                err = "cannot allocate the output frame on the GPU";
            else
            {
                std::vector<ncnn::VkMat> bindings(2);
                bindings[0] = out;
                bindings[1] = packed;
                std::vector<ncnn::vk_constant_type> constants(6);
                constants[0].i = w;
                constants[1].i = pw;
                constants[2].i = (int)out.cstep;
                constants[3].i = nbytes;
                constants[4].i = nwords;
                constants[5].i = kRowWords;
                const ncnn::Mat dispatch(kRowWords, (nwords + kRowWords - 1) / kRowWords, 1, (void*)0);
                cmd.record_pipeline(out_, bindings, std::vector<ncnn::VkImageMat>(), constants, dispatch);
                cmd.record_clone(packed, bytes, opt);
            }
        }
        if (err.empty() && cmd.submit_and_wait() != 0)
            err = "the GPU command buffer failed";
        if (err.empty())
        {
            res.w = w;
            res.h = h;
            res.rgb.resize((size_t)nbytes);
            memcpy(res.rgb.data(), bytes.data, (size_t)nbytes);
        }
    }
    vkdev->reclaim_blob_allocator(blob);
    vkdev->reclaim_staging_allocator(staging);
    return err;
}

} // namespace rife
