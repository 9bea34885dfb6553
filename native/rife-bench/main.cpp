// rife-bench: run a RIFE ncnn model (flownet.param/.bin, rife.Warp layer included) the way an app does.
//   rife-bench interpolate --model DIR --in0 A.ppm --in1 B.ppm [--t 0.5] --out OUT.ppm
//   rife-bench dump --model DIR|--param P [--bin B] --input NAME=FILE(.npy|.ppm)... [--output out0] --out OUT.npy
//   rife-bench dump ... --output BLOB --output BLOB... --out-dir DIR: every named blob of one run, DIR/BLOB.npy
//   rife-bench bench --model DIR --width W --height H [--threads N --warmup N --loops N --precision auto|fp32|fp16|int8]
//   rife-bench interpolate --model DIR --in-dir FRAMES --out-dir OUT [--jobs 2]: every frame pair of a folder
//   rife-bench serve --model DIR --width W --height H [--warmup N]: one timed run per "run" line on stdin
//   rife-bench serve --model DIR --in-dir FRAMES --out-dir OUT [--jobs 2]: each "run" interpolates the folder
// interpolate/serve with --gpu: --transfer u8 (default: 8-bit frames up and down, converted and padded on the
// GPU) or float (converted on the CPU, float blobs transferred: the reference path).
// Common options: --threads N (default 1), --precision auto|fp32|fp16|int8 (default auto: int8 for a model
// whose convolutions carry int8 scales, else fp32), --gpu N (Vulkan builds: run on Vulkan device N; every
// layer must have a Vulkan path). A stock model with GridSample on a baked grid runs only at the size of its grid.
#include "imageio.h"
#include "warp.h"

#include <net.h>
#include <platform.h>

#if NCNN_VULKAN
#include "gpu_frames.h"

#include <gpu.h>
#else
namespace rife {
class GpuFrames // only Vulkan builds convert frames on a GPU
{
};
} // namespace rife
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <dirent.h>
#include <errno.h>
#include <fstream>
#include <sstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <stdio.h>
#include <stdlib.h>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <vector>

#ifndef RIFE_TARGET
#define RIFE_TARGET "unknown"
#endif

