"""Try it: a finished search's model on images, ONNX Runtime on the CPU, in the web process.

The images are decoded, checked and resized as the loader does (searchapp.nas.images:
header limits, RGB, centre square, bilinear to the model's side), scaled to [0, 1] NCHW float
and run through the search's model.onnx, which holds the normalisation (and the upscaling of an
ImageNet stem) itself. Nothing is stored. One InferenceSession per model file is kept (keyed
by path and modification time); the API view answers the errors as 4xx and 503.

What one request may cost the process, in the order it is checked:
- at most MAX_FILES images, each at most UPLOAD_MAX_FILE_BYTES (the body limit bounds them all);
- PREDICT_IMAGES_PER_MINUTE images per user, counted in Redis across processes (429);
- from the headers alone, before anything is decoded: each image at most PREDICT_MAX_PIXELS
  as decoded (a JPEG at the 1/2 to 1/8 scale it is decoded at), all of them together at most
  PREDICT_MAX_REQUEST_PIXELS (413); a file that is no image, or in another format, 400;
- then at most PREDICT_CONCURRENCY requests decode and run at once in the process; the next
  waits up to PREDICT_WAIT_SECONDS (at most WAITING_PER_SLOT per slot wait), else 503 with
  Retry-After. The work runs on that many threads of its own. Images are decoded one at a
  time, reduced in their own mode before any copy, so a decode costs its pixels once (4 bytes
  each at most).
Any error a decoder raises is a 400 naming the file. The view is synchronous: Django runs it in
a thread of the request's own (ASGI), so the waits and the decoding never hold the event loop.
No torch here: onnxruntime, Pillow and numpy only.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from django.conf import settings

from searchapp.nas.errors import DataError
from searchapp.nas.images import ImageTooLarge, decode_reduced, decoded_pixels
from searchapp.nas.limits import Limits

from . import ratelimit

MAX_FILES = 16
"""Images in one request (the body limit, REQUEST_MAX_BYTES, bounds their bytes)."""
CACHED_SESSIONS = 8
WAITING_PER_SLOT = 4
"""Requests that may wait for each of the PREDICT_CONCURRENCY slots; one more gets 503 at once."""


class PredictError(Exception):
    """Bad input, no model, a limit: the message is the reason; `status` the HTTP status and
    `retry_after` the seconds for a Retry-After header (429, 503)."""

    def __init__(self, message: str, status: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


_sessions: OrderedDict[tuple[str, int], object] = OrderedDict()
_lock = threading.Lock()


def session_for(path: Path):
    """The cached onnxruntime InferenceSession of `path` (a new file gets a new session)."""
    import onnxruntime as ort

    key = (str(path), path.stat().st_mtime_ns)
    with _lock:
        if key in _sessions:
            _sessions.move_to_end(key)
            return _sessions[key]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # a web worker: one request, one core
    opts.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a broken file is the search's problem, told as such
        raise PredictError(f"the model file cannot be loaded ({exc})", 409) from exc
    with _lock:
        _sessions[key] = sess
        while len(_sessions) > CACHED_SESSIONS:
            _sessions.popitem(last=False)
    return sess


def input_side(sess, fallback: int) -> int:
    """The square side the model takes, from its input shape (N, 3, H, W)."""
    shape = sess.get_inputs()[0].shape
    side = shape[-1] if len(shape) == 4 else None
    return side if isinstance(side, int) and side > 0 else fallback


def limits() -> Limits:
    return Limits(
        max_image_bytes=settings.UPLOAD_MAX_FILE_BYTES,
        max_image_pixels=settings.PREDICT_MAX_PIXELS,
    )


def _refusal(exc: DataError) -> PredictError:
    return PredictError(str(exc), 413 if isinstance(exc, ImageTooLarge) else 400)


def check_sizes(images: list[tuple[str, bytes]], side: int) -> int:
    """The pixels that decoding the images costs (``decoded_pixels``), from their headers; a
    PredictError names the first image over a limit or unreadable, or says that all of them
    together are too many."""
    lim, total = limits(), 0
    for name, raw in images:
        try:
            total += decoded_pixels(raw, name, side, lim)
        except DataError as exc:
            raise _refusal(exc) from exc
    cap = settings.PREDICT_MAX_REQUEST_PIXELS
    if total > cap:
        raise PredictError(
            f"these {len(images)} images count {total:,} pixels to decode, more than the {cap:,} "
            "one request may; send fewer or smaller images",
            413,
        )
    return total


def to_batch(images: list[tuple[str, bytes]], side: int) -> np.ndarray:
    """(N, 3, side, side) float32 in [0, 1], decoded one image at a time; a PredictError names
    the first bad file."""
    lim = limits()
    x = np.empty((len(images), side, side, 3), np.uint8)
    for i, (name, raw) in enumerate(images):
        try:
            x[i] = decode_reduced(raw, name, side, lim)
        except DataError as exc:
            raise _refusal(exc) from exc
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)


class _Slots:
    """PREDICT_CONCURRENCY slots, the count of requests waiting for one, and as many threads
    that do the work: the request's thread waits while one of them decodes and runs. The
    memory that a decode frees stays with its thread's malloc arena, ready for the next one,
    rather than with whichever of many request threads did it."""

    def __init__(self, size: int):
        self.size = size
        self.free = threading.BoundedSemaphore(size)
        self.waiting = 0
        self.lock = threading.Lock()
        self.workers = ThreadPoolExecutor(max_workers=size, thread_name_prefix="predict")


_slots: _Slots | None = None
_slots_lock = threading.Lock()


def slots() -> _Slots:
    """This process's slots (made again when PREDICT_CONCURRENCY changes: tests)."""
    global _slots
    with _slots_lock:
        if _slots is None or _slots.size != settings.PREDICT_CONCURRENCY:
            if _slots is not None:
                _slots.workers.shutdown(wait=False)
            _slots = _Slots(settings.PREDICT_CONCURRENCY)
        return _slots


