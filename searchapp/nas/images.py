"""One image file: its header checked against the limits, then decoded to uint8 RGB.

Everything that reads image bytes goes through here (the dataset readers, derived datasets and
the web's predictions), so a file is judged by the same rules wherever it comes from.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DataError
from .files import human_bytes
from .filetree import FileTree
from .limits import MIN_SIDE, Limits

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
HEAD_BYTES = 64 * 2**10  # holds the header of nearly every image file


@contextlib.contextmanager
def _open_image(raw: bytes, name: str, limits: Limits, whole: bool = True) -> Iterator[Image.Image]:
    """The image in ``raw``, its header read and checked against ``limits``; any failure
    inside the block becomes a DataError with a reason. ``whole``: ``raw`` is all of the file
    (not just its first bytes), so its length is checked too."""
    if whole and len(raw) == 0:
        raise DataError(f"{name}: empty file")
    if whole and len(raw) > limits.max_image_bytes:
        raise DataError(f"{name}: file larger than {human_bytes(limits.max_image_bytes)}")
    try:
        with Image.open(io.BytesIO(raw)) as im:
            w, h = im.size
            if w * h > limits.max_image_pixels:
                raise DataError(
                    f"{name}: {w}x{h} pixels is more than allowed ({limits.max_image_pixels})"
                )
            if min(w, h) < MIN_SIDE:
                raise DataError(f"{name}: size {w}x{h} is under {MIN_SIDE} px")
            yield im
    except DataError:
        raise
    except Image.DecompressionBombError as exc:
        raise DataError(f"{name}: image too large (decompression bomb)") from exc
    except UnidentifiedImageError as exc:
        raise DataError(f"{name}: not an image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{name}: unreadable image ({exc})") from exc


def decode_image(
    raw: bytes, name: str, size: int | None = None, limits: Limits = Limits()
) -> np.ndarray:
    """Decode and check one image file; return (H, W, 3) uint8, or (size, size, 3) when a
    size is given (centre square, scaled). Raises DataError with a reason."""
    with _open_image(raw, name, limits) as im:
        if size is not None and im.format == "JPEG":
            im.draft(None, (size, size))  # decode a large JPEG at 1/2, 1/4 or 1/8 scale
        im.load()
        im = _to_rgb(im)
        if size is not None and im.size != (size, size):
            im = _center_square(im).resize((size, size), Image.BILINEAR)
        return np.array(im, dtype=np.uint8)  # writable (asarray's would be read-only)


def probe_image(files: FileTree, name: str, limits: Limits = Limits()) -> tuple[int, int]:
    """(width, height) of an image in ``files``, from its header, after the size checks.

    Reads the first HEAD_BYTES, which hold the header of nearly every image; the whole file
    only when they do not. Nothing is decoded. Raises DataError with a reason."""
    head = files.read(name, HEAD_BYTES)
    if len(head) > HEAD_BYTES:  # more to the file than we read
        if files.size(name) > limits.max_image_bytes:
            raise DataError(f"{name}: file larger than {human_bytes(limits.max_image_bytes)}")
        try:
            with _open_image(head, name, limits, whole=False) as im:
                return im.size
        except DataError as exc:
            if exc.__cause__ is None:  # a limit, not a header past the first bytes
                raise
        head = files.read(name, limits.max_image_bytes)
    with _open_image(head, name, limits) as im:
        return im.size


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = arr.max() or 1.0
        im = Image.fromarray((arr * (255.0 / hi)).astype(np.uint8))
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return im.convert("RGB")


def _center_square(im: Image.Image) -> Image.Image:
    w, h = im.size
    if w == h:
        return im
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return im.crop((left, top, left + s, top + s))
