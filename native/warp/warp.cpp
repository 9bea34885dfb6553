#include "warp.h"

#include <math.h>

#include <vector>

namespace rife {

Warp::Warp()
{
    // Plain fp32 blobs with elempack 1: ncnn converts packed / fp16 inputs for us.
    one_blob_only = false;
    support_inplace = false;
    support_packing = false;
#if NCNN_VULKAN
    // On Vulkan: pack1 or pack4 images (feature maps arrive packed), fp32/fp16 storage -- warp.comp.
    support_vulkan = true;
    support_vulkan_packing = true;
    pipeline_pack1 = 0;
    pipeline_pack4 = 0;
#endif
}

int Warp::load_param(const ncnn::ParamDict& /*pd*/)
{
#if NCNN_VULKAN
    // ncnn hands a GPU device only to the layers of a net that computes on Vulkan; without one this
    // instance is the CPU layer (ncnn then recreates it and never calls the Vulkan forward).
    support_vulkan = vkdev != 0;
#endif
    return 0;
}

int Warp::forward(const std::vector<ncnn::Mat>& bottom_blobs, std::vector<ncnn::Mat>& top_blobs,
                  const ncnn::Option& opt) const
{
    if (bottom_blobs.size() != 2 || top_blobs.size() != 1)
        return -100;
    const ncnn::Mat& image = bottom_blobs[0];
    const ncnn::Mat& flow = bottom_blobs[1];
    const int w = image.w;
    const int h = image.h;
    const int channels = image.c;
    if (image.dims != 3 || flow.dims != 3 || flow.c != 2 || flow.w != w || flow.h != h
        || image.elemsize != 4u || flow.elemsize != 4u)
    {
        NCNN_LOGE("rife.Warp: expected image [C,H,W] and flow [2,H,W] fp32, got image %dx%dx%d flow %dx%dx%d",
                  image.c, image.h, image.w, flow.c, flow.h, flow.w);
        return -100;
    }

    ncnn::Mat& out = top_blobs[0];
    out.create(w, h, channels, 4u, opt.blob_allocator);
    if (out.empty())
        return -100;

    const float xmax = (float)(w - 1);
    const float ymax = (float)(h - 1);
    const float* fx = flow.channel(0);
    const float* fy = flow.channel(1);
    // Channel pointers once, outside the pixel loop: Mat::channel() in the inner loop kept the
    // compiler from hoisting them and cost ~3x (rife.Warp was ~16% of the whole model's time).
    std::vector<const float*> src(channels);
    std::vector<float*> dst(channels);
    for (int q = 0; q < channels; q++)
    {
        src[q] = image.channel(q);
        dst[q] = out.channel(q);
    }
    const float* const* srcp = src.data();
    float* const* dstp = dst.data();

    #pragma omp parallel for num_threads(opt.num_threads)
    for (int y = 0; y < h; y++)
    {
        const int row = y * w;
        for (int x = 0; x < w; x++)
        {
            const int i = row + x;
            // Clamp with comparisons, not fminf/fmaxf (libm calls without -ffast-math); a NaN flow
            // fails `> 0` and lands on 0, as with fmaxf.
            float sx = (float)x + fx[i];
            float sy = (float)y + fy[i];
            sx = sx > 0.f ? sx : 0.f;
            sy = sy > 0.f ? sy : 0.f;
            sx = sx < xmax ? sx : xmax;
            sy = sy < ymax ? sy : ymax;
            int x0 = (int)sx; // sx, sy >= 0: truncation is floor
            int y0 = (int)sy;
            float ax = sx - (float)x0;
            float ay = sy - (float)y0;
            // At the last row/column the second tap has weight 0; clamp its offset to stay in bounds.
            const int dx = x0 + 1 < w ? 1 : 0;
            const int dy = y0 + 1 < h ? w : 0;
            const float w00 = (1.f - ax) * (1.f - ay);
            const float w01 = ax * (1.f - ay);
            const float w10 = (1.f - ax) * ay;
            const float w11 = ax * ay;
            const int i00 = y0 * w + x0;
            for (int q = 0; q < channels; q++)
            {
                const float* p = srcp[q] + i00;
                dstp[q][i] = p[0] * w00 + p[dx] * w01 + p[dy] * w10 + p[dy + dx] * w11;
            }
        }
    }
    return 0;
}

static ncnn::Layer* warp_creator(void* /*userdata*/)
{
    return new Warp;
}

int register_warp(ncnn::Net& net)
{
    return net.register_custom_layer("rife.Warp", warp_creator);
}

} // namespace rife
