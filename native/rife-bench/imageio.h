// Minimal readers/writers for the two formats rife-bench exchanges with its Python wrapper:
// binary PPM (P6, 8-bit RGB) frames and float32 .npy arrays. PNG/JPEG are converted by the wrapper
// (rifebuild.native) so the static arm64/android binaries need no image libraries.
#pragma once

#include <mat.h>

#include <string>
#include <vector>

namespace rife {

struct Image
{
    int w = 0;
    int h = 0;
    std::vector<unsigned char> rgb; // h * w * 3, row-major
};

// Returns an empty string on success, else a sentence naming the file and the problem.
std::string read_ppm(const std::string& path, Image& img);
std::string write_ppm(const std::string& path, const Image& img);

// float32 C-order .npy of 1..3 dims <-> ncnn::Mat (shape [c,h,w] = (c, h, w)).
std::string read_npy(const std::string& path, ncnn::Mat& m);
std::string write_npy(const std::string& path, const ncnn::Mat& m);

} // namespace rife
