// An 8-bit RGB frame as uploaded (row-major bytes, four to a uint) -> the net's planar input [3, ph, pw] in
// [0, 1], padded right/bottom to pw x ph by replicating the edge pixel, exactly as rife-bench's CPU
// frame_to_mat does (byte * (1/255) in fp32, then rounded to the storage type). z = 3 writes the timestep map
// [1, ph, pw] (when write_t is set), so the frame pair and the map need no float upload at all.
// gpu_frames.cpp prepends `#version 450`; ncnn's compile_spirv_module adds sfp/afp/buffer_st1 for the net's options.

layout(binding = 0) readonly buffer src_blob { uint src_data[]; };
layout(binding = 1) writeonly buffer dst_blob { sfp dst_data[]; };
layout(binding = 2) writeonly buffer t_blob { sfp t_data[]; };

layout(push_constant) uniform parameter
{
    int w;       // the frame's size
    int h;
    int pw;      // the padded size the net runs at
    int ph;
    int cstep;   // dst channel stride, in elements
    int write_t; // 1: also fill the timestep map with t
    float t;
} p;

void main()
{
    const int gx = int(gl_GlobalInvocationID.x);
    const int gy = int(gl_GlobalInvocationID.y);
    const int gz = int(gl_GlobalInvocationID.z);
    if (gx >= p.pw || gy >= p.ph || gz >= 4)
        return;
    const int o = gy * p.pw + gx;
    if (gz == 3)
    {
        if (p.write_t != 0)
            buffer_st1(t_data, o, afp(p.t));
        return;
    }
    const int sx = min(gx, p.w - 1);
    const int sy = min(gy, p.h - 1);
    const int b = (sy * p.w + sx) * 3 + gz;
    const uint v = (src_data[b >> 2] >> uint((b & 3) * 8)) & 0xffu;
    const float scale = 1.0 / 255.0;
    buffer_st1(dst_data, gz * p.cstep + o, afp(float(v) * scale));
}
