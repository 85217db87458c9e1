"""Datasets derived from CIFAR-10 and Tiny-ImageNet, and the paper's suite of 31 of them.

Reads the official archives as they are downloaded, nothing extracted to disk:
  sources.py       where each archive comes from (name, URL, md5)
  download.py      download and fetch through torchvision (the CLI only: it imports torch)
  unpickle.py      a pickle loader that only builds numpy arrays (hostile archives run no code)
  cifar.py         CIFAR-10's python version: the tar.gz or its cifar-10-batches-py/ folder
  tinyimagenet.py  Tiny-ImageNet: the zip or its folder, read through the loader's file tree
  suite.py         Table 3's suite with the paper's numbers; suite_plan, the one loop over it
  cli.py           ``python -m searchapp.nas.derived cifar10|tinyimagenet|suite|download``
None of these names imports torch; download.py does, and is not imported here.
"""

from .cifar import (
    CIFAR10_ALIASES,
    CIFAR10_CLASSES,
    Cifar10,
    cifar10_class,
    derive_cifar10,
    read_cifar10,
)
from .sources import (
    CIFAR10_FILE,
    CIFAR10_URL,
    SOURCES,
    TINY_FILE,
    TINY_URL,
    missing_source_error,
    resolve_source,
)
from .suite import SUITE, TINY_DOGS, TINY_VEHICLES, expected_split, suite_plan
from .tinyimagenet import TinyClass, derive_tinyimagenet, match_tiny_class, tinyimagenet_classes
from .unpickle import safe_unpickle

__all__ = [
    "CIFAR10_ALIASES",
    "CIFAR10_CLASSES",
    "CIFAR10_FILE",
    "CIFAR10_URL",
    "SOURCES",
    "SUITE",
    "TINY_DOGS",
    "TINY_FILE",
    "TINY_URL",
    "TINY_VEHICLES",
    "Cifar10",
    "TinyClass",
    "cifar10_class",
    "derive_cifar10",
    "derive_tinyimagenet",
    "expected_split",
    "match_tiny_class",
    "missing_source_error",
    "read_cifar10",
    "resolve_source",
    "safe_unpickle",
    "suite_plan",
    "tinyimagenet_classes",
]
