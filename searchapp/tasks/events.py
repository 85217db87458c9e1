"""The engine's events of a search, saved to the database and broadcast to its page.

Every process that trains part of a search (its job, and with ``parallel`` > 1 the candidate
jobs on other workers) records its own events through an EventRecorder.
"""

from __future__ import annotations

from searchapp.nas.record import CandidateRecord

from ..models import Candidate, Search
from ..serializers import best_json, candidate_json, in_flight_json
from . import broadcast


class EventRecorder:
    """on_event(): save the engine's event to the DB, then broadcast it with a seq number."""

    def __init__(self, search_id: int):
        self.search_id = search_id

    def __call__(self, event: dict) -> None:
        kind = event.get("type")
        handler = {
            "search.phase": self.phase,
            "candidate.started": self.started,
            "candidate.epoch": self.epoch,
            "candidate.finished": self.finished,
            "final.epoch": self.final_epoch,
        }.get(kind)
        if kind == "final.started":  # the winner's final training: a phase of its own
            kind, handler, event = "search.phase", self.phase, {"phase": "final"}
        if kind == "search.finished":
            self.best(event)  # the job announces the end once the weights are written
            self.times(event)
        elif handler is not None:
            broadcast.record(self.search_id, kind, lambda search: handler(search, event))

    def phase(self, search: Search, event: dict) -> dict:
        search.phase = event["phase"]
        search.status = Search.Status.RUNNING
        search.save(update_fields=["phase", "status"])
        return {"phase": search.phase, "status": search.status}

    def started(self, search: Search, event: dict) -> dict:
        rec = CandidateRecord.from_dict(event)  # status "running"
        progress = {"index": rec.index, "phase": rec.phase, "epoch": 0}
        candidate, _ = Candidate.objects.update_or_create(
            search=search,
            index=rec.index,
            defaults=Candidate.columns(rec) | {"record": {}, "progress": progress},
        )
        search.progress = progress
        search.save(update_fields=["progress"])
        # the board latency lives in the finished record; the live row shows it from the start
        data = candidate_json(candidate) | {"board_latency_ms": rec.board_latency_ms}
        return {"candidate": data, "in_flight": in_flight_json(candidate)}

    def final_epoch(self, search: Search, event: dict) -> dict:
        """An epoch of the final training: {"phase": "final", epoch, epochs, loss, train_acc}."""
        progress = {k: event.get(k) for k in ("epoch", "epochs", "loss", "train_acc")}
        search.progress = progress | {"phase": "final"}
        search.save(update_fields=["progress"])
        return search.progress

    def epoch(self, search: Search, event: dict) -> dict:
        fields = ("index", "epoch", "epochs", "loss", "train_acc", "val_acc", "test_acc")
        progress = {k: event.get(k) for k in fields}
        progress["phase"] = event.get("phase") or (search.progress or {}).get("phase", search.phase)
        search.progress = progress
        search.save(update_fields=["progress"])
        # several candidates train at once (--parallel): each keeps its own last epoch, so that a
        # reload draws the "In flight" panel as it is
        Candidate.objects.filter(
            search=search, index=progress["index"], status=Candidate.RUNNING
        ).update(progress=progress)
        return progress

    def finished(self, search: Search, event: dict) -> dict:
        rec = CandidateRecord.from_dict(event["candidate"])
        record = rec.to_dict()
        replayed = record.pop("replayed")
        candidate, _ = Candidate.objects.update_or_create(
            search=search,
            index=rec.index,
            defaults=Candidate.columns(rec) | {"record": record, "progress": {}},
        )
        if candidate.accepted:
            search.best = candidate
            search.save(update_fields=["best"])
        return {
            "candidate": candidate_json(candidate),
            "replayed": replayed,
            "best": best_json(search),
        }

    def times(self, event: dict) -> None:
        """The search's wall time and summed training time, when the engine reports them."""
        times = {k: event[k] for k in ("wall_seconds", "train_seconds") if event.get(k) is not None}
        if times:
            Search.objects.filter(pk=self.search_id).update(**times)

    def best(self, event: dict) -> None:
        best = event.get("best")
        if best and "index" in best:
            c = Candidate.objects.filter(search_id=self.search_id, index=best["index"]).first()
            if c is not None:
                Search.objects.filter(pk=self.search_id).update(best=c)
