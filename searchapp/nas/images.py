"""One image file: its header checked against the limits, then decoded to uint8 RGB.

Everything that reads image bytes goes through here (the dataset readers, derived datasets and
the web's predictions), so a file is judged by the same rules wherever it comes from. Only the
formats of IMAGE_EXTENSIONS are decoded, whatever a file is named: Pillow's other decoders
never see untrusted bytes. Any error a decoder raises is a DataError naming the file.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from .errors import DataError
from .files import human_bytes
from .filetree import FileTree
from .limits import MIN_SIDE, Limits

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
HEAD_BYTES = 64 * 2**10  # holds the header of nearly every image file
DECODED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
"""Pillow's formats for IMAGE_EXTENSIONS, the only ones opened."""
ACCEPTED = "PNG, JPEG, BMP, GIF, WebP or TIFF"
JPEG_FORMATS = ("JPEG", "MPO")
"""What Pillow calls a JPEG once open (MPO: a phone camera's JPEG with a second picture)."""

# A PNG's compressed text chunks are inflated when the header is read, up to 64 MB by default
# (an 80 KB file costs that much); the text is never used here, so 1 MiB is plenty.
PngImagePlugin.MAX_TEXT_MEMORY = min(PngImagePlugin.MAX_TEXT_MEMORY, 2**20)


class ImageTooLarge(DataError):
    """An image over a pixel limit (before anything is decoded)."""


def _format_of(raw: bytes) -> str | None:
    """The format Pillow would read ``raw`` as, from its magic bytes only (no decoder runs)."""
    Image.init()
    for fmt in Image.ID:
        accept = Image.OPEN[fmt][1]
        try:
            if accept is not None and accept(raw[:16]):
                return fmt
        except Exception:  # noqa: BLE001, S112 - a plugin's own check; try the next
            continue
    return None


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
        with Image.open(io.BytesIO(raw), formats=DECODED_FORMATS) as im:
            w, h = im.size
            if w * h > limits.max_image_pixels:
                raise ImageTooLarge(
                    f"{name}: {w}x{h} pixels is more than allowed ({limits.max_image_pixels})"
                )
            if min(w, h) < MIN_SIDE:
                raise DataError(f"{name}: size {w}x{h} is under {MIN_SIDE} px")
            yield im
    except DataError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{name}: image too large (decompression bomb)") from exc
    except UnidentifiedImageError as exc:
        fmt = _format_of(raw)
        if fmt is not None and fmt not in DECODED_FORMATS:
            raise DataError(
                f"{name}: not an image in an accepted format ({ACCEPTED}); it looks like {fmt}"
            ) from exc
        raise DataError(f"{name}: not an image") from exc
    except Exception as exc:  # noqa: BLE001 - a decoder's error of any kind: a bad file
        why = str(exc)[:200] or type(exc).__name__
        raise DataError(f"{name}: unreadable image ({why})") from exc


def decode_image(
    raw: bytes, name: str, size: int | None = None, limits: Limits = Limits()
) -> np.ndarray:
    """Decode and check one image file; return (H, W, 3) uint8, or (size, size, 3) when a
    size is given (centre square, scaled). Raises DataError with a reason."""
    with _open_image(raw, name, limits) as im:
        if size is not None and im.format in JPEG_FORMATS:
            im.draft(None, (size, size))  # decode a large JPEG at 1/2, 1/4 or 1/8 scale
        im.load()
        im = _to_rgb(im)
        if size is not None and im.size != (size, size):
            im = _center_square(im).resize((size, size), Image.BILINEAR)
        return np.array(im, dtype=np.uint8)  # writable (asarray's would be read-only)


@contextlib.contextmanager
def _open_for_side(
    raw: bytes, name: str, limits: Limits, side: int
) -> Iterator[tuple[Image.Image, int]]:
    """``_open_image`` for ``decode_reduced`` at ``side``: the pixel limit applies to what that
    decode costs (``_counted``; a baseline JPEG is set to decode at a reduced scale), not to the
    declared size. Yields the image and the pixels counted."""
    declared_limit = replace(limits, max_image_pixels=2**62)  # Pillow's bomb check still holds
    with _open_image(raw, name, declared_limit) as im:
        w, h = im.size
        counted, note = _counted(im, side)
        if counted > limits.max_image_pixels:
            raise ImageTooLarge(
                f"{name}: {w}x{h} pixels{note} is more than allowed ({limits.max_image_pixels})"
            )
        yield im, counted


