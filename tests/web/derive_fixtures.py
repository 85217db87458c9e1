"""Tiny archives in the official CIFAR-10 / Tiny-ImageNet formats, placed in a sources folder.

The builders come from tests/nas/derived_archives.py (the engine's); this adds the web side:
a sources folder wired into settings.DERIVED_SOURCES_DIR.
"""

from __future__ import annotations

from pathlib import Path

from searchapp.nas.derived import SUITE
from tests.nas.derived_archives import WORDS, cifar_members, tiny_files, write_tar, write_zip

CIFAR_PER_CLASS = (10, 2)  # cifar_members(): 5 batches of 20 (labels cycle), test batch of 20


def place_cifar(folder: Path, members: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_tar(folder / "cifar-10-python.tar.gz", members or cifar_members())


def suite_words() -> dict[str, str]:
    """A words.txt map holding every Tiny-ImageNet class the suite uses (plus the tests' own)."""
    words = dict(WORDS)
    for entry in SUITE:
        if entry["source"] == "tinyimagenet":
            for wnid in entry["classes"]:
                words.setdefault(wnid, f"class {wnid}")
    words["n04540053"], words["n02802426"] = "volleyball", "basketball"
    return words


def place_tiny(folder: Path, words: dict[str, str] | None = None, n_train=3, n_val=1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = tiny_files(words or WORDS, n_train=n_train, n_val=n_val)
    return write_zip(folder / "tiny-imagenet-200.zip", files)
