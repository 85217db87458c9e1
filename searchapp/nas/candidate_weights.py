"""Each candidate's weights in a search's work folder: ``<work_dir>/candidates/<name>.pt``.

Saved as each candidate finishes (by whichever process trained it), so that a resumed search
or the end of the search finds the winner's weights without training it again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .files import atomic_path


def weights_name(key: str) -> str:
    """The file name of the weights of the architecture with ``key``."""
    return hashlib.sha1(key.encode()).hexdigest()[:20] + ".pt"


def weights_path(work_dir: str | os.PathLike, key: str) -> Path:
    return Path(work_dir) / "candidates" / weights_name(key)


def persist_weights(work_dir: str | os.PathLike, key: str, state: dict) -> None:
    """Save a candidate's state dict under its name (atomically: no partial file)."""
    import torch

    path = weights_path(work_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_weights(work_dir: str | os.PathLike, key: str) -> dict | None:
    """A candidate's saved state dict, or None when it was never saved."""
    path = weights_path(work_dir, key)
    if not path.exists():
        return None
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)
