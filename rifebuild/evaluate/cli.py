"""Evaluate artifacts: fixed reference inputs + PyTorch outputs, and one verification record per artifact."""
from __future__ import annotations

from rifebuild.core import threads
from rifebuild.core.args import PATH, action, model, optional_float, out, resolution
from rifebuild.core.errors import VerificationError


def reference(a) -> None:
    """Fixed inputs at one resolution and the PyTorch output for them (results/reference/<H>x<W>.npz)."""
    from rifebuild.checkpoint.load import load_ifnet
    from rifebuild.evaluate.reference import write_reference

    h, w = a.resolution
    write_reference(load_ifnet(a.checkpoint, a.model), h, w, a.seed, a.timestep, a.out)


def onnx(a) -> None:
    """onnxruntime vs PyTorch at every reference resolution (the record names the input dims: H and W
    are symbolic in the any-size ONNX)."""
    from rifebuild.evaluate import verify
    from rifebuild.export.dynamic_onnx import symbolic_dims

    verify.verify_onnx(a.onnx, a.reference, a.max_abs_err, threads.count(), a.out,
                       {"input_dims": symbolic_dims(a.onnx)})


def ncnn(a) -> None:
    """ncnn (Python package; rife.Warp lowered to GridSample) vs PyTorch at every reference resolution."""
    from rifebuild.evaluate import verify

    if (a.max_abs_err is None) == (a.min_psnr is None):
        raise VerificationError("evaluate ncnn: give exactly one bound, --max-abs-err or --min-psnr")
    from rifebuild.evaluate.record import bound

    verify.verify_ncnn(a.model_dir, a.reference, a.precision, bound(a.max_abs_err, a.min_psnr), threads.count(),
                       a.out)


def int8(a) -> None:
    """int8 ncnn vs fp32 ncnn (mean), PyTorch (worst frame) and ground truth on the evaluation split."""
    from rifebuild.evaluate import verify

    verify.verify_int8(a.model_dir, a.fp32_dir, a.checkpoint, a.data, threads.count(), a.min_psnr, a.out,
                       model=a.model, min_worst_psnr=a.min_worst_psnr)


def mnn(a) -> None:
    """MNN runtime vs PyTorch at every reference resolution, and vs ground truth."""
    from rifebuild.evaluate import verify

    verify.verify_mnn(a.mnn, a.reference, a.out, a.eval, a.checkpoint, a.min_psnr, model=a.model,
                      timestep=a.timestep, threads=threads.count())




def register(actions) -> None:
    action(actions, "reference", reference,
           (["--checkpoint"], {**PATH, "help": "the validated flownet.pkl of --model"}),
           model(),
           (["--resolution"], {"help": "HxW of the reference inputs", "type": resolution, "required": True}),
           (["--seed"], {"help": "seed of the fixed random inputs", "type": int, "default": 0}),
           (["--timestep"], {"help": "timestep t of the interpolated frame", "type": float, "default": 0.5}), out())
    action(actions, "onnx", onnx, (["--onnx"], {**PATH, "help": "the ONNX model to check"}),
           (["--reference"], {**PATH, "nargs": "+",
                              "help": "reference .npz file(s) (inputs + PyTorch output) from `evaluate reference`"}),
           (["--max-abs-err"], {"help": "largest allowed max abs error vs PyTorch", "type": float, "required": True}),
           out())
    action(actions, "ncnn", ncnn,
           (["--model-dir"], {**PATH, "help": "ncnn model folder (flownet.param + flownet.bin)"}),
           (["--reference"], {**PATH, "nargs": "+",
                              "help": "reference .npz file(s) (inputs + PyTorch output) from `evaluate reference`"}),
           (["--precision"], {"help": "the folder's weight storage", "choices": ["fp32", "fp16"], "required": True}),
           (["--max-abs-err"], {"type": optional_float, "default": None,
                                "help": "pass when every pixel is within this of PyTorch (fp32)"}),
           (["--min-psnr"], {"type": optional_float, "default": None,
                             "help": "pass when PSNR vs PyTorch is at least this, in dB (fp16)"}),
           out())
    action(actions, "int8", int8,
           (["--model-dir"], {**PATH, "help": "ncnn model folder (flownet.param + flownet.bin)"}),
           (["--fp32-dir"], {**PATH, "help": "the fp32 rife.Warp model folder the int8 one was made from"}),
           (["--checkpoint"], {**PATH, "help": "the validated flownet.pkl of --model"}),
           (["--data"], {**PATH,
                         "help": "calibration cache folder (results/calibration/pad<N>/) with its evaluation split"}),
           (["--min-psnr"], {"type": float, "required": True,
                             "help": "lowest allowed PSNR in dB (int8: mean vs fp32 ncnn; MNN: vs PyTorch)"}),
           (["--min-worst-psnr"], {"type": float, "default": None,
                                   "help": "lowest allowed PSNR (dB) of the worst frame vs PyTorch; unset: not gated"}),
           model(), out())
    action(actions, "mnn", mnn, (["--mnn"], {**PATH, "help": "the .mnn model to check"}),
           (["--reference"], {**PATH, "nargs": "+",
                              "help": "reference .npz file(s) (inputs + PyTorch output) from `evaluate reference`"}),
           (["--checkpoint"], {**PATH, "help": "the validated flownet.pkl of --model"}),
           (["--eval"], {**PATH, "help": "triplet folder with ground truth for the ground-truth scores"}),
           (["--min-psnr"], {"type": float, "required": True,
                             "help": "lowest allowed PSNR in dB (int8: mean vs fp32 ncnn; MNN: vs PyTorch)"}),
           (["--timestep"], {"help": "timestep t of the interpolated frame", "type": float, "default": 0.5}), model(),
           out())
