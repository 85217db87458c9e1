"""Every image format Pillow writes, and a few it only reads, each valid and broken in seeded
ways (cut short, bytes flipped, a huge size in its header), sent to Try it and inside a dataset
zip: never a 500, and every refusal is JSON with a reason (naming the file where it is one).

Pillow itself raises more than OSError, SyntaxError and ValueError on some of them: each
DDS, SPIDER and AVIF sample also gets breakers, files on which it raises NotImplementedError,
AttributeError or RuntimeError (``test_the_breakers_break_pillow`` keeps that true)."""

from __future__ import annotations

import functools
import io
import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.builders import class_image, png_bytes
from tests.web.packing import packed

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::UserWarning:PIL.*"),  # Pillow's notes on broken files
]

W, H = 23, 29  # odd sizes, easy to find in a header
PIXELS = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
GOOD = {f"{c}/{n}.png": png_bytes(class_image(i, seed=i * 100 + n))
        for i, c in enumerate(("cat", "dog")) for n in range(4)}  # fmt: skip


def _save(fmt: str, mode: str = "RGB", **options) -> bytes | None:
    buf = io.BytesIO()
    im = Image.fromarray(PIXELS)
    im = Image.fromarray(PIXELS[..., 0].astype(np.int32) * 1000) if mode == "I" else im
    im = im.convert(mode) if im.mode != mode else im
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.save(buf, format=fmt, **options)
    except (OSError, ValueError, KeyError):
        return None
    return buf.getvalue()


def _writable() -> dict[str, bytes]:
    """One file per format Pillow can write from RGB (or else L) pixels."""
    Image.init()
    out = {}
    for fmt in sorted(Image.SAVE):
        raw = _save(fmt) or _save(fmt, "L")
        if raw is not None and len(raw) < 2**19:  # ICNS writes every icon size: 1.7 MB
            out[fmt] = raw
    return out


def _variants() -> dict[str, bytes]:
    """Modes and codings of the accepted formats that their decoders treat differently."""
    found = {
        "TIFF-lzw": _save("TIFF", compression="tiff_lzw"),
        "TIFF-deflate": _save("TIFF", compression="tiff_adobe_deflate"),
        "TIFF-jpeg": _save("TIFF", compression="jpeg"),
        "TIFF-packbits": _save("TIFF", compression="packbits"),
        "TIFF-32bit": _save("TIFF", "I", compression="tiff_adobe_deflate"),
        "TIFF-float": _save("TIFF", "F"),
        "TIFF-cmyk": _save("TIFF", "CMYK"),
        "PNG-16bit": _save("PNG", "I;16"),
        "PNG-palette": _save("PNG", "P"),
        "PNG-rgba": _save("PNG", "RGBA"),
        "JPEG-progressive": _save("JPEG", progressive=True),
        "JPEG-cmyk": _save("JPEG", "CMYK"),
        "WEBP-lossless": _save("WEBP", lossless=True),
        "GIF-l": _save("GIF", "L"),
        "BMP-rgba": _save("BMP", "RGBA"),
    }
    return {k: v for k, v in found.items() if v is not None}


def _handmade() -> dict[str, bytes]:
    """Headers of formats Pillow only reads, each claiming a huge image."""
    sun = struct.pack(">8I", 0x59A66A95, 60000, 60000, 8, 0, 1, 0, 0) + bytes(64)
    psd = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 60000, 60000, 8, 3) + bytes(64)
    fits = b"".join(
        card.ljust(80).encode()
        for card in (
            "SIMPLE  = T",
            "BITPIX  = 8",
            "NAXIS   = 2",
            "NAXIS1  = 60000",
            "NAXIS2  = 60000",
            "END",
        )  # fmt: skip
    ).ljust(2880, b" ") + bytes(64)
    xpm = b'/* XPM */\nstatic char *x[] = {\n"60000 60000 1 1",\n" c #000000",\n' + b'" ",\n' * 4
    return {"SUN": sun, "PSD": psd, "FITS": fits, "XPM": xpm}


SAMPLES = {**_writable(), **_variants(), **_handmade()}


def _huge_sizes(raw: bytes) -> list[bytes]:
    """``raw`` with its width and height rewritten far larger, wherever the file first holds
    them (binary of each width and byte order, float for SPIDER, text for PPM, XPM, IM)."""
    out = []
    coded = [(struct.pack(f, W), struct.pack(f, H), struct.pack(f, big))
             for f, big in (("<H", 60000), (">H", 60000), ("<I", 10**6), (">I", 10**6),
                            (">f", 60000.0), ("<f", 60000.0))]  # fmt: skip
    coded += [(b"%d %d" % (W, H), b"", b"60000 60000"), (b"%dx%d" % (W, H), b"", b"60000x60000")]
    for w, h, big in coded:
        if w in raw and h in raw:
            out.append(raw.replace(w, big, 1).replace(h, big, 1) if h else raw.replace(w, big, 1))
    return out


