"""The paper's suite: Table 3's 31 datasets with Table 4's and Table 6's numbers, and its plan.

``suite_plan`` is the one loop over the suite: the command line and the web's suite job both
iterate it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from ..data import ImageData
from ..errors import DataError
from .cifar import (
    CIFAR10_ALIASES,
    CIFAR10_CLASSES,
    CIFAR10_SPLIT,
    Cifar10,
    derive_cifar10,
    read_cifar10,
)
from .tinyimagenet import TINY_SPLIT, derive_tinyimagenet

# Paper Table 4 (accuracy %, E-Net = EfficientNet-B0, M-Net = MobileNetV2, ours = Mini-NAS,
# params in millions) and Table 6 (gain = ours - best baseline, eff = MobileNetV2 params / ours).
_P = ("enet", "mnet", "ours", "params_m", "gain", "eff")


def _row(name, source, classes, *nums) -> dict:
    return {
        "name": name,
        "source": source,
        "classes": list(classes),
        "paper": dict(zip(_P, nums, strict=True)),
    }


def _cifar(classes: str, *nums) -> dict:
    names = [c.strip() for c in classes.split(",")]
    full = [CIFAR10_ALIASES.get(c, c) for c in names]
    return _row(", ".join(names), "cifar10", full, *nums)


# Tiny-ImageNet wnids (checked against the official 200-class wnids.txt; words as in words.txt).
_TINY = {
    "volleyball": "n04540053", "basketball": "n02802426",
    "espresso": "n07920052", "ice cream": "n07614500",
    "pop bottle": "n03983396", "beer bottle": "n02823428",  # pop bottle = "soda bottle"
    "bucket": "n02909870", "barrel": "n02795169",
    "seashore": "n09428293", "lakeside": "n09332890",
    "Egyptian cat": "n02124075", "Persian cat": "n02123394",
    "limousine": "n03670208", "sports car": "n04285008",
    "bullfrog": "n01641577", "tailed frog": "n01644900",
}  # fmt: skip

# The paper does not list these two (Table 3 gives only 6 classes / 3K train and 15 classes /
# 7.5K train). Our choice: dogs are the six dog breeds Tiny-ImageNet-200 holds, which is all of
# them. Vehicles are its fifteen land and water vehicles, which is all of them too; machines
# that are not vehicles (crane, lawn mower, cannon) are left out.
TINY_DOGS = [
    "n02085620",  # Chihuahua
    "n02094433",  # Yorkshire terrier
    "n02099601",  # golden retriever
    "n02099712",  # Labrador retriever
    "n02106662",  # German shepherd
    "n02113799",  # standard poodle
]
TINY_VEHICLES = [
    "n02814533",  # beach wagon (station wagon)
    "n02917067",  # bullet train
    "n03100240",  # convertible
    "n03393912",  # freight car
    "n03444034",  # go-kart
    "n03447447",  # gondola
    "n03599486",  # jinrikisha (rickshaw)
    "n03662601",  # lifeboat
    "n03670208",  # limousine
    "n03796401",  # moving van
    "n03977966",  # police van
    "n04146614",  # school bus
    "n04285008",  # sports car
    "n04465501",  # tractor
    "n04487081",  # trolleybus
]


def _tiny(name: str, a: str, b: str, *nums) -> dict:
    return _row(name, "tinyimagenet", [_TINY[a], _TINY[b]], *nums)


SUITE: list[dict] = [
    # Table 3, first column: ten 2-class CIFAR-10 subsets ("log, frog" in the paper is dog, frog)
    _cifar("airplane, auto", 99.25, 99.3, 99.45, 0.74, +0.15, 3.1),
    _cifar("auto, bird", 99.8, 99.75, 99.35, 0.13, -0.45, 17.6),
    _cifar("bird, cat", 95.15, 95.35, 95.1, 0.28, -0.25, 8.1),
    _cifar("cat, deer", 96.5, 96.55, 95.75, 0.15, -0.8, 14.9),
    _cifar("deer, dog", 96.8, 96.9, 96.9, 0.52, 0.0, 4.4),
    _cifar("dog, frog", 98.4, 98.55, 98.55, 0.18, 0.0, 12.5),
    _cifar("frog, horse", 99.15, 99.3, 98.6, 0.02, -0.7, 103.9),
    _cifar("horse, ship", 99.6, 99.55, 99.15, 0.11, -0.45, 20.1),
    _cifar("ship, truck", 98.65, 98.8, 98.55, 0.14, -0.25, 16.2),
    _cifar("truck, airplane", 98.35, 98.3, 98.15, 0.04, -0.2, 52.0),
    # second column: 3-, 4- and 5-class subsets
    _cifar("airplane, auto, bird", 97.86, 98.06, 97.79, 1.24, -0.27, 1.8),
    _cifar("bird, cat, deer", 95.06, 95.13, 93.9, 0.18, -1.23, 12.5),
    _cifar("deer, dog, frog", 96.56, 97.13, 96.79, 0.18, -0.34, 12.8),
    _cifar("frog, horse, ship", 99.0, 99.06, 99.0, 0.24, -0.06, 9.2),
    _cifar("ship, truck, airplane", 97.0, 96.93, 97.43, 0.22, +0.43, 10.6),
    _cifar("airplane, auto, bird, cat", 96.5, 96.55, 96.6, 3.72, +0.05, 0.6),
    _cifar("cat, deer, dog, frog", 92.95, 93.57, 93.0, 0.39, -0.57, 5.9),
    _cifar("frog, horse, ship, truck", 98.55, 98.85, 98.17, 0.83, -0.68, 2.8),
    _cifar("airplane, auto, bird, cat, deer", 95.34, 96.51, 95.37, 1.08, -1.14, 2.1),
    _cifar("dog, frog, horse, ship, truck", 97.51, 97.95, 98.0, 0.58, +0.05, 3.9),
    # full CIFAR-10 (Tables 2, 4 and 6)
    _row("CIFAR-10", "cifar10", CIFAR10_CLASSES, 94.04, 94.45, 94.73, 1.44, +0.29, 1.6),
    # third column: Tiny-ImageNet pairs, then dogs and vehicles
    _tiny("volleyball, basketball", "volleyball", "basketball", 86, 88, 87, 0.19, -1, 11.9),
    _tiny("espresso, ice cream", "espresso", "ice cream", 96, 97, 95, 0.26, -2, 8.9),
    _tiny("soda bottle, beer bottle", "pop bottle", "beer bottle", 74, 74, 76, 0.15, +2, 15.1),
    _tiny("bucket, barrel", "bucket", "barrel", 80, 77, 81, 0.05, +1, 44.4),
    _tiny("seashore, lakeside", "seashore", "lakeside", 81, 78, 82, 0.39, +1, 5.9),
    _tiny("Egyptian cat, Persian cat", "Egyptian cat", "Persian cat", 92, 86, 94, 0.42, +2, 5.5),
    _tiny("limousine, sports car", "limousine", "sports car", 93, 96, 94, 0.19, -2, 11.9),
    _tiny("bullfrog, tailed frog", "bullfrog", "tailed frog", 78, 79, 82, 0.23, +3, 10.1),
    _row("Tiny-ImageNet dogs", "tinyimagenet", TINY_DOGS, 71, 68, 68, 0.46, -3, 4.9),
    _row(
        "Tiny-ImageNet vehicles", "tinyimagenet", TINY_VEHICLES, 78.93, 78, 75.86, 0.26, -3.07, 8.7
    ),
]


def expected_split(entry: dict) -> tuple[int, int]:
    """The paper's train / test sizes for a suite entry (Table 3)."""
    per = CIFAR10_SPLIT if entry["source"] == "cifar10" else TINY_SPLIT
    n = len(entry["classes"])
    return per[0] * n, per[1] * n


Derive = Callable[[], ImageData]


def suite_plan(
    cifar_source: str | os.PathLike | None, tiny_source: str | os.PathLike | None
) -> Iterator[tuple[dict, Derive | None]]:
    """(entry, derive) per suite entry, in Table 3's order; ``derive()`` makes its ImageData.

    ``derive`` is None where the entry's source is None. CIFAR-10 is read once for its 21
    datasets; if that read fails, each of them raises the same DataError without a new read.
    """
    cifar: list[Cifar10 | DataError] = []

    def cifar_data() -> Cifar10:
        if not cifar:
            try:
                cifar.append(read_cifar10(cifar_source))
            except DataError as exc:
                cifar.append(exc)
        if isinstance(cifar[0], DataError):
            raise DataError(str(cifar[0]))
        return cifar[0]

    def derive(entry: dict) -> Derive | None:
        if entry["source"] == "cifar10" and cifar_source is not None:
            return lambda: derive_cifar10(cifar_data(), entry["classes"])
        if entry["source"] == "tinyimagenet" and tiny_source is not None:
            return lambda: derive_tinyimagenet(tiny_source, entry["classes"])
        return None

    for entry in SUITE:
        yield entry, derive(entry)
