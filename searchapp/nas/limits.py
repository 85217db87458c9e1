"""Size limits on untrusted input (zips, images, whole datasets), checked before decoding.

One set of rules for the engine's loader and the web's uploads: the web builds a ``Limits``
from its settings and passes it in, so an upload the web accepts is one the engine reads.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_WORKING_SIDE = 512
"""The engine's hard limit on the side of a stored image, whatever a caller asks for."""
MIN_SIDE = 8
"""Images smaller than this (either side) are refused; so is a smaller working resolution."""


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
    max_side: int = MAX_WORKING_SIDE
    """Working resolution: images are stored as squares of at most this side; larger ones
    are scaled down (the web's default is 64 px, Tiny-ImageNet's)."""
    max_pixels: int = 2**30
    """Pixels one dataset may hold once packed (images x side x side, 3 bytes each), counted
    from the image headers before anything is decoded. About 3.2 GB of uint8 by default."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"limit {name} must be a positive integer, got {value!r}")
        if not MIN_SIDE <= self.max_side <= MAX_WORKING_SIDE:
            raise ValueError(
                f"working resolution must be {MIN_SIDE} to {MAX_WORKING_SIDE} px, got {self.max_side}"
            )
