"""Search settings, training recipes and the cancel signal: plain data, no torch.

The web process imports this module (forms, API, commands) and must stay free of torch; the
trainer and the search read the same definitions, so a setting or a recipe exists once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from .budget import Budget
from .budget import validate_settings as validate_budget
from .folds import AUTO, MAX_FOLDS, parse_folds, resolve_folds
from .footprint import Figures
from .settings import SettingError, parse_settings, setting, settings_of
from .space import STEMS, SearchSpace
from .targets import FLASH_RESERVE_KB, RAM_RESERVE_KB, TARGET_CHOICES


class Cancelled(Exception):
    """Raised out of training when the caller's should_stop() says so."""


# ----------------------------------------------------------------------------- Hyperparameters


@dataclass(frozen=True)
class Recipe:
    """How one candidate is trained. lr is for batch ``base_batch``; it scales linearly."""

    name: str
    epochs: int
    batch_size: int
    lr: float = 0.025
    base_batch: int = 64
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    label_smoothing: float = 0.0
    warmup_epochs: float = 0.0
    mixed_precision: bool = False  # bf16 autocast on CUDA, and on CPUs with native bf16
    channels_last: bool = False
    adaptive_batch: bool = False  # shrink the batch for small datasets (keeps steps/epoch sane)
    # early stop: train accuracy at 100% for this many epochs in a row (0 = never)
    stop_at_full_train_epochs: int = 0
    # early stop: no test-accuracy gain above ``plateau_delta`` points for this many epochs
    # (0 = never); the run then anneals the lr linearly to 0 over ``anneal_epochs`` and ends,
    # so a stopped model is as settled as one that ran its whole cosine schedule
    plateau_patience: int = 0
    plateau_delta: float = 0.1
    anneal_epochs: int = 2
    eval_every: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


RECIPES = {
    # Paper §4.3: SGD momentum 0.9, wd 3e-4, lr 0.025 cosine to 0, batch 64, 300 epochs.
    "paper": Recipe(name="paper", epochs=300, batch_size=64),
    # Ours: same model and optimiser family, tuned to converge in far fewer epochs.
    "fast": Recipe(
        name="fast",
        epochs=30,
        batch_size=256,
        lr=0.025,
        nesterov=True,
        weight_decay=5e-4,
        label_smoothing=0.1,
        warmup_epochs=1.0,
        mixed_precision=True,
        channels_last=True,
        adaptive_batch=True,
        stop_at_full_train_epochs=2,
        plateau_patience=8,
    ),
}


def get_recipe(name: str, epochs: int | None = None, batch_size: int | None = None) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r} (expected one of {', '.join(RECIPES)})")
    r = RECIPES[name]
    if epochs is not None:
        if not isinstance(epochs, int) or epochs < 1 or epochs > 1000:
            raise ValueError(f"epochs must be an integer in [1, 1000], got {epochs!r}")
        r = replace(r, epochs=epochs)
    if batch_size is not None:
        if not isinstance(batch_size, int) or batch_size < 1 or batch_size > 8192:
            raise ValueError(f"batch_size must be an integer in [1, 8192], got {batch_size!r}")
        r = replace(r, batch_size=batch_size, adaptive_batch=False)
    return r


RECIPE_LABELS = {"fast": "fast (default)", "paper": "paper (300 epochs, slow)"}
RULE_LABELS = {
    "evidence": "evidence: a change must show its gain (default)",
    "paper": "paper: Algorithm 1's thresholds on point estimates",
}
FOLD_CHOICES = (
    (AUTO, "auto: 5 up to 1,000 training images, 3 up to 10,000, else 1"),
    ("1", "1: one validation split"),
    *((str(k), str(k)) for k in range(2, MAX_FOLDS + 1)),
)
DEVICES = ("auto", "cuda", "cpu")  # and "cuda:N"

PAPER_SPLIT = "test"
"""The split the paper selects on; searches saved before the select_on setting chose on it too."""
SPLIT_NOTES = {"validation": "carved from the training images", "test": "as the paper does"}
"""Why each selection split reads as it does; pages, reports and the CLI all say it this way."""


def chosen_on(split: str) -> str:
    """The split that chose an architecture, as results name it: "validation" or "test, as the
    paper does" (the report and the CLI put "chosen on " before it)."""
    return f"{split}, {SPLIT_NOTES[split]}" if split == PAPER_SPLIT else split


# ----------------------------------------------------------------------------- Search settings


