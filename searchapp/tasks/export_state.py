"""A candidate's export state (``Candidate.export``), shared by the export job (export.py)
and the service that queues it (searches.start_export); torch-free, so the web imports it."""

from __future__ import annotations

from ..models import Candidate
from ..storage import search_dir

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
IN_PROGRESS = (QUEUED, RUNNING)


def export_dir(search_id: int, index: int):
    """Where candidate ``index``'s exported files go: searches/<id>/candidates/<index>/."""
    return search_dir(search_id) / "candidates" / str(index)


def set_state(candidate_id: int, **state) -> None:
    """Replace the candidate's export state (only the service that queues an export and then
    its job write it, one after the other)."""
    Candidate.objects.filter(pk=candidate_id).update(export=state)
