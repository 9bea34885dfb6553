"""Calibration and evaluation frame triplets (frame0, middle ground truth, frame1).

Sources:
- `builtin`: triplets rendered from colour photographs bundled inside scikit-image (no download),
  with known motion: the background follows a smooth random affine motion, a few foreground
  patches (cut from another photo) move along their own paths and occlude it. Every frame is
  rendered from the same parametric motion at t = 0, 0.5, 1, so the middle frame is exact.
- a Vimeo-90K triplet directory (`sequences/*/*/im1.png, im2.png, im3.png`);
- a folder of consecutive video frames (non-overlapping triplets in natural order: frame2 before frame10).

The calibration and evaluation splits never share a frame: builtin uses different photos for
each, Vimeo uses tri_trainlist.txt / tri_testlist.txt when present (else the first sequences
calibrate and the last evaluate), video folders calibrate on the start and evaluate on the end.
Triplets are centre-cropped to the requested resolution and cached as PNG in Vimeo layout.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rifebuild.core.errors import CalibrationDataError, FrameTooSmall

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
SPLITS = ("calibration", "evaluation")
# Disjoint photo sets: evaluation photos are never seen by calibration.
BUILTIN_PHOTOS = {
    "calibration": ("astronaut", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry"),
    "evaluation": ("chelsea", "motorcycle_left", "retina"),
}

Triplet = tuple[np.ndarray, np.ndarray, np.ndarray]  # each [3,H,W] float32 in [0,1]
INT_GRAY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
NUMBER = re.compile(r"\d+")


# ---------------------------------------------------------------------------------------------
# builtin: synthetic triplets with known motion


def builtin_photo(name: str) -> np.ndarray:
    """A bundled photo as float32 [3,H,W] in [0,1] (these ship inside the wheel: no download)."""
    import skimage.data

    if name == "motorcycle_left":
        image = skimage.data.stereo_motorcycle()[0]
    else:
        image = getattr(skimage.data, name)()
    return np.ascontiguousarray(image[..., :3].transpose(2, 0, 1), dtype=np.float32) / 255.0


def _affine_sample(photo, matrix: np.ndarray, offset: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear sample of `photo` at source = matrix @ (y, x) + offset for every output pixel.

    In float64: torch's float32 kernels differ in the last bit between its AVX-512, AVX2 and scalar
    paths, enough to flip 8-bit roundings of the cached frames; float64 noise never does.
    """
    import torch
    import torch.nn.functional as F

    ys, xs = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    src_y = matrix[0, 0] * ys + matrix[0, 1] * xs + offset[0]
    src_x = matrix[1, 0] * ys + matrix[1, 1] * xs + offset[1]
    ph, pw = photo.shape[1:]
    grid = np.stack([src_x / (pw - 1) * 2 - 1, src_y / (ph - 1) * 2 - 1], axis=-1)
    out = F.grid_sample(torch.from_numpy(photo.astype(np.float64))[None], torch.from_numpy(grid)[None],
                        mode="bilinear", padding_mode="reflection", align_corners=True)
    return out[0].numpy()


def _motion_at(start: np.ndarray, end: np.ndarray, t: float) -> np.ndarray:
    return start + t * (end - start)