@dataclass
class SearchConfig:
    """Everything a search depends on. Its flat dict (``to_dict``) is what result.json, the
    database and the API hold; ``SETTINGS`` lists every setting with its metadata."""

    space: SearchSpace = field(default_factory=SearchSpace)
    l_gain: float = setting(
        0.5,
        label="Accuracy a deeper network must gain (points, L_gain)",
        lo=0,
        hi=100,
        help="accuracy points a deeper network must gain to be accepted",
    )
    l_drop: float = setting(
        0.25,
        label="Accuracy a deeper network may lose and go on (points, L_drop)",
        lo=0,
        hi=100,
        help="a deeper network within this many points of the best keeps the depth phase going",
    )
    c_drop: float = setting(
        0.5,
        label="Accuracy a narrower network may lose (points, C_drop)",
        lo=0,
        hi=100,
        help="a narrower network within this many points of the depth result is accepted",
    )
    target_acc: float | None = setting(
        None,
        label="Stop deepening at this accuracy (%)",
        lo=0,
        lo_open=True,
        hi=100,
        blank_label="none",
        help="stop growing the depth once the best network reaches it",
    )
    recipe: str = setting(
        "fast",
        label="Training recipe",
        choices=RECIPE_LABELS.items(),
        help="how each candidate is trained",
    )
    epochs: int | None = setting(
        None,
        label="Training epochs per candidate",
        lo=1,
        hi=1000,
        blank_label="the recipe's",
        help="epochs per candidate. Blank: the recipe's default.",
    )
    batch_size: int | None = setting(
        None,
        label="Batch size",
        lo=1,
        hi=8192,
        blank_label="the recipe's",
        advanced=True,
        help="Blank: the recipe's, shrunk for small datasets.",
    )
    seed: int = setting(0, label="Random seed", lo=0, hi=2**31 - 1, help="same seed, same search")
    device: str = setting(
        "auto",
        label="Train on (device)",
        choices=((d, d) for d in DEVICES),
        strict_choices=False,
        help="auto picks CUDA when the worker has a GPU, else the CPU",
    )
    stem: str | None = setting(
        None,
        label="First layers for the image size (stem)",
        choices=((s, s) for s in STEMS),
        blank_label="auto (from image size)",
        help="cifar for small images, imagenet upscales to 224",
    )
    # Device budgets (budget.py): a candidate over one is recorded, not trained.
    target: str = setting(
        "none",
        label="Board",
        choices=TARGET_CHOICES,
        help="a microcontroller board: its SRAM and flash, less a reserve for the program "
        f"({RAM_RESERVE_KB} KB RAM, {FLASH_RESERVE_KB} KB flash), limit the int8 model's peak "
        "RAM and flash unless the limits below are given; custom: the limits below only",
    )
    max_params: int | None = setting(
        None,
        label="Most parameters",
        lo=1,
        hi=10**9,
        blank_label="no limit",
        help="largest parameter count a candidate may have. Blank: no limit.",
    )
    max_macs: int | None = setting(
        None,
        label="Most multiply-accumulates per image (MACs)",
        lo=1,
        hi=10**13,
        blank_label="no limit",
        help="most multiply-accumulates per image. Blank: no limit.",
    )
    max_ram_kb: float | None = setting(
        None,
        label="Most peak RAM (KB, int8)",
        lo=0,
        lo_open=True,
        hi=10**7,
        blank_label="the target's",
        help="TensorFlow Lite Micro's tensor arena for the int8 model, 1 KB = 1024 bytes. "
        "Blank: the target's SRAM less the reserve, or no limit.",
    )
    max_flash_kb: float | None = setting(
        None,
        label="Most flash (KB, int8)",
        lo=0,
        lo_open=True,
        hi=10**7,
        blank_label="the target's",
        help="size of the int8 .tflite model (with a board: plus TFLM's code). Blank: the "
        "target's flash less the reserve, or no limit.",
    )
    max_latency_ms: float | None = setting(
        None,
        label="Longest time of one inference on the board (ms, estimate)",
        lo=0,
        lo_open=True,
        hi=10**7,
        blank_label="no limit",
        help="longest estimated time of one int8 inference on the target board (TensorFlow "
        "Lite Micro with the board's optimised kernels; an estimate, often 20 to 40 percent off). "
        "Needs a board as the target. Blank: no limit.",
    )

    select_on: str = setting(
        "validation",
        label="Select on",
        choices=(
            ("validation", "validation (default)"),
            (PAPER_SPLIT, f"{PAPER_SPLIT} ({SPLIT_NOTES[PAPER_SPLIT]})"),
        ),
        help="the split every decision and early stop reads; validation is carved from the "
        "training images, so the test accuracy stays an unbiased estimate",
    )
    val_frac: float = setting(
        0.1,
        label="Share of training images held out for validation",
        lo=0,
        lo_open=True,
        hi=0.5,
        advanced=True,
        help="share of each class's training images held out for validation (at least 2 per "
        "class); ignored when selecting on test",
    )
    rule: str = setting(
        "evidence",
        label="Decision rule",
        choices=RULE_LABELS.items(),
        help="evidence: a deeper or otherwise larger network is kept only when the interval of "
        "its gain, on the same validation images, lies above the threshold; a smaller one "
        "unless it shows a clear loss; layer changes that each gained a little are then tried "
        "together once. paper: Algorithm 1's thresholds on point estimates",
    )
    folds: str = setting(
        AUTO,
        label="Cross-validation folds",
        choices=FOLD_CHOICES,
        strict_choices=False,
        help="K > 1: each candidate trains K times, each time validated on another fifth (or "
        "K-th) of the training images, so every training image is scored once; 1: one "
        "validation split (Validation share). auto: 5 up to 1,000 training images, 3 up to "
        "10,000, else 1. Ignored when selecting on test",
    )
    noise_aware: bool = setting(
        False,
        label="Noise-aware thresholds",
        advanced=True,
        help="with the paper rule: widen each threshold to the standard error of the accuracy "
        "difference, so a decision does not swing on one or two images",
    )
    final_recipe: str | None = setting(
        None,
        label="Final training recipe",
        choices=RECIPE_LABELS.items(),
        blank_label="the search recipe",
        advanced=True,
        help="how the chosen network is trained again on train + validation",
    )
    final_epochs: int | None = setting(
        None,
        label="Final training epochs",
        lo=0,
        hi=1000,
        blank_label="3x the search's epochs",
        advanced=True,
        help="epochs of the final training (0 skips it). Blank: 3x the search's epochs, or the "
        "final recipe's own.",
    )

    parallel: int = setting(
        1,
        label="Candidates trained at once (in flight)",
        lo=1,
        hi=64,
        advanced=True,
        help="train up to this many candidates at once (ahead of Algorithm 1's decisions, "
        "which stay those of the sequential search); 1 is the paper's sequential search",
    )

    def __post_init__(self) -> None:
        self.validate()

    def folds_for(self, n_train: int) -> int:
        """K, the folds each candidate trains on ``n_train`` training images: 1 when
        selecting on test (no validation), else ``resolve_folds`` of the setting."""
        if self.select_on != "validation":
            return 1
        return resolve_folds(self.folds, n_train)

    def check_space(self, in_ch: int, image_size: int, num_classes: int) -> Figures:
        """Refuse (BudgetError, naming the limit) settings whose budget not even the smallest
        architecture of the space fits, on images of this shape; returns its figures. The form,
        the CLI and the search itself all ask this before any training."""
        budget = Budget.from_config(self)
        return budget.check_space(self.space, in_ch, image_size, num_classes, self.stem)

    def training_recipe(self) -> Recipe:
        """The recipe every candidate trains with, and the baselines beside the search."""
        return get_recipe(self.recipe, self.epochs, self.batch_size)

    def final_training(self) -> Recipe | None:
        """The recipe of the final training (None: skipped), batch size as the search's."""
        if self.final_epochs == 0:
            return None
        if self.final_recipe is not None:
            epochs = self.final_epochs or RECIPES[self.final_recipe].epochs
            name = self.final_recipe
        else:
            search_epochs = self.epochs or RECIPES[self.recipe].epochs
            epochs = self.final_epochs or min(3 * search_epochs, 1000)
            name = self.recipe
        # No split is held out any more, so nothing may stop it on a plateau.
        return replace(get_recipe(name, epochs, self.batch_size), plateau_patience=0)

    @classmethod
    def from_dict(cls, data: dict) -> SearchConfig:
        """From a flat dict of settings (missing ones take defaults); SettingError names a bad one."""
        values = parse_settings(SETTINGS, data)
        space = {k: values.pop(k) for k in list(values) if k in SPACE_NAMES}
        return cls(space=SearchSpace(**space), **values)

    def validate(self) -> None:
        self.space.validate()
        for s in SETTINGS:
            if s.name not in SPACE_NAMES:
                s.check(getattr(self, s.name))
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise SettingError(
                f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}", "device"
            )
        try:
            self.folds = parse_folds(self.folds)
        except ValueError as exc:
            raise SettingError(str(exc), "folds") from None
        if self.recipe not in RECIPES:
            raise SettingError(f"recipe must be one of {', '.join(RECIPES)}", "recipe")
        if self.final_recipe is not None and self.final_recipe not in RECIPES:
            raise SettingError(f"final_recipe must be one of {', '.join(RECIPES)}", "final_recipe")
        validate_budget(self)

    def to_dict(self) -> dict:
        d = self.space.to_dict()
        d.update({s.name: getattr(self, s.name) for s in SETTINGS if s.name not in SPACE_NAMES})
        return d


SETTINGS = settings_of(SearchConfig)
SPACE_NAMES = frozenset(s.name for s in settings_of(SearchSpace))
