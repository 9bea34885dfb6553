"""Every error a user can act on derives from RifeBuildError.

The command line catches RifeBuildError in one place and prints its message, one sentence naming the
file or config key and what to do (exit status 2). Anything else is a bug and keeps its traceback.
One module for all of them, so no stage has to import another stage to catch its errors.
"""
from __future__ import annotations


class RifeBuildError(Exception):
    """A failure the user can fix; the message names the file or key and the fix."""


class OutputError(RifeBuildError):
    """An output that cannot be written: a folder the user may not write to, a temp file removed meanwhile."""


class ConfigError(RifeBuildError):
    """A config value that breaks the schema, with its key path and the rule it broke."""


class CheckpointError(RifeBuildError):
    """A checkpoint that cannot be used, with the file and the fix named."""


class DownloadError(RifeBuildError):
    """A download that failed or does not match its pin, with what to do instead."""


class ExportError(RifeBuildError):
    """A converter step (TorchScript, ONNX, pnnx) that failed, with its log named."""


class NcnnModelError(RifeBuildError):
    """An ncnn param/bin pair that cannot be parsed or written."""


class WarpPatternError(RifeBuildError):
    """A graph that does not hold the warp pattern the rewrite expects."""


class FlowBlobError(RifeBuildError):
    """A graph whose IFBlock outputs cannot get the blob names rife-ncnn-vulkan's TTA modes use."""


class VerificationError(RifeBuildError):
    """An artifact whose output misses its bound (or is not finite); no record is written."""


class CalibrationDataError(RifeBuildError):
    """Calibration/evaluation frames that cannot be used, with the path and what to do."""


class FrameTooSmall(CalibrationDataError):
    """A frame smaller than the requested resolution."""


class CalibrationError(RifeBuildError):
    """int8 calibration (ncnn table or MNN quantizer samples) that cannot go on."""


class TableError(RifeBuildError):
    """A calibration table that is not in ncnn's format."""


class Int8Error(RifeBuildError):
    """An int8 model that cannot be built from the given table and options."""


class MnnToolError(RifeBuildError):
    """MNN's converter or quantizer failed; the message names the step, the cause and the log."""


class NativeError(RifeBuildError):
    """A native build or rife-bench run that failed (missing NDK, compiler error, bad input)."""


class SourceError(RifeBuildError):
    """The ncnn source archive could not be found, fetched or unpacked."""


class ReportError(RifeBuildError):
    """A report input that is missing or malformed."""


class BenchError(RifeBuildError):
    """A benchmark that cannot run or gave no usable number (a runtime failed, a device is missing)."""


class ReleaseError(RifeBuildError):
    """A release bundle that cannot be built, or a downloaded one that does not match its manifest."""
