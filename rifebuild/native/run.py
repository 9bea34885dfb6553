"""Running rife-bench: its one-sentence errors, arrays in and out, frames to an interpolated PNG."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from rifebuild.core.errors import NativeError, NcnnModelError
from rifebuild.core.files import atomic_path


def run_rife_bench(binary: Path, args: list, runner: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run rife-bench; its one-sentence error (its last stderr line) becomes a NativeError."""
    binary = Path(binary)
    if not binary.is_file():
        raise NativeError(f"{binary} does not exist; build it first (snakemake {binary}).")
    proc = subprocess.run([*runner, str(binary), *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        msg = proc.stderr.strip().splitlines()
        raise NativeError(msg[-1] if msg else f"{binary} exited with status {proc.returncode}.")
    return proc


def call(binary: Path, args: list, runner: tuple[str, ...] = ()) -> str:
    """Run rife-bench; returns its stdout."""
    return run_rife_bench(binary, args, runner).stdout


def _save_npy(path: Path, array) -> Path:
    import numpy as np

    np.save(path, np.ascontiguousarray(array, dtype=np.float32))
    return path


def _input_args(inputs: dict, folder: Path) -> list:
    """rife-bench's `--input NAME=FILE.npy` for each input (name -> [C,H,W] or [1,C,H,W]), saved as float32
    [C,H,W] into `folder`."""
    import numpy as np

    args = []
    for name in sorted(inputs):
        arr = np.asarray(inputs[name], dtype=np.float32)
        arr = arr[0] if arr.ndim == 4 else arr
        args += ["--input", f"{name}={_save_npy(folder / f'in-{name}.npy', arr)}"]
    return args


def gpu_args(gpu: int | None) -> list:
    """rife-bench's --gpu N (Vulkan builds), or nothing for the CPU."""
    return [] if gpu is None else ["--gpu", gpu]


def dump(binary: Path, inputs: dict, model_dir: Path | None = None, param: Path | None = None,
         bin_: Path | None = None, output: str = "out0", threads: int = 1, precision: str = "fp32",
         runner: tuple[str, ...] = (), gpu: int | None = None):
    """Run the model on float32 arrays (name -> [C,H,W] or [1,C,H,W]) and return `output` as an array;
    `gpu`: on that Vulkan device, every layer there."""
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory(prefix="rife-dump-") as tmp:
        args = ["dump", "--threads", threads, "--precision", precision, "--output", output,
                "--out", Path(tmp) / "out.npy", *gpu_args(gpu)]
        if model_dir is not None:
            args += ["--model", model_dir]
        else:
            args += ["--param", param] + (["--bin", bin_] if bin_ else [])
        args += _input_args(inputs, Path(tmp))
        call(binary, args, runner)
        return np.load(Path(tmp) / "out.npy")


class BlobSession:
    """A model run by rife-bench, blobs by name: the interface of evaluate.runtimes.NcnnSession, so int8
    calibration can take its activations from the reference build (rifebuild.native.targets.REFERENCE),
    whose arithmetic is the same instruction stream on every x86-64 CPU."""

    def __init__(self, binary: Path, param: Path, bin_: Path, threads: int = 1, runner: tuple[str, ...] = ()):
        self.binary, self.param, self.bin, self.threads, self.runner = Path(binary), param, bin_, threads, runner

    def __enter__(self) -> "BlobSession":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def run(self, inputs: dict, blobs=("out0",)) -> dict:
        """Feed `inputs` (name -> [C,H,W] or [1,C,H,W] float arrays); every blob of `blobs` from one pass."""
        import tempfile

        import numpy as np

        with tempfile.TemporaryDirectory(prefix="rife-blobs-") as tmp:
            args = ["dump", "--threads", self.threads, "--precision", "auto", "--param", self.param,
                    "--bin", self.bin, "--out-dir", Path(tmp) / "out"]
            args += _input_args(inputs, Path(tmp))
            for blob in dict.fromkeys(blobs):
                args += ["--output", blob]
            call(self.binary, args, self.runner)
            return {blob: np.load(Path(tmp) / "out" / f"{blob}.npy") for blob in blobs}


def model_precision(model_dir: Path) -> str:
    """The precision a model folder is built for, from its weight tags: int8, fp16 (storage) or fp32
    (`auto`, rife-bench's own choice, for a folder without its files)."""
    from rifebuild.ncnn import graph

    param, bin_ = Path(model_dir) / "flownet.param", Path(model_dir) / "flownet.bin"
    if not (param.is_file() and bin_.is_file()):
        return "auto"  # rife-bench names the missing file
    try:
        model = graph.read(param, bin_)
    except NcnnModelError:
        return "auto"  # layers graph.py does not know: rife-bench tells int8 from fp32 by the .param alone
    tags = {w.tag for layer in model.layers for w in layer.weights}
    return "int8" if graph.TAG_INT8 in tags else "fp16" if graph.TAG_FP16 in tags else "fp32"


def interpolate(binary: Path, model_dir: Path, frame0: Path, frame1: Path, out: Path, timestep: float = 0.5,
                threads: int = 1, precision: str = "auto", runner: tuple[str, ...] = (), align: int = 32,
                gpu: int | None = None) -> Path:
    """PNG/JPEG frames -> interpolated PNG. Pillow converts to/from PPM, the format rife-bench reads;
    rife-bench pads the frames to `align` (the version's padding multiple) and crops back. `auto`: the
    precision the folder is built for (an int8 model run as fp32 would crash; fp16 weights run as fp16)."""
    import tempfile

    from PIL import Image, UnidentifiedImageError

    from rifebuild.core.images import too_large

    out = Path(out)
    if precision == "auto":
        precision = model_precision(model_dir)
    with tempfile.TemporaryDirectory(prefix="rife-interp-") as tmp:
        ppm = []
        for i, frame in enumerate((frame0, frame1)):
            try:
                with Image.open(frame) as img:
                    img.convert("RGB").save(Path(tmp) / f"in{i}.ppm")
            except Image.DecompressionBombError:
                raise NativeError(f"{too_large(frame)}; pass smaller frames.") from None
            except (OSError, UnidentifiedImageError) as exc:
                raise NativeError(f"Cannot read image {frame} ({exc}); pass a PNG or JPEG file.") from exc
            ppm.append(Path(tmp) / f"in{i}.ppm")
        call(binary, ["interpolate", "--model", model_dir, "--in0", ppm[0], "--in1", ppm[1], "--t", timestep,
                      "--threads", threads, "--precision", precision, "--align", align, "--out", Path(tmp) / "out.ppm",
                      *gpu_args(gpu)],
             runner)
        with Image.open(Path(tmp) / "out.ppm") as img, atomic_path(out) as part:
            img.save(part, format="PNG")
    return out


def bench_args(model_dir: Path, width: int, height: int, threads: int, warmup: int, loops: int,
               precision: str, gpu: int | None = None) -> list:
    """rife-bench's `bench` command line (shared with the per-layer profile)."""
    return ["bench", "--model", model_dir, "--width", width, "--height", height, "--threads", threads,
            "--warmup", warmup, "--loops", loops, "--precision", precision, *gpu_args(gpu)]


def serve_args(model_dir: Path, width: int, height: int, threads: int, warmup: int, precision: str,
               gpu: int | None = None) -> list:
    """rife-bench's `serve` command line: load and warm up once, then one timed run per `run` line on
    stdin (the benchmark stage keeps it loaded while the other runtimes take their turns)."""
    return ["serve", "--model", model_dir, "--width", width, "--height", height, "--threads", threads,
            "--warmup", warmup, "--precision", precision, *gpu_args(gpu)]


def bench(binary: Path, model_dir: Path, width: int, height: int, threads: int = 1, warmup: int = 1,
          loops: int = 5, precision: str = "fp32", runner: tuple[str, ...] = (), gpu: int | None = None) -> dict:
    """rife-bench bench: per-run latencies, median, min, peak RSS, ncnn version, target, device."""
    return json.loads(call(binary, bench_args(model_dir, width, height, threads, warmup, loops, precision, gpu),
                           runner))
