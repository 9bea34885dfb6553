"""Evaluate artifacts: fixed reference inputs + PyTorch outputs, and one verification record per artifact."""
from __future__ import annotations

from rifebuild.core import threads
from rifebuild.core.args import PATH, action, model, optional_float, out, resolution, rife_model
from rifebuild.core.errors import VerificationError


def reference(a) -> None:
    """Fixed inputs at one resolution and the PyTorch output for them (results/reference/<H>x<W>.npz)."""
    from rifebuild.checkpoint.load import load_ifnet
    from rifebuild.evaluate.reference import write_reference

    h, w = a.resolution
    write_reference(load_ifnet(a.checkpoint, a.model), h, w, a.seed, a.timestep, a.out)


def onnx(a) -> None:
    """onnxruntime vs PyTorch at the export resolution."""
    from rifebuild.evaluate import verify

    verify.verify_onnx(a.onnx, [a.reference], a.max_abs_err, threads.count(), a.out)


def ncnn(a) -> None:
    """ncnn (Python package; rife.Warp lowered to GridSample) vs PyTorch at every reference resolution."""
    from rifebuild.evaluate import verify

    if (a.max_abs_err is None) == (a.min_psnr is None):
        raise VerificationError("evaluate ncnn: give exactly one bound, --max-abs-err or --min-psnr")
    bound = {"max_abs_err": a.max_abs_err} if a.min_psnr is None else {"min_psnr_db": a.min_psnr}
    verify.verify_ncnn(a.model_dir, a.reference, a.precision, bound, threads.count(), a.out)


def int8(a) -> None:
    """int8 ncnn vs fp32 ncnn (mean), PyTorch (worst frame) and ground truth on the evaluation split."""
    from rifebuild.evaluate import verify

    verify.verify_int8(a.model_dir, a.fp32_dir, a.checkpoint, a.data, threads.count(), a.min_psnr, a.out,
                       a.min_worst_psnr, a.rife_model)


def mnn(a) -> None:
    """MNN runtime vs PyTorch at every reference resolution, and vs ground truth."""
    from rifebuild.evaluate import verify

    verify.verify_mnn(a.model, a.reference, a.out, a.eval, a.checkpoint, a.min_psnr, a.timestep, threads.count(),
                      a.rife_model)




def register(actions) -> None:
    action(actions, "reference", reference, (["--checkpoint"], PATH), model(),
           (["--resolution"], {"type": resolution, "required": True}), (["--seed"], {"type": int, "default": 0}),
           (["--timestep"], {"type": float, "default": 0.5}), out())
    action(actions, "onnx", onnx, (["--onnx"], PATH), (["--reference"], PATH),
           (["--max-abs-err"], {"type": float, "required": True}), out())
    action(actions, "ncnn", ncnn, (["--model-dir"], PATH), (["--reference"], {**PATH, "nargs": "+"}),
           (["--precision"], {"choices": ["fp32", "fp16"], "required": True}),
           (["--max-abs-err"], {"type": optional_float, "default": None,
                                "help": "pass when every pixel is within this of PyTorch (fp32)"}),
           (["--min-psnr"], {"type": optional_float, "default": None,
                             "help": "pass when PSNR vs PyTorch is at least this, in dB (fp16)"}), out())
    action(actions, "int8", int8, (["--model-dir"], PATH), (["--fp32-dir"], PATH), (["--checkpoint"], PATH),
           (["--data"], PATH), (["--min-psnr"], {"type": float, "required": True}),
           (["--min-worst-psnr"], {"type": float, "default": None}), rife_model(), out())
    action(actions, "mnn", mnn, (["--model"], PATH), (["--reference"], {**PATH, "nargs": "+"}),
           (["--checkpoint"], PATH), (["--eval"], PATH), (["--min-psnr"], {"type": float, "required": True}),
           (["--timestep"], {"type": float, "default": 0.5}), rife_model(), out())