def render_triplet(background: np.ndarray, foreground: np.ndarray, height: int, width: int,
                   rng: np.random.Generator, max_motion: float, motion_scale=(1.0, 1.0)) -> Triplet:
    """Render frames at t = 0, 0.5, 1 of one random scene; returns (frame0, middle, frame1).

    `motion_scale` (y, x) multiplies every motion drawn: the same scene rendered at a larger size
    moves as many more pixels as an upscaled video would (the random draws do not depend on it).
    """
    motion_scale = np.asarray(motion_scale, np.float64)
    ph, pw = background.shape[1:]
    zoom = max(height / ph, width / pw) * rng.uniform(1.05, 1.3)  # output px per photo px
    # Background: a random affine motion, linear in time (so t = 0.5 is exactly the middle).
    angle = np.deg2rad(rng.uniform(-2.0, 2.0))
    scale = rng.uniform(0.97, 1.03)
    shift = rng.uniform(-max_motion, max_motion, size=2) * motion_scale
    centre_src = np.array([ph / 2, pw / 2]) + rng.uniform(-0.1, 0.1, size=2) * [ph, pw]
    # Foreground patches: elliptic cut-outs of another photo, each with its own translation.
    patches = []
    for _ in range(int(rng.integers(1, 4))):
        ry, rx = rng.uniform(0.08, 0.2, size=2) * [height, width]
        cy, cx = rng.uniform(0.25, 0.75, size=2) * [height, width]
        motion = rng.uniform(-1.5 * max_motion, 1.5 * max_motion, size=2) * motion_scale
        src = rng.uniform(0.2, 0.8, size=2) * foreground.shape[1:]
        patches.append((ry, rx, cy, cx, motion, src))
    frames = []
    ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    for t in (0.0, 0.5, 1.0):
        a = angle * (t - 0.5)
        s = scale ** (t - 0.5)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) / (zoom * s)
        centre_out = np.array([height / 2, width / 2]) + shift * (t - 0.5)
        frame = _affine_sample(background, rot, centre_src - rot @ centre_out, height, width)
        for ry, rx, cy, cx, motion, src in patches:
            py, px = np.array([cy, cx]) + motion * (t - 0.5)
            mask = np.clip((1.0 - np.sqrt(((ys - py) / ry) ** 2 + ((xs - px) / rx) ** 2)) * min(ry, rx) / 1.5, 0, 1)
            eye = np.eye(2) / zoom
            patch = _affine_sample(foreground, eye, src - eye @ np.array([py, px]), height, width)
            frame = frame * (1 - mask) + patch * mask
        frames.append(np.clip(frame, 0.0, 1.0).astype(np.float32))
    return frames[0], frames[1], frames[2]


def builtin_triplets(split: str, count: int, height: int, width: int, seed: int,
                     max_motion: float, motion_at: tuple[int, int] | None = None) -> list[Triplet]:
    """`count` deterministic triplets of one split, each from that split's own photos only.

    `max_motion` is in pixels at the size `motion_at` (default: this size). Rendered at another
    size, the same scenes move proportionally more (or less) pixels, like real video at a higher
    resolution -- which is what stresses a model's coarse flow (and int8) at 720p.
    """
    scale = (1.0, 1.0) if motion_at is None else (height / motion_at[0], width / motion_at[1])
    photos = [builtin_photo(name) for name in BUILTIN_PHOTOS[split]]
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    triplets = []
    for i in range(count):
        background = photos[i % len(photos)]
        foreground = photos[(i + 1 + int(rng.integers(0, len(photos) - 1))) % len(photos)]
        triplets.append(render_triplet(background, foreground, height, width, rng, max_motion, scale))
    return triplets


# ---------------------------------------------------------------------------------------------
# directories: Vimeo-90K layout or consecutive video frames


def load_image(path: Path) -> np.ndarray:
    """An image file as float32 [3,H,W] in [0,1]: 8- and 16-bit, grayscale as 3 equal channels, alpha dropped."""
    from PIL import Image, UnidentifiedImageError

    from rifebuild.core.images import too_large

    try:
        with Image.open(path) as image:
            if image.mode in INT_GRAY_MODES:  # 16-bit grayscale (PNG "I;16*"; "I" from other readers)
                gray = np.asarray(image).astype(np.float32) / 65535.0
                return np.ascontiguousarray(np.repeat(np.clip(gray, 0.0, 1.0)[None], 3, axis=0))
            if image.mode == "F":  # float grayscale (TIFF): taken as already in [0,1]
                gray = np.nan_to_num(np.asarray(image, dtype=np.float32))
                return np.ascontiguousarray(np.repeat(np.clip(gray, 0.0, 1.0)[None], 3, axis=0))
            # Pillow reads 16-bit RGB(A) PNGs as 8-bit RGB(A) (the high byte: correctly scaled)
            rgb = np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError:
        raise CalibrationDataError(f"{too_large(path)}; scale it down or remove it from calibration.data") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise CalibrationDataError(
            f"{path}: not a readable image ({exc.__class__.__name__}); remove it or replace it with a PNG/JPEG") from None
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / 255.0