def decoded_pixels(raw: bytes, name: str, size: int, limits: Limits = Limits()) -> int:
    """The pixels that ``decode_reduced(raw, name, size, limits)`` costs (``_counted``), from
    the header alone, once the checks pass. Raises DataError (ImageTooLarge for the limit)."""
    with _open_for_side(raw, name, limits, size) as (_im, counted):
        return counted


def decode_reduced(raw: bytes, name: str, size: int, limits: Limits = Limits()) -> np.ndarray:
    """(size, size, 3) uint8 of one image, for a process that decodes while it serves others.

    As ``decode_image``, except that the pixel limit counts what the decode costs
    (``_counted``: a baseline JPEG at the 1/2 to 1/8 scale ``draft`` sets, a WebP four times),
    and that a large image is cut to its centre square and reduced in its own mode (box
    filter, or nearest where that would copy it) before it is converted: no full-size RGB or
    float copy is made, so the decode costs the decoded pixels once, 4 bytes each at most.
    Pixels differ from ``decode_image``'s by rounding. Raises DataError (ImageTooLarge for a
    pixel limit)."""
    with _open_for_side(raw, name, limits, size) as (im, _counted_pixels):
        im.load()
        im = _to_rgb(_reduced_square(im, size))
        if im.size != (size, size):
            im = _center_square(im).resize((size, size), Image.BILINEAR)
        return np.array(im, dtype=np.uint8)


WEBP_WEIGHT = 4
"""Pillow decodes a WebP through libwebp's RGBA canvas and two copies of it: some 16 bytes a
pixel, four times the 4 of the widest other decode; its pixels count this many times."""
PROGRESSIVE_WEIGHT = 2


def _counted(im: Image.Image, side: int) -> tuple[int, str]:
    """The pixels that decoding ``im`` for ``side`` costs, in pixels of at most 4 bytes, and a
    note for a refusal; a JPEG is set to decode at 1/2 to 1/8 scale first (``draft``). A
    progressive JPEG holds every coefficient of its full size while it decodes, whatever the
    scale (3 bytes a pixel, 8 for CMYK): its declared pixels count PROGRESSIVE_WEIGHT times."""
    w, h = im.size
    if im.format in JPEG_FORMATS:
        im.draft(None, (side, side))  # decode at 1/2, 1/4 or 1/8 scale
        dw, dh = im.size
        if im.info.get("progressive"):
            note = f" (a progressive JPEG counts {PROGRESSIVE_WEIGHT} times: it decodes whole)"
            return w * h * PROGRESSIVE_WEIGHT, note
        return dw * dh, f" (decoded at {dw}x{dh})" if (dw, dh) != (w, h) else ""
    if im.format == "WEBP":
        return w * h * WEBP_WEIGHT, f" (a WebP counts {WEBP_WEIGHT} times: its decoder's copies)"
    return w * h, ""


ALPHA_MODES = ("LA", "RGBA", "PA")
"""Modes that Pillow's box filter first copies whole (alpha premultiplied): sampled instead."""


def _reduced_square(im: Image.Image, size: int) -> Image.Image:
    """The centre square of ``im``, reduced by a whole factor to no less than 2 x ``size``
    (box filter), or for the modes where that would copy the whole image first, sampled
    (nearest) to 8 x ``size``."""
    w, h = im.size
    s = min(w, h)
    factor = s // (2 * size)
    if factor < 2:
        return im
    left, top = (w - s) // 2, (h - s) // 2
    box = (left, top, left + s, top + s)
    if im.mode not in ALPHA_MODES:
        try:
            return im.reduce(factor, box)
        except ValueError:  # "1", "P", "I;16": no box filter for these modes
            pass
    n = min(s, 8 * size)
    return im.resize((n, n), Image.NEAREST, box=box)


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
