"""Search settings, training recipes and the cancel signal: plain data, no torch.

The web process imports this module (forms, API, commands) and must stay free of torch; the
trainer and the search read the same definitions, so a setting or a recipe exists once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


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