def center_crop(image: np.ndarray, height: int, width: int, path: Path | str) -> np.ndarray:
    h, w = image.shape[1:]
    if h < height or w < width:
        raise FrameTooSmall(
            f"{path}: frame is {h}x{w}, smaller than the requested {height}x{width}; "
            "lower calibration.resolution (multiples of 32) or use larger frames")
    top, left = (h - height) // 2, (w - width) // 2
    return np.ascontiguousarray(image[:, top:top + height, left:left + width])


def _load_triplet(paths: list[Path], height: int, width: int) -> Triplet:
    images = [load_image(p) for p in paths]
    shapes = {img.shape for img in images}
    if len(shapes) != 1:
        sizes = ", ".join(f"{p.name} {img.shape[1]}x{img.shape[2]}" for p, img in zip(paths, images))
        raise CalibrationDataError(
            f"{paths[0].parent}: frames of one triplet differ in size ({sizes}); all three must match")
    return tuple(center_crop(img, height, width, p) for img, p in zip(images, paths))  # type: ignore[return-value]


def _vimeo_sequences(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "sequences").glob("*/*/im1.png"))


def _vimeo_split(root: Path, split: str, count: int, other: int) -> list[Path]:
    listing = root / ("tri_trainlist.txt" if split == "calibration" else "tri_testlist.txt")
    if listing.is_file():
        names = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip()]
        sequences = [root / "sequences" / name for name in names]
        missing = [s for s in sequences if not (s / "im1.png").is_file()]
        if missing:
            raise CalibrationDataError(
                f"{listing}: lists {missing[0].relative_to(root)}, which has no im1.png; fix the list or the folder")
        chosen = sequences[:count]
    else:
        sequences = _vimeo_sequences(root)
        if len(sequences) < count + other:
            raise CalibrationDataError(
                f"{root}: {len(sequences)} Vimeo triplets, but calibration + evaluation need {count + other}; "
                "add triplets or lower calibration.calibration_size / evaluation_size")
        chosen = sequences[:count] if split == "calibration" else sequences[len(sequences) - count:]
    if len(chosen) < count:
        raise CalibrationDataError(
            f"{listing}: lists {len(chosen)} triplets, {split} needs {count}; lower the {split} size in config")
    return chosen


def _video_frames(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))


def frame_order(root: Path, frames: list[Path]) -> list[Path]:
    """Frames in natural order: by the last number in each name (frame2 before frame10).

    Names without any number keep name order. A folder where that order is ambiguous (two frames
    with the same number, e.g. frame1.png + frame01.png or clip1_1 + clip2_1, or numbered and
    unnumbered names mixed) is refused rather than guessed.
    """
    numbers = {p: [int(m) for m in NUMBER.findall(p.stem)] for p in frames}
    numbered = [p for p in frames if numbers[p]]
    if not numbered:
        return sorted(frames, key=lambda p: p.name)
    fix = "rename the frames so that each carries its own frame number (frame0001.png, frame0002.png, ...)"
    if len(numbered) != len(frames):
        plain = next(p for p in frames if not numbers[p])
        raise CalibrationDataError(
            f"{root}: the frames cannot be ordered: {plain.name} has no number but {numbered[0].name} has one; {fix}")
    seen: dict[int, Path] = {}
    for p in sorted(frames, key=lambda p: p.name):
        number = numbers[p][-1]
        if number in seen:
            raise CalibrationDataError(
                f"{root}: the frames cannot be ordered: {seen[number].name} and {p.name} both have frame number "
                f"{number}; {fix}")
        seen[number] = p
    return [seen[n] for n in sorted(seen)]