def mutations(raw: bytes, seed: int) -> list[bytes]:
    """The valid file, six cuts (two inside the header), eight sets of flipped bytes (six in
    the header) and the huge sizes; seeded."""
    rng = np.random.default_rng(seed)
    n = len(raw)
    out = [raw] + [raw[:at] for at in (16, 64, n // 4, n // 2, n * 3 // 4, n - 1)]
    for flips, span in ((1, 64), (2, 32), (2, 48), (2, 128), (3, 64), (4, 64), (16, 256), (8, n)):
        b = bytearray(raw)
        for at in rng.integers(0, min(span, n), flips):
            b[at] ^= int(rng.integers(1, 256))
        out.append(bytes(b))
    return out + _huge_sizes(raw)


PILLOW_RAISES = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
"""What a caller that knows Pillow's documentation expects it to raise on a bad file."""


def _unexpected(raw: bytes) -> str | None:
    """The name of what Pillow raises opening and decoding ``raw``, beyond PILLOW_RAISES."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(raw)) as im:
                im.load()
    except PILLOW_RAISES:
        return None
    except Exception as exc:  # noqa: BLE001 - that is what is looked for
        return type(exc).__name__
    return None


@functools.cache
def breakers(kind: str) -> tuple[bytes, ...]:
    """DDS: a pixel format of 0 (NotImplementedError); SPIDER: an image of a stack without
    the stack (AttributeError); AVIF: the first two of 600 seeded header flips on which Pillow
    raises beyond PILLOW_RAISES (RuntimeError)."""
    raw = SAMPLES[kind]
    if kind == "DDS":
        return (raw[:80] + bytes(8) + raw[88:],)
    if kind == "SPIDER":  # header word 27, the image number, set to 1 (in either byte order)
        return tuple(raw[:104] + struct.pack(order, 1.0) + raw[108:] for order in (">f", "<f"))
    if kind != "AVIF":
        return ()
    rng, found = np.random.default_rng(zlib.crc32(kind.encode())), []
    for _ in range(600):
        b = bytearray(raw)
        for at in rng.integers(0, 128, int(rng.integers(1, 4))):
            b[at] ^= int(rng.integers(1, 256))
        if _unexpected(bytes(b)) and len(found) < 2:
            found.append(bytes(b))
    return tuple(found)


def test_the_breakers_break_pillow():
    raised = {_unexpected(raw) for kind in ("DDS", "SPIDER", "AVIF") for raw in breakers(kind)}
    assert {"NotImplementedError", "AttributeError", "RuntimeError"} <= raised, raised


def _assert_answered(r, name: str, where: str) -> None:
    assert r.status_code < 500, (where, r.status_code, r.content[:300])
    if r.status_code >= 400:
        error = r.json()["error"]
        assert error, (where, r.status_code)
        if r.status_code == 400:
            assert name in error, (where, error)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_try_it_answers_every_broken_file_with_a_reason(alice_client, finished, kind, settings):
    settings.PREDICT_WAIT_SECONDS = 60
    url = f"/api/searches/{finished.pk}/predict/"
    files = mutations(SAMPLES[kind], seed=zlib.crc32(kind.encode())) + list(breakers(kind))
    for i, raw in enumerate(files):
        name = f"fuzz{i}.png"
        r = alice_client.post(url, {"image": SimpleUploadedFile(name, raw)})
        _assert_answered(r, name, f"{kind} #{i}")
        if r.status_code == 200:
            assert len(r.json()["predictions"]) == 1


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_a_dataset_zip_holding_them_is_packed_with_each_refusal_explained(alice_client, kind):
    files = mutations(SAMPLES[kind], 7) + list(breakers(kind))
    broken = {f"cat/fuzz{i}.png": raw for i, raw in enumerate(files)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, raw in {**GOOD, **broken}.items():
            zf.writestr(name, raw)
    r = alice_client.post(
        "/api/datasets/", {"file": SimpleUploadedFile("d.zip", buf.getvalue()), "name": kind}
    )
    _assert_answered(r, "d.zip", kind)
    dataset = packed(alice_client, r)  # the packing job, run here as a worker runs it
    assert dataset["status"] == "ready", dataset["error"]  # the good images are still there
    rejected = dict(dataset["rejected"])
    assert all(isinstance(why, str) and why for why in rejected.values())
    assert dataset["num_train"] + dataset["num_test"] == len(GOOD) + len(broken) - len(rejected)
