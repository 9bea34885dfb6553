"""What the int8 ncnn model needs from rife-ncnn-vulkan, said once for the report, README and release notes.

The stock client cannot load it, so no page may present the int8 folder as a drop-in; everything
that describes it takes these words from here, so they stay the same everywhere.
"""
from __future__ import annotations

# One line, for table cells and short lists.
INT8_CLIENT_SHORT = ("not a drop-in for stock rife-ncnn-vulkan (it cannot load it); runs on the GPU in rife-bench "
                     "(ncnn >= 1.0.20261020)")

# The full statement (markdown), as measured with rife-ncnn-vulkan release 20221029 (ncnn 20220729).
INT8_CLIENT_NOTE = """\
**The int8 model is not a drop-in for the stock rife-ncnn-vulkan.** Its releases build ncnn with
`NCNN_INT8=OFF` and without the Quantize, Dequantize and Requantize layers, so loading
`rife-v4.6-int8/` prints `please build ncnn with NCNN_INT8 enabled for int8 inference` and
`layer load_param 8 convrelu_0 failed` for each int8 Convolution, and then the program crashes.
To run it, build rife-ncnn-vulkan from source with its ncnn configured `-DNCNN_INT8=ON
-DWITH_LAYER_quantize=ON -DWITH_LAYER_dequantize=ON -DWITH_LAYER_requantize=ON` (in
`src/CMakeLists.txt`, where it sets them OFF), and run it on the CPU only (`-g -1`): on Vulkan
it crashes (segmentation fault in `Extractor::input`). The fp32 (`rife-v4.6/`) and fp16
(`rife-v4.6-fp16/`) folders are the drop-ins for the stock client, on CPU and Vulkan.
That crash is the stock client's 2022 ncnn, not a limit of int8 on GPUs: with ncnn >= 1.0.20261020
(Vulkan quantize/dequantize/requantize and int8 Convolution kernels) the int8 model runs entirely on
the GPU in this project's rife-bench (`--gpu N --precision int8`, the host-vulkan build; its
Deconvolutions stay float), verified against PyTorch (`verify-vulkan-int8.json`)."""
