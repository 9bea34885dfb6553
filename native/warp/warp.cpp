#include "warp.h"

#include <math.h>

namespace rife {

Warp::Warp()
{
    // Plain fp32 blobs with elempack 1: ncnn converts packed / fp16 inputs for us.
    one_blob_only = false;
    support_inplace = false;
    support_packing = false;
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

    #pragma omp parallel for num_threads(opt.num_threads)
    for (int y = 0; y < h; y++)
    {
        for (int x = 0; x < w; x++)
        {
            const int i = y * w + x;
            float sx = fminf(fmaxf((float)x + fx[i], 0.f), xmax);
            float sy = fminf(fmaxf((float)y + fy[i], 0.f), ymax);
            int x0 = (int)floorf(sx);
            int y0 = (int)floorf(sy);
            float ax = sx - (float)x0;
            float ay = sy - (float)y0;
            // At the last row/column the second tap has weight 0; clamp its index to stay in bounds.
            int x1 = x0 + 1 < w ? x0 + 1 : x0;
            int y1 = y0 + 1 < h ? y0 + 1 : y0;
            float w00 = (1.f - ax) * (1.f - ay);
            float w01 = ax * (1.f - ay);
            float w10 = (1.f - ax) * ay;
            float w11 = ax * ay;
            int i00 = y0 * w + x0, i01 = y0 * w + x1, i10 = y1 * w + x0, i11 = y1 * w + x1;
            for (int q = 0; q < channels; q++)
            {
                const float* p = image.channel(q);
                out.channel(q)[i] = p[i00] * w00 + p[i01] * w01 + p[i10] * w10 + p[i11] * w11;
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
