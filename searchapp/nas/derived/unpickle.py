"""Loading pickles that may only hold plain containers and numpy arrays (CIFAR-10's batches).

A hostile archive cannot run code: every global other than numpy's array builders is refused.
"""

from __future__ import annotations

import codecs
import io
import pickle

import numpy as np

from ..errors import DataError

_RECONSTRUCT = np.ndarray((0,), np.uint8).__reduce__()[0]  # numpy's own, whatever its module
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy 1.x (and the CIFAR files)
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy 2.x
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 pickles of protocol < 3 write bytes as _codecs.encode(str, "latin1")
    ("_codecs", "encode"): codecs.encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays; refuses every other global."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None


def safe_unpickle(raw: bytes, name: str = "pickle"):
    """Load a Python 2 or 3 pickle of dicts, lists, bytes and numpy arrays (nothing else)."""
    try:
        return _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"{name}: unsafe or corrupt pickle ({exc})") from exc
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise DataError(f"{name}: corrupt pickle ({type(exc).__name__}: {exc})") from exc