@contextlib.contextmanager
def slot() -> Iterator[_Slots]:
    """Hold one of the process's slots; wait up to PREDICT_WAIT_SECONDS, else PredictError 503.
    Yields the slots, whose `workers` have a thread free for the holder."""
    pool, wait = slots(), settings.PREDICT_WAIT_SECONDS
    busy = (
        f"the server is busy: {pool.size} predictions run at once and more wait; "
        f"try again in {max(wait, 1)} s"
    )
    with pool.lock:
        if pool.waiting >= WAITING_PER_SLOT * pool.size:
            raise PredictError(busy, 503, retry_after=max(wait, 1))
        pool.waiting += 1
    try:
        got = pool.free.acquire(timeout=wait)
    finally:
        with pool.lock:
            pool.waiting -= 1
    if not got:
        raise PredictError(busy, 503, retry_after=max(wait, 1))
    try:
        yield pool
    finally:
        pool.free.release()


def _run(sess, images: list[tuple[str, bytes]], side: int) -> np.ndarray:
    """The model's logits (N, classes) for the images, decoded one at a time."""
    x = to_batch(images, side)
    name = sess.get_inputs()[0].name
    return np.asarray(sess.run(None, {name: x})[0], dtype=np.float64)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict(
    model_path: Path, classes: list[str], images: list[tuple[str, bytes]], side: int
) -> dict:
    """{"classes": [...], "predictions": [{"name", "scores": [...], "top"}]} for `images`
    ((name, bytes) pairs), scores in percent in `classes` order. The headers are checked
    first; the decoding and the model run in one of the process's slots."""
    if not images:
        raise PredictError("send one or more images in the multipart field 'image'")
    if len(images) > MAX_FILES:
        raise PredictError(f"at most {MAX_FILES} images per request, got {len(images)}")
    sess = session_for(model_path)
    side = input_side(sess, side)
    check_sizes(images, side)
    with slot() as pool:
        logits = pool.workers.submit(_run, sess, images, side).result()
    if logits.ndim != 2 or logits.shape[1] != len(classes):
        raise PredictError("the model's outputs do not match the dataset's classes", 409)
    probs = softmax(logits) * 100.0
    out = []
    for (fname, _), p in zip(images, probs, strict=True):
        out.append(
            {
                "name": fname,
                "scores": [round(float(v), 2) for v in p],
                "top": classes[int(np.argmax(p))],
            }
        )
    return {"classes": list(classes), "predictions": out}


def model_path(search) -> Path:
    """The search's model.onnx; a 409 with the reason while there is none."""
    from .storage import media_path

    rel = (search.outputs or {}).get("onnx")
    if not rel or not media_path(rel).is_file():
        why = "it has not finished" if search.is_active else f"it is {search.status}"
        raise PredictError(f"search {search.pk} has no model to try yet ({why})", 409)
    return media_path(rel)


def predict_uploads(user, search, files: list) -> dict:
    """`predict` for a request's uploaded files, each limit checked in turn (module docstring);
    raises PredictError with the reason, the status and, for 429 and 503, the seconds to wait."""
    path = model_path(search)
    if not files:
        raise PredictError("send one or more images in the multipart field 'image'")
    if len(files) > MAX_FILES:
        raise PredictError(f"at most {MAX_FILES} images per request, got {len(files)}")
    per_minute = settings.PREDICT_IMAGES_PER_MINUTE
    if len(files) > per_minute:
        raise PredictError(f"at most {per_minute} images a minute, got {len(files)} at once", 413)
    try:
        ratelimit.charge(f"predict:{user.pk}", len(files), per_minute, "images to try")
    except ratelimit.RateLimited as exc:
        raise PredictError(str(exc), 429, retry_after=exc.retry_after) from exc
    images = [(f.name or "image", read_upload(f)) for f in files]
    return predict(path, search.dataset.classes, images, search.dataset.image_size)


def read_upload(f) -> bytes:
    """An uploaded file's bytes, refused past the per-image limit before reading it all."""
    limit = settings.UPLOAD_MAX_FILE_BYTES
    if f.size is not None and f.size > limit:
        raise PredictError(f"{f.name}: file larger than {limit} bytes", 413)
    return f.read(limit + 1)