def directory_triplets(root: Path | str, split: str, count: int, other: int, height: int,
                       width: int) -> list[Triplet]:
    """Triplets of one split from a Vimeo-90K directory or a folder of consecutive frames.

    `other` is the size of the other split, so both fit without sharing frames.
    """
    root = Path(root)
    if not root.is_dir():
        raise CalibrationDataError(
            f"{root}: calibration.data is not an existing directory; set it to `builtin`, a Vimeo-90K "
            "folder (sequences/*/*/im1.png) or a folder of video frames")
    if (root / "sequences").is_dir():
        sequences = _vimeo_split(root, split, count, other)
        return [_load_triplet([seq / f"im{k}.png" for k in (1, 2, 3)], height, width) for seq in sequences]
    frames = _video_frames(root)
    if not frames:
        raise CalibrationDataError(f"{root}: the directory is empty; put video frames (PNG/JPEG) in it")
    odd = [p for p in frames if p.suffix.lower() not in IMAGE_SUFFIXES]
    if odd:
        raise CalibrationDataError(
            f"{odd[0]}: not an image file (expected {', '.join(IMAGE_SUFFIXES)}); remove it from the frames folder")
    frames = frame_order(root, frames)
    available = len(frames) // 3
    if available < count + other:
        raise CalibrationDataError(
            f"{root}: {len(frames)} frames make {available} triplets, but calibration + evaluation need "
            f"{count + other}; add frames or lower calibration.calibration_size / evaluation_size")
    starts = range(count) if split == "calibration" else range(available - count, available)
    return [_load_triplet(frames[3 * i:3 * i + 3], height, width) for i in starts]


# ---------------------------------------------------------------------------------------------
# the cache in results/: <out>/<split>/<HxW>/<nnnn>/im1.png, im2.png, im3.png


def get_triplets(source: str, split: str, count: int, other: int, height: int, width: int,
                 seed: int = 0, max_motion: float = 12.0, motion_at: tuple[int, int] | None = None) -> list[Triplet]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if source == "builtin":
        return builtin_triplets(split, count, height, width, seed, max_motion, motion_at)
    return directory_triplets(source, split, count, other, height, width)


def save_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(pixels).save(path, format="PNG")  # Pillow's PNG holds no timestamp


def write_cache(source: str, sizes: dict[str, int], resolution: tuple[int, int],
                extra_eval: list[tuple[int, int]], seed: int, max_motion: float, out: Path | str) -> dict:
    """Materialise both splits at `resolution` (+ evaluation at `extra_eval`) as PNG triplets.

    The folder appears all at once. Values are quantised to 8 bits here, once, so calibration and
    evaluation read the same data whatever the source. An extra evaluation resolution larger than
    the source frames is skipped (noted in manifest.json); the calibration resolution is not.
    Builtin triplets take `max_motion` at `resolution`; at the extra sizes the same scenes move
    proportionally further (the `motion_scale` of each entry in manifest.json).
    """
    from rifebuild.core.files import atomic_write_json

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    manifest = {"source": source, "seed": seed, "sizes": sizes, "written": [], "skipped": []}
    jobs = [("calibration", resolution), ("evaluation", resolution)]
    jobs += [("evaluation", tuple(r)) for r in extra_eval if tuple(r) != tuple(resolution)]
    try:
        for split, (height, width) in jobs:
            other = sizes[SPLITS[1 - SPLITS.index(split)]]
            try:
                triplets = get_triplets(source, split, sizes[split], other, height, width, seed, max_motion,
                                        tuple(resolution))
            except FrameTooSmall as exc:
                if (split, (height, width)) in jobs[:2]:
                    raise
                manifest["skipped"].append({"split": split, "resolution": [height, width], "reason": str(exc)})
                continue
            for i, triplet in enumerate(triplets):
                folder = tmp / split / f"{height}x{width}" / f"{i:04d}"
                folder.mkdir(parents=True)
                for k, image in enumerate(triplet, start=1):
                    save_png(image, folder / f"im{k}.png")
            entry = {"split": split, "resolution": [height, width], "triplets": len(triplets)}
            if source == "builtin":
                entry["motion_scale"] = [round(height / resolution[0], 6), round(width / resolution[1], 6)]
            manifest["written"].append(entry)
        atomic_write_json(tmp / "manifest.json", manifest)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def read_cache(root: Path | str, split: str, height: int, width: int) -> list[Triplet]:
    folder = Path(root) / split / f"{height}x{width}"
    sequences = sorted(p for p in folder.glob("*") if p.is_dir())
    if not sequences:
        raise CalibrationDataError(f"{folder}: no cached triplets; re-run the calibration_data rule")
    return [_load_triplet([seq / f"im{k}.png" for k in (1, 2, 3)], height, width) for seq in sequences]


