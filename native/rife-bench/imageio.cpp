#include "imageio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sstream>

namespace rife {

namespace {

// Reads the next whitespace-separated token of a PPM header, skipping '#' comments.
bool ppm_token(FILE* f, int& value)
{
    int c = fgetc(f);
    while (c != EOF)
    {
        if (c == '#')
            while (c != EOF && c != '\n') c = fgetc(f);
        else if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            c = fgetc(f);
        else
            break;
    }
    if (c < '0' || c > '9')
        return false;
    long v = 0;
    while (c >= '0' && c <= '9')
    {
        v = v * 10 + (c - '0');
        if (v > 1000000) return false;
        c = fgetc(f);
    }
    value = (int)v; // c is the single whitespace byte that ends the header field
    return true;
}

// Writes to path + ".tmp" and renames, so a failed run never leaves a complete-looking file.
std::string write_atomically(const std::string& path, const std::string& header, const void* data, size_t size)
{
    std::string tmp = path + ".tmp";
    FILE* f = fopen(tmp.c_str(), "wb");
    if (!f)
        return "cannot write " + path + ": check that its folder exists and is writable";
    bool ok = fwrite(header.data(), 1, header.size(), f) == header.size() && fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp.c_str(), path.c_str()) != 0)
    {
        remove(tmp.c_str());
        return "cannot write " + path + ": disk full or folder not writable";
    }
    return "";
}

} // namespace

std::string read_ppm(const std::string& path, Image& img)
{
    FILE* f = fopen(path.c_str(), "rb");
    if (!f)
        return "cannot open image " + path + ": check the path";
    char magic[2] = {0, 0};
    int w = 0, h = 0, maxval = 0;
    bool ok = fread(magic, 1, 2, f) == 2 && magic[0] == 'P' && magic[1] == '6'
              && ppm_token(f, w) && ppm_token(f, h) && ppm_token(f, maxval) && maxval == 255 && w > 0 && h > 0;
    if (!ok)
    {
        fclose(f);
        return "cannot read image " + path + ": not an 8-bit binary PPM (P6); pass PNG/JPEG frames through "
               "`python -m rifebuild.native interpolate`, which converts them";
    }
    img.w = w;
    img.h = h;
    img.rgb.resize((size_t)w * h * 3);
    size_t n = fread(img.rgb.data(), 1, img.rgb.size(), f);
    fclose(f);
    if (n != img.rgb.size())
        return "cannot read image " + path + ": file is truncated";
    return "";
}

std::string write_ppm(const std::string& path, const Image& img)
{
    std::ostringstream header;
    header << "P6\n" << img.w << " " << img.h << "\n255\n";
    return write_atomically(path, header.str(), img.rgb.data(), img.rgb.size());
}

std::string read_npy(const std::string& path, ncnn::Mat& m)
{
    FILE* f = fopen(path.c_str(), "rb");
    if (!f)
        return "cannot open array " + path + ": check the path";
    unsigned char pre[10];
    std::string bad = "cannot read array " + path + ": expected a float32 C-order .npy of 1 to 3 dimensions";
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
    {
        fclose(f);
        return bad;
    }
    size_t hlen = pre[6] == 1 ? (size_t)(pre[8] | (pre[9] << 8)) : 0;
    if (pre[6] != 1)
    {
        unsigned char more[2];
        if (fread(more, 1, 2, f) != 2) { fclose(f); return bad; }
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)more[0] << 16) | ((size_t)more[1] << 24);
    }
    std::string header(hlen, '\0');
    if (fread(&header[0], 1, hlen, f) != hlen || header.find("'descr': '<f4'") == std::string::npos
        || header.find("'fortran_order': False") == std::string::npos)
    {
        fclose(f);
        return bad;
    }
    size_t lp = header.find("'shape': (");
    size_t rp = header.find(')', lp);
    if (lp == std::string::npos || rp == std::string::npos) { fclose(f); return bad; }
    std::vector<int> shape;
    std::string dims = header.substr(lp + 10, rp - lp - 10);
    for (char* p = &dims[0]; *p;)
    {
        char* end;
        long v = strtol(p, &end, 10);
        if (end == p) { p++; continue; }
        shape.push_back((int)v);
        p = end;
    }
    if (shape.empty() || shape.size() > 3) { fclose(f); return bad; }
    if (shape.size() == 1) m.create(shape[0]);
    if (shape.size() == 2) m.create(shape[1], shape[0]);
    if (shape.size() == 3) m.create(shape[2], shape[1], shape[0]);
    size_t plane = (size_t)m.w * m.h;
    for (int q = 0; q < m.c; q++)
    {
        if (fread(m.channel(q), 4, plane, f) != plane) { fclose(f); return "cannot read array " + path + ": file is truncated"; }
    }
    fclose(f);
    return "";
}

std::string write_npy(const std::string& path, const ncnn::Mat& m)
{
    std::ostringstream shape;
    if (m.dims == 1) shape << "(" << m.w << ",)";
    if (m.dims == 2) shape << "(" << m.h << ", " << m.w << ")";
    if (m.dims == 3) shape << "(" << m.c << ", " << m.h << ", " << m.w << ")";
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape.str() + ", }";
    size_t total = 10 + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');
    dict.push_back('\n');
    std::string header = std::string("\x93NUMPY\x01\x00", 8);
    header.push_back((char)(dict.size() & 0xff));
    header.push_back((char)(dict.size() >> 8));
    header += dict;
    size_t plane = (size_t)m.w * m.h;
    std::vector<float> data(plane * m.c);
    for (int q = 0; q < m.c; q++)
        memcpy(&data[plane * q], m.channel(q), plane * 4);
    return write_atomically(path, header, data.data(), data.size() * 4);
}

} // namespace rife
