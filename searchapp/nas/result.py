"""What a search returns: its candidates, the best one and its weights, the final model's
results and exports; ``to_json`` is result.json."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SearchResult:
    candidates: list[dict]
    best: dict | None
    config: dict
    dataset: dict
    cancelled: bool = False
    seconds: float = 0.0
    best_state: dict | None = field(default=None, repr=False)
    selection_split: str = "validation"  # the split that chose the architecture
    final: dict | None = None  # the final training's results (see final.train_final)
    final_state: dict | None = field(default=None, repr=False)
    # every artifact of the final model: {name: {"file", "bytes", "test_acc", "latency_ms"}}
    exports: dict | None = None
    train_seconds: float = 0.0  # summed training time of the candidates (GPU-hours, Figure 3)
    folds: int = 1  # K: the cross-validation folds each candidate trained (1: one split)

    def to_json(self) -> dict:
        return {
            "candidates": self.candidates,
            "best": self.best,
            "dataset": self.dataset,
            "config": self.config,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
            "wall_seconds": round(self.seconds, 3),
            "train_seconds": round(self.train_seconds, 3),
            "selection_split": self.selection_split,
            "folds": self.folds,
            "final": self.final,
            "exports": self.exports,
        }

    @property
    def model_state(self) -> dict | None:
        """The weights the downloads hold: the final model's when it was trained."""
        return self.final_state if self.final_state is not None else self.best_state
