"""Try a finished search's model on images: ONNX Runtime on the CPU, in the web process.

The images are decoded, checked and resized as the loader does (searchapp.nas.data.decode_image:
size limits from the header, RGB, centre square, bilinear to the dataset's side), scaled to
[0, 1] NCHW float and run through the search's model.onnx, which holds the normalisation (and
the upscaling of an ImageNet stem) itself. Nothing is stored. One InferenceSession per model
file is kept (keyed by path and modification time); the API view answers the errors as 4xx.
No torch here: onnxruntime, Pillow and numpy only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from django.conf import settings

from searchapp.nas.data import decode_image
from searchapp.nas.errors import DataError
from searchapp.nas.limits import Limits

MAX_FILES = 16
"""Images in one request (the body limit, REQUEST_MAX_BYTES, bounds their bytes)."""
CACHED_SESSIONS = 8


class PredictError(Exception):
    """Bad input or no model: the message is the reason; `status` the HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


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
    return Limits(max_image_bytes=settings.UPLOAD_MAX_FILE_BYTES)


def to_batch(images: list[tuple[str, bytes]], side: int) -> np.ndarray:
    """(N, 3, side, side) float32 in [0, 1]; a DataError names the first bad file."""
    lim = limits()
    arrays = []
    for name, raw in images:
        try:
            arrays.append(decode_image(raw, name, side, lim))
        except DataError as exc:
            raise PredictError(str(exc)) from exc
    x = np.stack(arrays).astype(np.float32) / 255.0
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict(
    model_path: Path, classes: list[str], images: list[tuple[str, bytes]], side: int
) -> dict:
    """{"classes": [...], "predictions": [{"name", "scores": [...], "top"}]} for `images`
    ((name, bytes) pairs), scores in percent in `classes` order."""
    if not images:
        raise PredictError("send one or more images in the multipart field 'image'")
    if len(images) > MAX_FILES:
        raise PredictError(f"at most {MAX_FILES} images per request, got {len(images)}")
    sess = session_for(model_path)
    x = to_batch(images, input_side(sess, side))
    name = sess.get_inputs()[0].name
    logits = np.asarray(sess.run(None, {name: x})[0], dtype=np.float64)
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


def read_upload(f) -> bytes:
    """An uploaded file's bytes, refused past the per-image limit before reading it all."""
    limit = settings.UPLOAD_MAX_FILE_BYTES
    if f.size is not None and f.size > limit:
        raise PredictError(f"{f.name}: file larger than {limit} bytes", 413)
    return f.read(limit + 1)