namespace {

// RIFE v4 downsamples by 16 then 2x in the flow blocks: sizes must divide by 32; 4.25/4.26 (scale 32 in
// the coarsest block) need 64 and 4.25-lite 128. --align sets it for the model at hand.
const int kDefaultAlign = 32;

struct Args
{
    std::map<std::string, std::string> opts;
    std::vector<std::string> inputs;  // --input NAME=FILE, in order
    std::vector<std::string> outputs; // --output BLOB, in order (dump)
};

long peak_rss_kb();

[[noreturn]] void fail(const std::string& msg)
{
    fprintf(stderr, "rife-bench: %s.\n", msg.c_str());
    exit(2);
}

void usage()
{
    fprintf(stderr,
            "usage:\n"
            "  rife-bench interpolate --model DIR --in0 A.ppm --in1 B.ppm [--t 0.5] --out OUT.ppm\n"
            "  rife-bench interpolate --model DIR --in-dir FRAMES --out-dir OUT [--jobs 2]   (every pair of *.ppm, in name order)\n"
            "  rife-bench dump (--model DIR | --param P [--bin B]) --input NAME=FILE.npy|.ppm ... [--output out0] --out OUT.npy\n"
            "  rife-bench dump ... --output BLOB --output BLOB ... --out-dir DIR   (DIR/BLOB.npy for each)\n"
            "  rife-bench bench --model DIR --width W --height H [--warmup 1] [--loops 5]\n"
            "  rife-bench serve --model DIR --width W --height H [--warmup 1]   (stdin: run | quit)\n"
            "  rife-bench serve --model DIR --in-dir FRAMES --out-dir OUT [--jobs 2]   (each run: the whole folder)\n"
            "common: [--threads 1] [--precision auto|fp32|fp16|int8] [--align 32]  (64: rife-v4.25/4.26, 128: rife-v4.25-lite)\n"
            "        [--gpu N]  (Vulkan builds: run every layer on Vulkan device N)\n"
            "        [--transfer u8|float]  (interpolate/serve with --gpu: 8-bit frames converted on the GPU, the\n"
            "                                default, or float frames converted on the CPU)\n");
    exit(2);
}

Args parse(int argc, char** argv)
{
    Args a;
    for (int i = 2; i < argc; i++)
    {
        std::string key = argv[i];
        if (key.rfind("--", 0) != 0 || i + 1 >= argc)
            fail("unexpected argument '" + key + "'; options take the form --name value");
        std::string value = argv[++i];
        if (key == "--input")
            a.inputs.push_back(value);
        else if (key == "--output")
            a.outputs.push_back(value);
        else
            a.opts[key.substr(2)] = value;
    }
    return a;
}

std::string opt(const Args& a, const std::string& key, const std::string& def = "")
{
    auto it = a.opts.find(key);
    if (it != a.opts.end())
        return it->second;
    if (def.empty())
        fail("missing option --" + key);
    return def;
}

int opt_int(const Args& a, const std::string& key, const std::string& def = "")
{
    std::string s = opt(a, key, def);
    char* end;
    long v = strtol(s.c_str(), &end, 10);
    if (*end || v < 0)
        fail("--" + key + " must be a non-negative integer, got '" + s + "'");
    return (int)v;
}

bool is_file(const std::string& path)
{
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool ends_with(const std::string& s, const std::string& suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Net options for a precision mode. CPU: fp32, fp16 storage (weights + blobs, fp32 arithmetic), int8
// inference. Vulkan (gpu): fp32; fp16 = fp16 storage and arithmetic (ncnn's Vulkan default, what GPU clients
// run); int8 = int8 convolutions, every float layer fp16 as in the fp16 mode. On Vulkan a layer's
// int8_scale_term alone selects its int8 path; use_int8_inference keeps the CPU side consistent.
void set_precision(ncnn::Option& o, const std::string& precision, bool gpu)
{
    o.use_bf16_storage = false;
    o.use_bf16_packed = false;
    o.use_fp16_arithmetic = false;
    if (gpu && (precision == "fp16" || precision == "int8"))
    {
        o.use_fp16_packed = o.use_fp16_storage = o.use_fp16_arithmetic = o.use_fp16_uniform = true;
        o.use_int8_inference = precision == "int8";
        return;
    }
    o.use_fp16_uniform = false;
    if (precision == "fp32")
    {
        o.use_fp16_packed = o.use_fp16_storage = false;
        o.use_int8_inference = false;
    }
    else if (precision == "fp16")
    {
        o.use_fp16_packed = o.use_fp16_storage = true;
        o.use_int8_inference = false;
    }
    else if (precision == "int8")
    {
        o.use_fp16_packed = o.use_fp16_storage = false;
        o.use_int8_inference = true;
    }
    else
        fail("--precision must be auto, fp32, fp16 or int8, got '" + precision + "'");
}

// --gpu N, or -1 (CPU). A CPU-only build refuses the option instead of silently timing the CPU.
int gpu_of(const Args& a)
{
    if (!a.opts.count("gpu"))
        return -1;
    const int gpu = opt_int(a, "gpu");
#if !NCNN_VULKAN
    fail("--gpu needs a Vulkan build of rife-bench; this one (" RIFE_TARGET ") is CPU-only: build the " RIFE_TARGET
         "-vulkan target");
#endif
    return gpu;
}

// What runs the model: "cpu", or the Vulkan device's name and API version.
std::string device_of(int gpu)
{
#if NCNN_VULKAN
    if (gpu >= 0)
    {
        const ncnn::GpuInfo& info = ncnn::get_gpu_info(gpu);
        const uint32_t v = info.api_version();
        char buf[512];
        snprintf(buf, sizeof(buf), "%s (Vulkan %u.%u.%u, device %d)", info.device_name(), v >> 22, (v >> 12) & 0x3ff,
                 v & 0xfff, gpu);
        return buf;
    }
#endif
    (void)gpu;
    return "cpu";
}

// A software Vulkan device (lavapipe, SwiftShader: VkPhysicalDeviceType CPU) computes on the CPU cores: its
// timings are no GPU figure, and the records say so.
bool software_device(int gpu)
{
#if NCNN_VULKAN
    if (gpu >= 0)
        return ncnn::get_gpu_info(gpu).type() == 3;
#endif
    (void)gpu;
    return false;
}

// The "device" and "software" fields of every JSON record.
std::string device_json(int gpu)
{
    std::string name;
    for (char c : device_of(gpu))
        if (c == '"' || c == '\\')
            name += std::string("\\") + c;
        else if ((unsigned char)c >= 0x20)
            name += c;
    return "\"device\": \"" + name + "\", \"software\": " + (software_device(gpu) ? "true" : "false");
}

// Point the net at Vulkan device `gpu`; one sentence when the machine has no Vulkan loader or device.
void use_gpu(ncnn::Net& net, int gpu)
{
#if NCNN_VULKAN
    const int count = ncnn::get_gpu_count();
    if (count == 0)
        fail("--gpu " + std::to_string(gpu) + ": no Vulkan device found; install a Vulkan driver and its loader "
             "libvulkan.so.1 (Debian: mesa-vulkan-drivers libvulkan1 for the software lavapipe) or run without --gpu");
    if (gpu >= count)
        fail("--gpu " + std::to_string(gpu) + ": this machine has " + std::to_string(count) + " Vulkan device(s), "
             "numbered from 0");
    net.opt.use_vulkan_compute = true;
    net.opt.vulkan_device_index = gpu;
    net.set_vulkan_device(gpu);
    fprintf(stderr, "rife-bench: device %s\n", device_of(gpu).c_str());
#else
    (void)net;
    (void)gpu;
#endif
}

// On a GPU every layer must run there: a layer without a Vulkan path (or whose parameters its Vulkan
// path rejects) would silently run on the CPU, with a download/upload around it, and falsify timings.
void check_all_on_gpu(const ncnn::Net& net)
{
    std::string cpu;
    for (const ncnn::Layer* layer : net.layers())
        if (!layer->support_vulkan && layer->type != "Input")
            cpu += (cpu.empty() ? "" : ", ") + layer->name + " (" + layer->type + ")";
    if (!cpu.empty())
        fail("--gpu: these layers have no Vulkan path in this build and would run on the CPU: " + cpu
             + "; the model cannot run entirely on the GPU");
}

// What the .param file says about how the model may run: int8 layers (Convolution, ConvolutionDepthWise or
// InnerProduct with int8_scale_term, param 8, set: their weights are int8 and only int8 inference reads them),
// and a fixed size (GridSample on a baked [2,H,W] MemoryData grid: the stock models of rife-v4.x-stock-HxW).
struct ModelInfo
{
    bool int8 = false;
    int fixed_w = 0, fixed_h = 0;
};

ModelInfo inspect_param(const std::string& param)
{
    ModelInfo info;
    std::ifstream in(param);
    std::string line;
    bool grid_sample = false;
    int grid_w = 0, grid_h = 0;
    for (int n = 0; std::getline(in, line); n++)
    {
        std::istringstream tokens(line);
        std::string type, name;
        int nin = 0, nout = 0;
        if (n < 2 || !(tokens >> type >> name >> nin >> nout))
            continue; // the magic number and the counts line
        std::string tok;
        for (int i = 0; i < nin + nout && tokens >> tok; i++)
            ;
        std::map<int, std::string> kv;
        while (tokens >> tok)
        {
            size_t eq = tok.find('=');
            if (eq != std::string::npos)
                kv[atoi(tok.substr(0, eq).c_str())] = tok.substr(eq + 1);
        }
        if ((type == "Convolution" || type == "ConvolutionDepthWise" || type == "InnerProduct") && kv.count(8)
            && atoi(kv[8].c_str()) != 0)
            info.int8 = true;
        if (type == "GridSample")
            grid_sample = true;
        if (type == "MemoryData" && kv.count(0) && kv.count(1) && kv.count(2) && atoi(kv[2].c_str()) == 2)
        {
            grid_w = atoi(kv[0].c_str());
            grid_h = atoi(kv[1].c_str());
        }
    }
    if (grid_sample && grid_w > 0 && grid_h > 0)
    {
        info.fixed_w = grid_w;
        info.fixed_h = grid_h;
    }
    return info;
}

// --precision, with auto resolved from the model; fp32 or fp16 on an int8 model would read int8 weights as
// floats (a crash), so it is refused.
std::string resolve_precision(const Args& a, const std::string& param, const ModelInfo& info)
{
    std::string precision = opt(a, "precision", "auto");
    if (precision == "auto")
        return info.int8 ? "int8" : "fp32";
    if (info.int8 && precision != "int8")
        fail("model " + param + " is an int8 model (its convolutions carry int8 scales) and runs only with --precision "
             "int8, not " + precision + "; pass --precision int8 or leave --precision out");
    return precision;
}

// A stock model computes its warp grid for one size: any other size would give a wrong frame silently.
void check_fixed_size(const ModelInfo& info, const std::string& model, int w, int h)
{
    if (info.fixed_w && (w != info.fixed_w || h != info.fixed_h))
        fail("model " + model + " is fixed to " + std::to_string(info.fixed_h) + "x" + std::to_string(info.fixed_w)
             + " (HxW: a stock GridSample model), so it cannot run at " + std::to_string(h) + "x" + std::to_string(w)
             + "; use the rife.Warp model (any size) or the stock model built for this size");
}

ModelInfo load_net(ncnn::Net& net, const Args& a)
{
    std::string param, bin;
    if (a.opts.count("model"))
    {
        param = a.opts.at("model") + "/flownet.param";
        bin = a.opts.at("model") + "/flownet.bin";
    }
    else
    {
        param = opt(a, "param");
        bin = a.opts.count("bin") ? a.opts.at("bin") : "";
    }
    if (!is_file(param))
        fail("model file " + param + " not found; point --model at a folder holding flownet.param and flownet.bin");
    if (!bin.empty() && !is_file(bin))
        fail("model file " + bin + " not found; point --model at a folder holding flownet.param and flownet.bin");

    ModelInfo info = inspect_param(param);
    net.opt.num_threads = opt_int(a, "threads", "1");
    net.opt.lightmode = true;
    const int gpu = gpu_of(a);
    set_precision(net.opt, resolve_precision(a, param, info), gpu >= 0);
    if (gpu >= 0)
        use_gpu(net, gpu);
    rife::register_warp(net);
    if (net.load_param(param.c_str()) != 0)
        fail("cannot parse model file " + param + "; re-export it (layer types this build lacks are listed above)");
    if (bin.empty())
        net.load_model((const unsigned char*)""); // a weightless graph (e.g. Input + rife.Warp)
    else if (net.load_model(bin.c_str()) != 0)
        fail("cannot load weights " + bin + "; it does not match " + param + ", re-export both");
    if (gpu >= 0)
        check_all_on_gpu(net);
    return info;
}

std::string model_name(const Args& a)
{
    return a.opts.count("model") ? a.opts.at("model") : opt(a, "param");
}

// The precision the net runs with (after auto), for the JSON records.
const char* precision_of(const ncnn::Net& net)
{
    return net.opt.use_int8_inference ? "int8" : net.opt.use_fp16_storage ? "fp16" : "fp32";
}

bool has_input(const ncnn::Net& net, const char* name)
{
    for (const char* n : net.input_names())
        if (std::string(n) == name)
            return true;
    return false;
}

int align_of(const Args& a)
{
    const int align = opt_int(a, "align", std::to_string(kDefaultAlign));
    if (align < kDefaultAlign || align % kDefaultAlign)
        fail("--align must be a positive multiple of 32 (32 for most RIFE v4 versions, 64 for 4.25/4.26, 128 for "
             "4.25-lite), got " + std::to_string(align));
    return align;
}

void check_rife_size(const Args& a, int w, int h)
{
    const int align = align_of(a);
    if (w <= 0 || h <= 0 || w % align || h % align)
        fail("size " + std::to_string(w) + "x" + std::to_string(h) + " (WxH) cannot be fed to the model: width and "
             "height must be positive multiples of " + std::to_string(align) + " (interpolate pads automatically)");
}

// Untimed runs before timing: on a GPU the first runs still allocate and upload (pipelines are created
// at load), so a GPU warms up for 3.
std::string default_warmup(const Args& a)
{
    return a.opts.count("gpu") ? "3" : "1";
}

ncnn::Mat timestep_map(int w, int h, float t)
{
    ncnn::Mat m(w, h, 1);
    m.fill(t);
    return m;
}

// Interpolation's frames, blobs and outputs (megabytes each at 720p, the same sizes for every frame) come from
// one pool that keeps freed blocks: from malloc, every frame touched fresh pages, and the page faults cost
// more system time than the format conversions cost user time. Thread-safe (the --jobs workers share it).
ncnn::Allocator* frame_allocator()
{
    static ncnn::PoolAllocator pool;
    return &pool;
}

ncnn::Mat run(const ncnn::Net& net, const std::vector<std::pair<std::string, ncnn::Mat> >& inputs, const std::string& output,
              ncnn::Allocator* allocator = 0)
{
    ncnn::Extractor ex = net.create_extractor();
    if (allocator)
    {
        ex.set_blob_allocator(allocator);
        ex.set_workspace_allocator(allocator);
    }
    for (const auto& kv : inputs)
        if (ex.input(kv.first.c_str(), kv.second) != 0)
            fail("the model has no input blob named '" + kv.first + "'");
    ncnn::Mat out;
    if (ex.extract(output.c_str(), out) != 0 || out.empty())
        fail("running the model failed at output '" + output + "'; see the ncnn message above");
    return out;
}

// The timestep input [1, ph, pw]: the same for every pair of a folder, so built once per thread and size
// instead of allocated and filled for every frame.
const ncnn::Mat& timestep_for(int pw, int ph, float t)
{
    thread_local ncnn::Mat m;
    thread_local float filled = -1.f;
    if (m.w != pw || m.h != ph || filled != t)
    {
        m = timestep_map(pw, ph, t);
        filled = t;
    }
    return m;
}

// 8-bit RGB -> planar float [3, ph, pw] in [0, 1], padded right/bottom to pw x ph by replicating the edge
// pixel (like rife-ncnn-vulkan), in one pass over the frame: from_pixels, the 1/255 scaling and
// copy_make_border took three passes over a 720p frame, host time that a GPU run waits for. The values are
// the same (u8 -> float, times 1/255.f).
ncnn::Mat frame_to_mat(const rife::Image& img, int pw, int ph, ncnn::Allocator* allocator = 0)
{
    ncnn::Mat m(pw, ph, 3, (size_t)4u, allocator);
    const float scale = 1 / 255.f;
    for (int y = 0; y < ph; y++)
    {
        const unsigned char* src = img.rgb.data() + (size_t)std::min(y, img.h - 1) * img.w * 3;
        float* r = m.channel(0).row(y);
        float* g = m.channel(1).row(y);
        float* b = m.channel(2).row(y);
        for (int x = 0; x < img.w; x++)
        {
            r[x] = src[3 * x] * scale;
            g[x] = src[3 * x + 1] * scale;
            b[x] = src[3 * x + 2] * scale;
        }
        for (int x = img.w; x < pw; x++)
        {
            r[x] = r[img.w - 1];
            g[x] = g[img.w - 1];
            b[x] = b[img.w - 1];
        }
    }
    return m;
}

ncnn::Mat image_to_mat(const rife::Image& img)
{
    return frame_to_mat(img, img.w, img.h);
}

// The model's [3, ph, pw] output, cropped to w x h and quantized to 8-bit RGB in one pass over the pixels, into
// `res` (a frame of the same size reuses its buffer).
void mat_to_frame(const ncnn::Mat& out, int w, int h, rife::Image& res)
{
    res.w = w;
    res.h = h;
    res.rgb.resize((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
    {
        const float* r = out.channel(0).row(y);
        const float* g = out.channel(1).row(y);
        const float* b = out.channel(2).row(y);
        unsigned char* dst = res.rgb.data() + (size_t)y * w * 3;
        for (int x = 0; x < w; x++)
        {
            dst[3 * x] = (unsigned char)std::min(std::max(r[x] * 255.f + 0.5f, 0.f), 255.f);
            dst[3 * x + 1] = (unsigned char)std::min(std::max(g[x] * 255.f + 0.5f, 0.f), 255.f);
            dst[3 * x + 2] = (unsigned char)std::min(std::max(b[x] * 255.f + 0.5f, 0.f), 255.f);
        }
    }
}

// Reads a PPM frame into `img`: a frame of the same size reuses its buffer (no new pages per frame).
void read_frame(const std::string& path, rife::Image& img)
{
    std::string err = rife::read_ppm(path, img);
    if (!err.empty())
        fail(err);
}

rife::Image load_image(const std::string& path)
{
    rife::Image img;
    read_frame(path, img);
    return img;
}

float timestep_of(const Args& a)
{
    float t = (float)atof(opt(a, "t", "0.5").c_str());
    if (!(t >= 0.f && t <= 1.f))
        fail("--t must be in [0, 1]");
    return t;
}

// interpolate/serve with --gpu: the frame converter for --transfer u8 (the default), or none for --transfer float
// (frames converted on the CPU and float blobs transferred, the reference path). Without --gpu only float exists.
std::unique_ptr<rife::GpuFrames> gpu_frames_for(const ncnn::Net& net, const Args& a)
{
    const int gpu = gpu_of(a);
    const std::string transfer = opt(a, "transfer", gpu >= 0 ? "u8" : "float");
    if (transfer != "u8" && transfer != "float")
        fail("--transfer must be u8 or float, got '" + transfer + "'");
    if (transfer == "float")
        return nullptr;
    if (gpu < 0)
        fail("--transfer u8 converts frames on the GPU and needs --gpu N; without --gpu frames are converted on the CPU");
#if NCNN_VULKAN
    std::unique_ptr<rife::GpuFrames> frames(new rife::GpuFrames(net));
    if (!frames->error().empty())
        fail("--gpu " + std::to_string(gpu) + ": " + frames->error());
    return frames;
#else
    (void)net;
    return nullptr;
#endif
}

// The "transfer" field of interpolate's JSON: how frames went to the net and back.
const char* transfer_of(int gpu, const rife::GpuFrames* frames)
{
    return frames ? "u8" : gpu >= 0 ? "float" : "none";
}

// One interpolated frame: pad right/bottom to the --align multiple by replicating the edge (like
// rife-ncnn-vulkan), run, crop back and quantize to 8 bits; with `frames` (interpolate --gpu) all of that on
// the GPU, else on the CPU. Thread-safe: one Extractor per call. A model fixed
// to one size (`info`, read from `model`) refuses a padded size other than its own.
void interpolate_pair(const ncnn::Net& net, const ModelInfo& info, const std::string& model, const rife::Image& i0,
                      const rife::Image& i1, float t, int align, const std::string& name0, const std::string& name1,
                      rife::Image& res, const rife::GpuFrames* frames)
{
    if (i0.w != i1.w || i0.h != i1.h)
        fail("frames " + name0 + " (" + std::to_string(i0.w) + "x" + std::to_string(i0.h) + ") and " + name1 + " ("
             + std::to_string(i1.w) + "x" + std::to_string(i1.h) + ") differ in size; both frames must have the same size");
    const int w = i0.w, h = i0.h;
    const int pw = (w + align - 1) / align * align, ph = (h + align - 1) / align * align;
    check_fixed_size(info, model, pw, ph);
#if NCNN_VULKAN
    if (frames)
    {
        const std::string err = frames->interpolate(i0, i1, t, pw, ph, res);
        if (!err.empty())
            fail(err);
        return;
    }
#else
    (void)frames;
#endif
    ncnn::Allocator* pool = frame_allocator();
    ncnn::Mat out = run(net, {{"in0", frame_to_mat(i0, pw, ph, pool)}, {"in1", frame_to_mat(i1, pw, ph, pool)},
                              {"in2", timestep_for(pw, ph, t)}}, "out0", pool);
    if (out.c != 3 || out.w != pw || out.h != ph)
        fail("the model's out0 is " + std::to_string(out.c) + "x" + std::to_string(out.h) + "x" + std::to_string(out.w)
             + ", expected 3xHxW of the input; is this a RIFE v4 model?");
    mat_to_frame(out, w, h, res);
}

void save_image(const std::string& path, const rife::Image& img)
{
    std::string err = rife::write_ppm(path, img);
    if (!err.empty())
        fail(err);
}

// The *.ppm files of a folder, in name order (a video's frames, numbered).
std::vector<std::string> ppm_files(const std::string& dir)
{
    DIR* d = opendir(dir.c_str());
    if (!d)
        fail("--in-dir " + dir + " is not a readable folder");
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d))
        if (ends_with(e->d_name, ".ppm"))
            names.push_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    if (names.size() < 2)
        fail("--in-dir " + dir + " holds " + std::to_string(names.size()) + " .ppm frame(s); interpolation needs at least 2");
    return names;
}

// Every pair of the folder `names` (in `in_dir`), over `jobs` workers: frames f0..fn-1 -> OUT/%08d.ppm = f0,
// mid(f0,f1), f1, ... (2n-1 frames, a doubled frame rate). Each worker holds an Extractor and takes pairs in
// turn, so one pair's upload, another's GPU compute and a third's download and file I/O overlap -- the
// throughput a video user sees. Returns the wall time in ms.
double interpolate_all(const ncnn::Net& net, const ModelInfo& info, const Args& a, const std::vector<std::string>& names,
                       int jobs, const rife::GpuFrames* frames)
{
    const std::string in_dir = opt(a, "in-dir"), out_dir = opt(a, "out-dir");
    const float t = timestep_of(a);
    const int align = align_of(a);
    const int pairs = (int)names.size() - 1;
    std::atomic<int> next(0);
    auto worker = [&]() {
        rife::Image i0, i1, mid; // this worker's frames: same-size frames reuse the buffers
        for (int i = next++; i < pairs; i = next++)
        {
            const std::string n0 = in_dir + "/" + names[i], n1 = in_dir + "/" + names[i + 1];
            read_frame(n0, i0);
            read_frame(n1, i1);
            interpolate_pair(net, info, model_name(a), i0, i1, t, align, n0, n1, mid, frames);
            char out_name[32];
            snprintf(out_name, sizeof(out_name), "/%08d.ppm", 2 * i + 1);
            save_image(out_dir + out_name, mid);
            snprintf(out_name, sizeof(out_name), "/%08d.ppm", 2 * i);
            save_image(out_dir + out_name, i0);
            if (i + 1 == pairs)
            {
                snprintf(out_name, sizeof(out_name), "/%08d.ppm", 2 * i + 2);
                save_image(out_dir + out_name, i1);
            }
        }
    };
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int j = 0; j < jobs; j++)
        threads.emplace_back(worker);
    for (std::thread& th : threads)
        th.join();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The folder's frames, its --jobs, and `warmup` untimed runs of its first pair (pipeline creation, allocator
// warm-up); the --out-dir is created.
std::vector<std::string> prepare_folder(const ncnn::Net& net, const ModelInfo& info, const Args& a, int gpu,
                                        int warmup, int& jobs, const rife::GpuFrames* frames)
{
    const std::string in_dir = opt(a, "in-dir"), out_dir = opt(a, "out-dir");
    jobs = opt_int(a, "jobs", gpu >= 0 ? "2" : "1");
    if (jobs < 1)
        fail("--jobs must be at least 1");
    const std::vector<std::string> names = ppm_files(in_dir);
    rife::Image i0 = load_image(in_dir + "/" + names[0]), i1 = load_image(in_dir + "/" + names[1]), mid;
    for (int k = 0; k < warmup; k++)
        interpolate_pair(net, info, model_name(a), i0, i1, timestep_of(a), align_of(a), names[0], names[1], mid, frames);
    if (mkdir(out_dir.c_str(), 0755) != 0 && errno != EEXIST)
        fail("cannot create --out-dir " + out_dir);
    return names;
}

// Folder mode of `interpolate`: one untimed pair first, then every pair timed as a whole.
int interpolate_folder(const ncnn::Net& net, const ModelInfo& info, const Args& a, int gpu,
                       const rife::GpuFrames* frames)
{
    int jobs = 1;
    const std::vector<std::string> names = prepare_folder(net, info, a, gpu, 1, jobs, frames);
    const int pairs = (int)names.size() - 1;
    const double ms = interpolate_all(net, info, a, names, jobs, frames);
    printf("{\"target\": \"%s\", \"ncnn_version\": \"%s\", %s, \"precision\": \"%s\", \"transfer\": \"%s\", "
           "\"jobs\": %d, \"threads\": %d, \"pairs\": %d, \"total_ms\": %.3f, \"ms_per_frame\": %.3f, "
           "\"fps\": %.3f, \"peak_rss_kb\": %ld}\n",
           RIFE_TARGET, NCNN_VERSION_STRING, device_json(gpu).c_str(), precision_of(net), transfer_of(gpu, frames), jobs,
           net.opt.num_threads, pairs, ms, ms / pairs, pairs * 1000.0 / ms, peak_rss_kb());
    return 0;
}

int cmd_interpolate(const Args& a)
{
    ncnn::Net net;
    const ModelInfo info = load_net(net, a);
    const std::unique_ptr<rife::GpuFrames> frames = gpu_frames_for(net, a);
    if (a.opts.count("in-dir"))
        return interpolate_folder(net, info, a, gpu_of(a), frames.get());
    const float t = timestep_of(a);
    const std::string n0 = opt(a, "in0"), n1 = opt(a, "in1");
    rife::Image mid;
    interpolate_pair(net, info, model_name(a), load_image(n0), load_image(n1), t, align_of(a), n0, n1, mid,
                     frames.get());
    save_image(opt(a, "out"), mid);
    return 0;
}

int cmd_dump(const Args& a)
{
    ncnn::Net net;
    const ModelInfo info = load_net(net, a);
    std::vector<std::pair<std::string, ncnn::Mat> > inputs;
    for (const std::string& spec : a.inputs)
    {
        size_t eq = spec.find('=');
        if (eq == std::string::npos)
            fail("--input takes NAME=FILE, got '" + spec + "'");
        std::string name = spec.substr(0, eq), path = spec.substr(eq + 1);
        ncnn::Mat m;
        if (ends_with(path, ".npy"))
        {
            std::string err = rife::read_npy(path, m);
            if (!err.empty())
                fail(err);
        }
        else
            m = image_to_mat(load_image(path));
        inputs.push_back({name, m});
    }
    if (inputs.empty())
        fail("dump needs at least one --input NAME=FILE");
    if (has_input(net, "in2"))
    {
        const ncnn::Mat& m = inputs[0].second;
        check_rife_size(a, m.w, m.h);
        check_fixed_size(info, model_name(a), m.w, m.h);
        for (const auto& kv : inputs)
            if (kv.second.w != m.w || kv.second.h != m.h)
                fail("input '" + kv.first + "' is " + std::to_string(kv.second.w) + "x" + std::to_string(kv.second.h)
                     + " but '" + inputs[0].first + "' is " + std::to_string(m.w) + "x" + std::to_string(m.h) + "; all inputs must have the same size");
    }
    if (!a.opts.count("out-dir"))
    {
        if (a.outputs.size() > 1)
            fail("several --output blobs are written to a folder: give --out-dir DIR instead of --out");
        ncnn::Mat out = run(net, inputs, a.outputs.empty() ? std::string("out0") : a.outputs[0]);
        std::string err = rife::write_npy(opt(a, "out"), out);
        if (!err.empty())
            fail(err);
        return 0;
    }
    // Several blobs of one forward pass (e.g. every Convolution's input, for int8 calibration): light
    // mode off, so a blob extracted later is still there.
    const std::string dir = opt(a, "out-dir");
    if (a.outputs.empty())
        fail("--out-dir needs at least one --output BLOB");
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        fail("cannot create folder " + dir);
    ncnn::Extractor ex = net.create_extractor();
    ex.set_light_mode(false);
    for (const auto& kv : inputs)
        if (ex.input(kv.first.c_str(), kv.second) != 0)
            fail("the model has no input blob named '" + kv.first + "'");
    for (const std::string& blob : a.outputs)
    {
        ncnn::Mat out;
        if (ex.extract(blob.c_str(), out) != 0 || out.empty())
            fail("running the model failed at blob '" + blob + "'; see the ncnn message above");
        std::string err = rife::write_npy(dir + "/" + blob + ".npy", out);
        if (!err.empty())
            fail(err);
    }
    return 0;
}

// Deterministic pseudo-random frame in [0,1] (a fixed LCG: same inputs on every target).
ncnn::Mat synthetic_frame(int w, int h, unsigned seed)
{
    ncnn::Mat m(w, h, 3);
    for (int q = 0; q < 3; q++)
    {
        float* p = m.channel(q);
        for (int i = 0; i < w * h; i++)
        {
            seed = seed * 1664525u + 1013904223u;
            p[i] = (float)(seed >> 8) / 16777216.f;
        }
    }
    return m;
}

// CPU time of all threads of this process: next to wall time it shows how much a busy machine
// (other processes taking the cores) inflated a latency.
double process_cpu_ms()
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Peak RSS of this program: VmHWM belongs to the exec'd image, while getrusage's ru_maxrss keeps the
// parent's peak across fork+exec (a Python caller with torch loaded would show up as ~200 MB).
long peak_rss_kb()
{
    long kb = -1;
    FILE* f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    if (kb < 0)
    {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return kb;
}

int cmd_bench(const Args& a)
{
    const int w = opt_int(a, "width"), h = opt_int(a, "height");
    check_rife_size(a, w, h);
    const int warmup = opt_int(a, "warmup", default_warmup(a)), loops = opt_int(a, "loops", "5");
    if (loops < 1)
        fail("--loops must be at least 1");
    ncnn::Net net;
    check_fixed_size(load_net(net, a), model_name(a), w, h);
    ncnn::Mat in0 = synthetic_frame(w, h, 1), in1 = synthetic_frame(w, h, 2), in2 = timestep_map(w, h, 0.5f);
    std::vector<double> ms, cpu_ms;
    for (int i = 0; i < warmup + loops; i++)
    {
        double c0 = process_cpu_ms();
        auto t0 = std::chrono::steady_clock::now();
        run(net, {{"in0", in0}, {"in1", in1}, {"in2", in2}}, "out0");
        auto t1 = std::chrono::steady_clock::now();
        if (i >= warmup)
        {
            ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
            cpu_ms.push_back(process_cpu_ms() - c0);
        }
    }
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    size_t n = sorted.size();
    double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    printf("{\"target\": \"%s\", \"ncnn_version\": \"%s\", %s, \"width\": %d, \"height\": %d, "
           "\"threads\": %d, \"precision\": \"%s\", \"warmup\": %d, \"loops\": %d, \"latency_ms\": [",
           RIFE_TARGET, NCNN_VERSION_STRING, device_json(gpu_of(a)).c_str(), w, h, net.opt.num_threads,
           precision_of(net), warmup, loops);
    for (size_t i = 0; i < n; i++)
        printf("%s%.3f", i ? ", " : "", ms[i]);
    printf("], \"cpu_ms\": [");
    for (size_t i = 0; i < n; i++)
        printf("%s%.3f", i ? ", " : "", cpu_ms[i]);
    printf("], \"median_ms\": %.3f, \"min_ms\": %.3f, \"peak_rss_kb\": %ld}\n", median, sorted[0], peak_rss_kb());
    return 0;
}

// serve: load and warm up once, then one timed inference per "run" line on stdin, answered with one
// JSON line on stdout; "quit" or the end of stdin prints the peak RSS and exits. Why: a benchmark
// where several runtimes take turns (rifebuild bench) keeps each one loaded and warm between its
// turns, instead of paying a new process, model load and warm-up for every turn. With --in-dir, a
// "run" interpolates the whole folder (as `interpolate --in-dir` does) and answers ms per interpolated
// frame: the throughput takes its turns like a single frame.
int cmd_serve(const Args& a)
{
    const bool folder = a.opts.count("in-dir") > 0;
    const int warmup = opt_int(a, "warmup", default_warmup(a));
    const int gpu = gpu_of(a);
    ncnn::Net net;
    const ModelInfo info = load_net(net, a);
    const std::unique_ptr<rife::GpuFrames> frames = folder ? gpu_frames_for(net, a) : nullptr;
    int w = 0, h = 0, jobs = 0, pairs = 0;
    std::vector<std::string> names;
    ncnn::Mat in0, in1, in2;
    if (folder)
    {
        names = prepare_folder(net, info, a, gpu, warmup, jobs, frames.get());
        const rife::Image first = load_image(opt(a, "in-dir") + "/" + names[0]);
        w = first.w;
        h = first.h;
        pairs = (int)names.size() - 1;
    }
    else
    {
        w = opt_int(a, "width");
        h = opt_int(a, "height");
        check_rife_size(a, w, h);
        check_fixed_size(info, model_name(a), w, h);
        in0 = synthetic_frame(w, h, 1);
        in1 = synthetic_frame(w, h, 2);
        in2 = timestep_map(w, h, 0.5f);
        for (int i = 0; i < warmup; i++)
            run(net, {{"in0", in0}, {"in1", in1}, {"in2", in2}}, "out0");
    }
    printf("{\"ready\": true, \"target\": \"%s\", \"ncnn_version\": \"%s\", %s, \"width\": %d, "
           "\"height\": %d, \"threads\": %d, \"precision\": \"%s\", \"warmup\": %d, \"mode\": \"%s\", \"transfer\": \"%s\", \"jobs\": %d, "
           "\"pairs\": %d}\n",
           RIFE_TARGET, NCNN_VERSION_STRING, device_json(gpu).c_str(), w, h, net.opt.num_threads,
           precision_of(net), warmup, folder ? "interpolate" : "single", transfer_of(gpu, frames.get()), jobs, pairs);
    fflush(stdout);
    char buf[64];
    while (fgets(buf, sizeof(buf), stdin))
    {
        std::string cmd(buf);
        while (!cmd.empty() && (cmd.back() == '\n' || cmd.back() == '\r' || cmd.back() == ' '))
            cmd.pop_back();
        if (cmd == "quit")
            break;
        if (cmd != "run")
            fail("serve reads 'run' or 'quit' lines on stdin, got '" + cmd + "'");
        double c0 = process_cpu_ms();
        double ms;
        if (folder)
            ms = interpolate_all(net, info, a, names, jobs, frames.get()) / pairs;
        else
        {
            auto t0 = std::chrono::steady_clock::now();
            run(net, {{"in0", in0}, {"in1", in1}, {"in2", in2}}, "out0");
            ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        }
        printf("{\"ms\": %.3f, \"cpu_ms\": %.3f}\n", ms, (process_cpu_ms() - c0) / (folder ? pairs : 1));
        fflush(stdout);
    }
    printf("{\"peak_rss_kb\": %ld}\n", peak_rss_kb());
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2)
        usage();
    std::string cmd = argv[1];
    Args a = parse(argc, argv);
    int (*command)(const Args&) = cmd == "interpolate" ? cmd_interpolate : cmd == "dump" ? cmd_dump
                                  : cmd == "bench" ? cmd_bench : cmd == "serve" ? cmd_serve : 0;
    if (command)
    {
        const int rc = command(a); // its Net is gone here: the GPU instance may go
#if NCNN_VULKAN
        ncnn::destroy_gpu_instance();
#endif
        return rc;
    }
    if (cmd == "version")
    {
        printf("rife-bench %s ncnn %s%s\n", RIFE_TARGET, NCNN_VERSION_STRING, NCNN_VULKAN ? " vulkan" : "");
        return 0;
    }
    usage();
}
