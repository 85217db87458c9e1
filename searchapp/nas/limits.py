"""Size limits on untrusted input (zips and images), checked before anything is decoded.

One set of rules for the engine's loader and the web's uploads: the web builds a ``Limits``
from its settings and passes it in, so an upload the web accepts is one the engine reads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What a dataset read from a folder or a zip may hold. Defaults are the engine's own."""

    max_entries: int = 200_000
    """Entries (files and folders) in one zip, counted from its central directory."""
    max_unpacked_bytes: int = 4 * 2**30
    """Bytes a zip's entries may declare in total."""
    max_ratio: int = 200
    """Largest compression ratio of one zip entry of ``ratio_min_bytes`` or more (zip bombs)."""
    ratio_min_bytes: int = 64 * 2**10
    """Entries smaller than this may compress any amount: a small blank or solid-colour image
    compresses hundreds of times, and the total above already bounds them. Bombs are big."""
    max_image_bytes: int = 20 * 2**20
    """Bytes of one image file."""
    max_image_pixels: int = 4096 * 4096
    """Pixels of one image, read from its header before it is decoded (decompression bombs)."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"limit {name} must be a positive integer, got {value!r}")