def model_inputs(triplet: Triplet, timestep: float = 0.5) -> dict[str, np.ndarray]:
    """The model's in0/in1/in2 for a triplet (the middle frame is the target)."""
    frame0, _, frame1 = triplet
    in2 = np.full((1, *frame0.shape[1:]), timestep, np.float32)
    return {"in0": frame0, "in1": frame1, "in2": in2}


# ---------------------------------------------------------------------------------------------
# sample folders of a user's own triplets (MNN's calibration/evaluation dirs)


def read_triplets(root: Path | str) -> list[dict[str, np.ndarray]]:
    """Load every sample folder under `root`: {"in0", "in1"[, "gt"]} as [3,H,W] float32."""
    root = Path(root)
    if not root.is_dir():
        raise CalibrationDataError(f"{root}: calibration/evaluation split not found; build it first or "
                               "point the config at a folder of frame triplets")
    samples = [_read_sample(d) for d in sorted(p for p in root.iterdir() if p.is_dir())]
    if not samples:
        raise CalibrationDataError(f"{root}: holds no sample folders (each with im1/im2/im3.png or in0/in1.npy)")
    return samples


def _read_sample(folder: Path) -> dict[str, np.ndarray]:
    if (folder / "im1.png").is_file() and (folder / "im3.png").is_file():
        sample = {"in0": load_image(folder / "im1.png"), "in1": load_image(folder / "im3.png")}
        if (folder / "im2.png").is_file():
            sample["gt"] = load_image(folder / "im2.png")
        return sample
    if (folder / "in0.npy").is_file() and (folder / "in1.npy").is_file():
        sample = {k: load_npy(folder / f"{k}.npy") for k in ("in0", "in1")}
        if (folder / "gt.npy").is_file():
            sample["gt"] = load_npy(folder / "gt.npy")
        return sample
    raise CalibrationDataError(f"{folder}: expected im1.png + im3.png (+ im2.png) or in0.npy + in1.npy")


def load_npy(path: Path) -> np.ndarray:
    """A user's .npy frame as float32 [3,H,W]: never unpickled (no code runs), anything else one sentence."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        reason = "an object array, which is never unpickled" if "allow_pickle" in str(exc) else "not a valid .npy file"
        raise CalibrationDataError(f"{path}: {reason}; save the frame with numpy.save as a float32 [3,H,W] array "
                                   "in [0,1]") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu" or array.ndim != 3 or array.shape[0] != 3:
        raise CalibrationDataError(f"{path}: holds a {getattr(array, 'dtype', type(array))} array of shape "
                                   f"{getattr(array, 'shape', ())}, not a float32 [3,H,W] frame in [0,1]")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise CalibrationDataError(f"{path}: holds NaN or infinite values; save a finite frame in [0,1]")
    return array


def source_files(source: str) -> list[str]:
    """The files a calibration source reads (none for `builtin`), sorted: the rule's inputs, so editing,
    adding or removing a frame re-runs calibration and everything after it."""
    if source == "builtin":
        return []
    root = Path(source)
    if not root.is_dir():
        raise CalibrationDataError(f"calibration.data: {source!r} is not an existing directory; use `builtin`, "
                                   "a Vimeo-90K folder or a folder of consecutive video frames")
    return sorted(str(p) for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + (".txt",))
