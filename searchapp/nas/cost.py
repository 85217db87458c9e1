"""What a search may cost at most, known before it starts (plain arithmetic, no torch).

cost = training images x MACs of the largest network the settings allow x (epochs x the most
candidates Algorithm 1 can evaluate x K folds + the final training's epochs). DESIGN.md counts the
candidates as 1 + D' + W' + 3 D^f: the first network, D' deeper ones, W' narrower ones, then per
layer of the final depth D^f one other op and two other kernels. The final training trains the
chosen network once more on train + validation (all the training images) for the final recipe's
epochs (SearchConfig.final_training; none with final_epochs 0). It is an upper bound: a real
search stops early, its candidates train on the training images less the validation split, and
most of them are far smaller than the largest (sep 3x3 layers instead of conv 7x7). With K
cross-validation folds (SearchConfig.folds_for) each candidate trains K models, each on
(K - 1) / K of the images; the bound counts K whole trainings.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import RECIPES, SearchConfig
from .space import Arch, SearchSpace, count_macs, default_stem

PETA = 10**15


@dataclass(frozen=True)
class Cost:
    """The factors of a search's cost; `total` is the candidates' plus the final training's,
    in MACs."""

    images: int
    epochs: int
    macs: int  # one forward pass of one image through the largest network
    candidates: int
    final_epochs: int = 0  # the final training's (train + validation); 0: skipped
    folds: int = 1  # K: trainings per candidate (cross-validation folds)

    @property
    def search(self) -> int:
        """The candidates' part: images x epochs x MACs x candidates x folds."""
        return self.images * self.epochs * self.macs * self.candidates * self.folds

    @property
    def final(self) -> int:
        """The final training's part: the same images x final epochs x MACs, once."""
        return self.images * self.final_epochs * self.macs

    @property
    def total(self) -> int:
        return self.search + self.final

    def describe(self) -> str:
        """'378,843 PMAC (1,600 images x 1,000 epochs x 1.58e+12 MACs x 149 candidates, then
        a final training of 1,000 epochs)'; with K folds ' x 5 folds' follows the candidates."""
        text = (
            f"{pmac(self.total)} ({self.images:,} images x {self.epochs:,} epochs x "
            f"{self.macs:.3g} MACs x {self.candidates:,} candidates"
        )
        if self.folds > 1:
            text += f" x {self.folds} folds"
        if self.final_epochs:
            text += f", then a final training of {self.final_epochs:,} epochs"
        return text + ")"


def pmac(macs: int | float) -> str:
    """MACs in PMAC (10^15 multiply-accumulates), the unit of the cost ceiling."""
    value = macs / PETA
    return f"{value:,.0f} PMAC" if value >= 100 else f"{value:.3g} PMAC"


def max_candidates(space: SearchSpace, rule: str = "paper") -> int:
    """The most candidates Algorithm 1 can evaluate within `space` (1 + D' + W' + 3 D^f), and
    under the evidence rule one joint step per op or kernel phase that has a choice."""
    deeper = space.max_depth - space.min_depth
    narrower = len(space.widths_down())
    per_layer = (len(space.ops) - 1) + (len(space.kernels) - 1)
    joint = 0
    if rule == "evidence" and space.max_depth >= 2:
        joint = (len(space.ops) > 1) + (len(space.kernels) > 1)
    return 1 + deeper + narrower + per_layer * space.max_depth + joint


def largest_arch(space: SearchSpace, stem: str) -> Arch:
    """The most expensive network `space` allows: deepest, widest, conv where allowed, largest kernel."""
    op = "conv" if "conv" in space.ops else space.ops[0]
    depth = space.max_depth
    return Arch(depth, space.max_width, (op,) * depth, (max(space.kernels),) * depth, stem)


def estimate(config: SearchConfig, images: int, image_size: int, num_classes: int) -> Cost:
    """The cost bound of `config` on a dataset of `images` training images of `image_size` px,
    the final training included."""
    stem = config.stem or default_stem(image_size)
    arch = largest_arch(config.space, stem)
    return Cost(
        images=images,
        epochs=config.epochs or RECIPES[config.recipe].epochs,
        macs=count_macs(arch, image_size=image_size, num_classes=num_classes),
        candidates=max_candidates(config.space, config.rule),
        final_epochs=final_epochs(config),
        folds=config.folds_for(images),
    )


def final_epochs(config: SearchConfig) -> int:
    """The final training's epochs (0 when it is skipped), as SearchConfig.final_training has
    them."""
    recipe = config.final_training()
    return recipe.epochs if recipe is not None else 0
