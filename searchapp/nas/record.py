"""The candidate record: what a search knows about one evaluated architecture.

Defined once, here. The search builds it, result.json and the ``candidate.finished`` event
carry its dict, the web job stores it (``Candidate.record`` plus the columns of the same
names), and the API shows its public fields. No torch here: the web process reads it too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .stats import interval


def _measured(
    default=dataclasses.MISSING, *, public: bool = True, factory=None, trained: bool = True
):
    """A field that training produces (copied from a recorded run when it is replayed).

    ``trained=False``: measured, but filled in by whoever ran the training, not by it."""
    meta = {"measured": True, "public": public, "trained": trained}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class CandidateRecord:
    """One candidate: its architecture, its cost, what training measured and the verdict."""

    index: int  # 0-based, in the order Algorithm 1 evaluates (deterministic for a seed)
    phase: str  # depth | width | op | kernel
    arch: dict  # Arch.to_dict()
    key: str = field(default="", metadata={"public": False})  # Arch.key (memoisation)
    params: int = 0
    macs: int = 0
    # int8 estimates from the architecture (searchapp/nas/footprint.py), known before training
    ram_kb: float = 0.0
    flash_kb: float = 0.0
    # estimated ms of one inference on the target board (latency.py); None without a board
    board_latency_ms: float | None = None
    train_acc: float | None = _measured(None)  # percent, 0-100
    # validation accuracy: None when the search selects on test (or for records made before
    # validation splits existed); test accuracy is scored once, for display
    val_acc: float | None = _measured(None)
    test_acc: float | None = _measured(None)
    # 95% Wilson intervals of val_acc / test_acc, [low, high] in percent (from the counts)
    val_ci95: list | None = None
    test_ci95: list | None = None
    # per-class correct counts and per-class image counts, in class order
    val_correct: list | None = _measured(None)
    val_count: list | None = _measured(None)
    test_correct: list | None = _measured(None)
    test_count: list | None = _measured(None)
    # the selection images' per-image correctness, as evidence.encode_hits strings: the
    # validation split (or, with K folds, every training image out of fold) in index order;
    # test_hits likewise for the test images. Any two candidates compare on the same images.
    val_hits: str | None = _measured(None, public=False)
    test_hits: str | None = _measured(None, public=False)
    # cross-validation folds the selection score came from (1: one validation split); with
    # K > 1 the val_* figures are out of fold over every training image, test_* and the
    # curves are the first fold's model (the kept weights), epochs and seconds are summed
    folds: int = _measured(1)
    loss_curve: list = _measured(factory=list)  # mean training loss per epoch
    val_curve: list = _measured(factory=list, public=False)  # selection accuracy per epoch
    test_curve: list = _measured(factory=list, public=False)  # (val or test: the one selected on)
    epochs: int = _measured(0)
    batch_size: int = _measured(0)
    seconds: float = _measured(0.0)
    device: str = _measured("")
    status: str = _measured("running")  # running | ok | diverged | over_budget (not trained)
    oom_retries: int = _measured(0, public=False)
    accepted: bool = False
    reason: str = ""
    # the paired comparison behind the verdict: {"vs": incumbent index, "diff": points,
    # "ci95": [lo, hi], "n": images, "method"} (evidence.py); None where nothing was compared
    evidence: dict | None = None
    # trained ahead of Algorithm 1's decisions (--parallel N) and not needed by them
    speculative: bool = False
    # who trained it: "local", a process, or an RQ worker's name (set by the executor)
    worker: str = _measured("", trained=False)
    replayed: bool = field(default=False, metadata={"public": False})

    @classmethod
    def from_dict(cls, data: dict) -> CandidateRecord:
        """From a stored dict; keys this version does not know are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names and v is not None})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def public(self) -> dict:
        """The fields the API, the socket and the pages show."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata.get("public", True)
        }

    def started(self) -> dict:
        """What is known before training: the ``candidate.started`` event's fields."""
        keys = ("index", "phase", "arch", "params", "macs", "ram_kb", "flash_kb")
        keys += ("board_latency_ms",)
        return {k: getattr(self, k) for k in keys}

    def measure(self, measured: dict) -> None:
        """Take what training (or a recorded run) measured; missing figures keep defaults.

        The intervals follow from the counts."""
        for name in MEASURED:
            if measured.get(name) is not None:
                setattr(self, name, measured[name])
        self.val_ci95 = interval(self.val_correct, self.val_count)
        self.test_ci95 = interval(self.test_correct, self.test_count)

    def scored(self, split: str) -> int | None:
        """How many images ``split`` ("val" or "test") was scored on; None if unknown."""
        count = getattr(self, f"{split}_count")
        return int(sum(count)) if count else None

    @property
    def is_finished(self) -> bool:
        return self.status != "running"


MEASURED = tuple(f.name for f in dataclasses.fields(CandidateRecord) if f.metadata.get("measured"))
TRAINED = tuple(
    f.name for f in dataclasses.fields(CandidateRecord) if f.metadata.get("trained", False)
)
"""The measured fields one training run produces: ``train.Result`` is built from these."""
PUBLIC = tuple(
    f.name for f in dataclasses.fields(CandidateRecord) if f.metadata.get("public", True)
)


def trained_fields() -> list[tuple[str, str, dataclasses.Field]]:
    """(name, type, field) of each TRAINED field, with the record's type and default, for
    ``dataclasses.make_dataclass``: how another class holds the same fields without a copy."""
    out = []
    for f in dataclasses.fields(CandidateRecord):
        if f.name in TRAINED:
            out.append(
                (f.name, f.type, field(default=f.default, default_factory=f.default_factory))
            )
    return out
