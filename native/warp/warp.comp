// rife.Warp on Vulkan: out[c, y, x] = bilinear sample of image[c] at (x + fx, y + fy), clamped to the
// border (torch grid_sample, padding 'border', align_corners=True), like the CPU forward in warp.cpp.
// warp_vulkan.cpp prepends `#version 450` and `#define WARP_PACK 1|4`, then ncnn's compile_spirv_module
// adds the storage/arithmetic macros (sfp, afp, buffer_ld*, psc) of the net's options.
// Sample coordinates, weights and the blend are fp32 whatever the storage type: with fp16 arithmetic,
// x + fx loses its fraction past x = 1024 (fp16 has 10 mantissa bits), shifting 1080p/4K warps.

#if WARP_PACK == 4
layout(binding = 0) readonly buffer image_blob { sfpvec4 image_data[]; };
layout(binding = 2) writeonly buffer top_blob { sfpvec4 top_data[]; };
#else
layout(binding = 0) readonly buffer image_blob { sfp image_data[]; };
layout(binding = 2) writeonly buffer top_blob { sfp top_data[]; };
#endif
layout(binding = 1) readonly buffer flow_blob { sfp flow_data[]; };

layout(push_constant) uniform parameter
{
    int w;
    int h;
    int c;        // channel groups of the image (channels / WARP_PACK)
    int cstep;    // image channel stride, in elements of its own elempack
    int flowcstep;  // the flow's own channel stride (it may be padded differently from the image)
    int outcstep;
} p;

#if WARP_PACK == 4
#define sample_t vec4
#define load_px(i) vec4(buffer_ld4(image_data, i))
#define store_px(i, v) buffer_st4(top_data, i, afpvec4(v))
#else
#define sample_t float
#define load_px(i) float(buffer_ld1(image_data, i))
#define store_px(i, v) buffer_st1(top_data, i, afp(v))
#endif

void main()
{
    const int gx = int(gl_GlobalInvocationID.x);
    const int gy = int(gl_GlobalInvocationID.y);
    const int gz = int(gl_GlobalInvocationID.z);
    if (gx >= p.w || gy >= p.h || gz >= p.c)
        return;

    const int fi = gy * p.w + gx;
    const float xmax = float(p.w - 1);
    const float ymax = float(p.h - 1);
    float sx = float(gx) + float(buffer_ld1(flow_data, fi));
    float sy = float(gy) + float(buffer_ld1(flow_data, p.flowcstep + fi));
    // Comparisons, not clamp(): a NaN flow fails `> 0` and lands on 0, as in the CPU forward.
    sx = sx > 0.0 ? sx : 0.0;
    sy = sy > 0.0 ? sy : 0.0;
    sx = sx < xmax ? sx : xmax;
    sy = sy < ymax ? sy : ymax;
    const int x0 = int(sx);  // sx, sy >= 0: truncation is floor
    const int y0 = int(sy);
    const float ax = sx - float(x0);
    const float ay = sy - float(y0);
    // At the last row/column the second tap has weight 0; clamp its offset to stay in bounds.
    const int dx = x0 + 1 < p.w ? 1 : 0;
    const int dy = y0 + 1 < p.h ? p.w : 0;

    const int i00 = gz * p.cstep + y0 * p.w + x0;
    const sample_t v = load_px(i00) * ((1.0 - ax) * (1.0 - ay)) + load_px(i00 + dx) * (ax * (1.0 - ay))
                       + load_px(i00 + dy) * ((1.0 - ax) * ay) + load_px(i00 + dy + dx) * (ax * ay);
    store_px(gz * p.outcstep + fi, v);
}
