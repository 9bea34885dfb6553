// The net's output [3, ph, pw] (pack1, sfp storage) -> the top-left w x h crop as 8-bit RGB bytes, row-major,
// four to a uint (one invocation writes one whole uint, so no two invocations share a word), quantized as
// rife-bench's CPU mat_to_frame does: min(max(v * 255 + 0.5, 0), 255), truncated; the arithmetic is fp32.

layout(binding = 0) readonly buffer src_blob { sfp src_data[]; };
layout(binding = 1) writeonly buffer dst_blob { uint dst_data[]; };

layout(push_constant) uniform parameter
{
    int w;      // the crop (the frame's size)
    int pw;     // the net's row length
    int cstep;  // src channel stride, in elements
    int nbytes; // w * h * 3
    int nwords; // (nbytes + 3) / 4
    int rowwords; // words per dispatch row (the dispatch is 2D: word = gy * rowwords + gx)
} p;

void main()
{
    const int gx = int(gl_GlobalInvocationID.x);
    const int gy = int(gl_GlobalInvocationID.y);
    const int i = gy * p.rowwords + gx;
    if (gx >= p.rowwords || i >= p.nwords)
        return;
    uint word = 0u;
    for (int k = 0; k < 4; k++)
    {
        const int b = i * 4 + k;
        if (b >= p.nbytes)
            break;
        const int px = b / 3;
        const int ch = b - px * 3;
        const int y = px / p.w;
        const int x = px - y * p.w;
        float v = float(buffer_ld1(src_data, ch * p.cstep + y * p.pw + x)) * 255.0 + 0.5;
        v = v > 0.0 ? v : 0.0;
        v = v < 255.0 ? v : 255.0;
        word |= uint(v) << uint(8 * k);
    }
    dst_data[i] = word;
}
