"""rife-bench against PyTorch (per reference) and another target's binary against the host one,
written as verification records (rifebuild.evaluate.record) like every other artifact's."""
from __future__ import annotations

from pathlib import Path

from rifebuild.evaluate import record as rec
from rifebuild.evaluate.metrics import compare
from rifebuild.evaluate.reference import fixed_inputs, inputs_digest, load_reference
from rifebuild.native.run import call, dump


def _new(binary: Path, model_dir: Path, precision: str, runner: tuple[str, ...], target: str,
         gpu: int | None = None) -> dict:
    model_dir = Path(model_dir)
    where = "C++ rife.Warp" if gpu is None else f"Vulkan device {gpu}, every layer on the GPU"
    record = rec.new(model_dir, f"rife-bench ({target}, {where})", precision,
                     [model_dir / "flownet.param", model_dir / "flownet.bin", Path(binary)])
    record["details"].update({"binary": str(binary), "version": call(binary, ["version"], runner).strip()})
    return record


def verify(binary: Path, model_dir: Path, references: list[Path], out: Path, tolerance: float = 1e-3,
           precision: str = "fp32", min_psnr: float | None = None, threads: int = 2, gpu: int | None = None,
           target: str = "host") -> dict:
    """Run the rife.Warp model on each PyTorch reference (npz of in0, in1, in2, out0) and compare; with
    `gpu`, on that Vulkan device (rife-bench fails if any layer would run on the CPU)."""
    record = _new(binary, model_dir, precision, (), target, gpu)
    for reference_path in references:
        inputs, reference = load_reference(reference_path)
        got = dump(binary, inputs, model_dir=model_dir, threads=threads, precision=precision, gpu=gpu)
        record["checks"].append(rec.check("pytorch", reference.shape[1:], compare(got, reference.reshape(got.shape)),
                                          rec.bound(tolerance, min_psnr), inputs=reference_path,
                                          inputs_sha256=inputs_digest(inputs)))
    return rec.finish(record, out)


def cross_check(host_bin: Path, other_bin: Path, model_dir: Path, runner: tuple[str, ...], target: str, out: Path,
                height: int = 128, width: int = 128, tolerance: float = 1e-3, precision: str = "fp32",
                min_psnr: float | None = None) -> dict:
    """The same fixed scene (rifebuild.evaluate.reference) through the host binary and another target's binary
    (e.g. under qemu). 128x128: a multiple of every version's padding multiple (rife-v4.25-lite needs 128),
    and still quick under qemu. Not noise: a trained network's flow on noise turns float rounding
    differences between two correct builds into errors of 1e-2."""
    inputs = fixed_inputs(height, width, seed=0, timestep=0.5)
    host = dump(host_bin, inputs, model_dir=model_dir, threads=2, precision=precision)
    other = dump(other_bin, inputs, model_dir=model_dir, threads=2, precision=precision, runner=runner)
    record = _new(other_bin, model_dir, precision, runner, target)
    record["details"]["host_binary"] = str(host_bin)
    record["checks"].append(rec.check("host", host.shape[1:], compare(other, host), rec.bound(tolerance, min_psnr),
                                      inputs="fixed scene (seed 0)", inputs_sha256=inputs_digest(inputs)))
    return rec.finish(record, out)
