"""The end of a search: the winner's weights, its final training, and the final results.

The winner is trained again from scratch on train + validation with the final recipe and
scored once on test; ``final_results`` turns its test predictions into the ``final`` dict of
result.json (accuracy and interval, per-class figures, confusion matrix, mistakes).
"""

from __future__ import annotations

from collections.abc import Callable

from .candidate_weights import load_weights
from .result import SearchResult
from .space import Arch

MAX_MISCLASSIFIED = 200


def best_weights(search) -> dict | None:
    """The ``search``'s best candidate's state dict: kept in memory, on disk, or retrained (seeded)."""
    if search.best is None or search.data is None:
        return None
    key = search.best.key
    if key in search.states:
        return search.states[key]
    if search.work_dir is not None:
        state = load_weights(search.work_dir, key)
        if state is not None:
            return state
    from .executors import CandidateTrainer

    trainer = CandidateTrainer(search.config, search.data, search.split)
    return trainer.weights(Arch.from_dict(search.best.arch))


def final_results(
    probs, y_test, classes: list[str], best: dict | None, recipe, epochs: int
) -> dict:
    """The ``final`` dict from the final model's test probabilities (N, classes).

    Test accuracy and its interval, per-class accuracy on test (and, from the search, on
    validation), the confusion matrix (rows true class, columns predicted, in ``classes``
    order) and the misclassified test images, most confident mistakes first (at most 200)."""
    import numpy as np

    from .stats import per_class, wilson

    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_test, dtype=np.int64)
    k = len(classes)
    pred = probs.argmax(1) if len(probs) else np.zeros(0, dtype=np.int64)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y, pred), 1)
    correct, count = np.diag(matrix).tolist(), matrix.sum(1).tolist()
    wrong = np.flatnonzero(pred != y)
    conf = probs[wrong, pred[wrong]] if len(wrong) else np.zeros(0)
    order = wrong[np.argsort(-conf, kind="stable")][:MAX_MISCLASSIFIED]
    out = {
        "test_acc": round(100 * sum(correct) / max(len(y), 1), 4),
        "test_ci95": wilson(int(sum(correct)), len(y)),
        "val_acc": (best or {}).get("val_acc"),
        "val_ci95": (best or {}).get("val_ci95"),
        "search_test_acc": (best or {}).get("test_acc"),
        "epochs": epochs,
        "recipe": recipe.name,
        "classes": list(classes),
        "per_class": per_class(correct, count, classes),
        "per_class_val": None,
        "test_correct": correct,
        "test_count": count,
        "confusion_matrix": matrix.tolist(),
        "misclassified": [
            {
                "index": int(i),
                "true": classes[int(y[i])],
                "pred": classes[int(pred[i])],
                "confidence": round(float(probs[i, pred[i]]), 4),
            }
            for i in order
        ],
        "misclassified_total": int(len(wrong)),
    }
    if best and best.get("val_correct") and best.get("val_count"):
        out["per_class_val"] = per_class(best["val_correct"], best["val_count"], classes)
    return out


def train_final(
    search,
    result: SearchResult,
    on_event: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Train the chosen network again from scratch on train + validation with the final
    recipe, score it once on test, and put its results and weights on ``result``."""
    recipe = search.config.final_training()
    data = search.data
    if recipe is None or result.best is None or data is None:
        return
    import torch

    from .augment import Augment
    from .model import build_model
    from .space import IMAGENET_STEM_INPUT
    from .train import DeviceData, candidate_seed, predict, resolve_device, train_candidate

    on_event = on_event or (lambda e: None)
    arch = Arch.from_dict(result.best["arch"])
    device = resolve_device(search.config.device)
    dd = DeviceData(data, device, select="none")  # every training image; nothing held out
    on_event({"type": "final.started", "epochs": recipe.epochs, "recipe": recipe.name})
    res = train_candidate(
        arch,
        dd,
        recipe,
        seed=candidate_seed(search.config.seed, arch) + 1,
        device=device,
        on_epoch=lambda e: on_event({"type": "final.epoch", **e}),
        should_stop=should_stop,
    )
    if res.state_dict is None:  # diverged
        result.final = {"status": res.status, "epochs": res.epochs, "recipe": recipe.name}
        on_event({"type": "final.finished", "final": result.final})
        return
    model = build_model(arch, dd.in_ch, dd.num_classes).to(device)
    model.load_state_dict(res.state_dict)
    resize = IMAGENET_STEM_INPUT if arch.stem == "imagenet" else None
    aug = Augment(dd.mean, dd.std, pad=4, flip=True, resize_to=resize)
    with torch.no_grad():
        probs = predict(model, dd.x_test, aug).numpy()
    final = final_results(probs, data.y_test, data.classes, result.best, recipe, res.epochs)
    final.update({"status": res.status, "seconds": res.seconds, "train_acc": res.train_acc})
    result.final, result.final_state = final, res.state_dict
    on_event({"type": "final.finished", "final": final})
