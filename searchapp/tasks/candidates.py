"""Candidates as RQ jobs: one search on many workers (``parallel`` > 1).

The search's own job (search.py) stays the coordinator: it runs Algorithm 1 and takes every
decision; RQExecutor is its executor. The candidates a look-ahead walk names are queued as
candidate jobs, which any worker on any machine picks up; each one trains its network from
scratch (seeded by the architecture, so the weights do not depend on where), saves the weights
in the search's work folder (shared media) and pushes its measured figures to Redis. The
coordinator trains a queued candidate itself whenever its own slot is free, so a search with
more candidates in flight than free workers still moves (with one worker it is the sequential
search). Who trains what, and how a lost worker or the end of the search is noticed, is the
protocol of redis_protocol.py.
"""

from __future__ import annotations

import logging
import os
import queue as pyqueue
import socket
import threading

from searchapp.nas.record import CandidateRecord
from searchapp.nas.space import Arch

from ..models import Search
from . import queue
from .events import EventRecorder
from .lease import Lease, release_held_by
from .redis_protocol import (
    COORDINATOR,
    DONE,
    DONE_TTL,
    STOP_TTL,
    claim_key,
    is_done,
    pop_results,
    push_result,
    results_key,
    stop_key,
)

log = logging.getLogger(__name__)

WAIT_SECONDS = 0.5
"""How long the coordinator blocks on the results list before it looks around."""
MAX_ATTEMPTS = 3
"""A candidate whose worker dies this many times fails the search (a crash, not bad luck)."""


def worker_name() -> str:
    """Who trains a candidate, as a person reads it: the machine and the RQ worker's process
    (the parent of the work-horse that runs the job), e.g. "gpu-box-2:31544"."""
    return f"{socket.gethostname()}:{os.getppid()}"


def release_claim(connection, job) -> bool:
    """Drop the claim of a candidate job whose work-horse died (the worker calls this), so
    its coordinator queues the candidate again without waiting for the claim to expire."""
    search_id, record = job.args[0], job.args[1]
    return release_held_by(connection, claim_key(search_id, record["key"]), job.id)


def run_candidate_job(search_id: int, record: dict, arch: dict) -> dict:
    """Train one candidate of a search for its coordinator (see redis_protocol.py)."""
    from rq import get_current_job

    from searchapp.nas.candidate_weights import persist_weights
    from searchapp.nas.config import Cancelled, SearchConfig
    from searchapp.nas.data import load_npz
    from searchapp.nas.executors import CandidateTrainer, selection_split, train_one

    from ..storage import media_path, search_dir

    conn = queue.connection()
    rec = CandidateRecord.from_dict(record)
    search = Search.objects.select_related("dataset").filter(pk=search_id).first()
    if search is None or search.status not in Search.ACTIVE or conn.exists(stop_key(search_id)):
        return {"status": "skipped", "reason": "the search no longer needs it"}
    job = get_current_job()
    job_id = job.id if job is not None else f"candidate-{search_id}-direct"
    claim = Lease(conn, search_id, job_id, key=claim_key(search_id, rec.key))
    if not claim.acquire():
        return {"status": "skipped", "reason": "another worker trains it"}
    try:
        should_stop = queue.CancelFlag(
            Search, search_id, lost=lambda: claim.lost, stop_key=stop_key(search_id), redis=conn
        )
        config = SearchConfig.from_dict(search.settings)
        data = load_npz(media_path(search.dataset.npz_path))
        trainer = CandidateTrainer(config, data, selection_split(config, data), should_stop)
        try:
            out = train_one(
                trainer, rec, Arch.from_dict(arch), EventRecorder(search_id), worker_name()
            )
        except Cancelled:
            return {"status": "stopped"}
        state = out.pop("state_dict", None)
        if state is not None:
            persist_weights(search_dir(search_id) / "work", rec.key, state)
        push_result(conn, search_id, rec.key, out)
        claim.settle(DONE, DONE_TTL)
        return {"status": "ok", "index": rec.index}
    finally:
        claim.release()  # (a settled claim is not ours any more: release leaves it)


class RQExecutor:
    """The engine's executor for a web search: one slot here (the coordinator's own thread),
    the others as candidate jobs on the ``gpu`` queue."""

    def __init__(self, search, search_id: int):
        self.search = search
        self.search_id = search_id
        self.conn = queue.connection()
        self.conn.delete(stop_key(search_id))
        self.stopping = threading.Event()  # the search is decided: the local slot stops too
        self.trainer = search.trainer(
            should_stop=lambda: self.stopping.is_set() or search.should_stop()
        )
        self.attempts: dict[str, int] = {}
        self.events: pyqueue.Queue = pyqueue.Queue()
        self.pending: dict[str, tuple[CandidateRecord, Arch]] = {}  # submitted, no result yet
        self.jobs: dict[str, str] = {}  # key -> RQ job id
        self.claimed: set[str] = set()  # keys whose claim a worker has been seen holding
        self.early: dict[str, dict] = {}  # results already in the list (an earlier coordinator)
        self.local: tuple[str, threading.Thread, dict] | None = None
        self.local_claim: Lease | None = None
        self._collect(block=False)

    # -- fan out -------------------------------------------------------------------------

    def submit(self, rec: CandidateRecord, arch: Arch) -> None:
        self.pending[rec.key] = (rec, arch)
        claim = self.conn.get(claim_key(self.search_id, rec.key))
        if rec.key in self.early:
            return  # trained for an earlier coordinator of this search
        if is_done(claim):
            self.conn.delete(claim_key(self.search_id, rec.key))  # its result was lost with it
        elif claim is not None:
            return  # a worker of an earlier coordinator is training it; its result will come
        self._enqueue(rec, arch)

    def _enqueue(self, rec: CandidateRecord, arch: Arch) -> None:
        job_id = queue.CANDIDATE.new_id(self.search_id)
        queue.CANDIDATE.enqueue(self.search_id, job_id, rec.to_dict(), arch.to_dict())
        self.jobs[rec.key] = job_id
        self.claimed.discard(rec.key)

    # -- the coordinator's own slot ----------------------------------------------------------

    def _start_local(self) -> None:
        """Train the oldest candidate nobody has claimed here, in a thread."""
        from searchapp.nas.executors import train_one

        for key, (rec, arch) in self.pending.items():
            if key in self.early:
                continue
            claim = Lease(
                self.conn, self.search_id, COORDINATOR, key=claim_key(self.search_id, key)
            )
            if not claim.acquire():
                continue
            box: dict = {}

            def work(rec=rec, arch=arch, box=box) -> None:
                try:
                    box["out"] = train_one(self.trainer, rec, arch, self.events.put, COORDINATOR)
                except BaseException as exc:  # noqa: BLE001 - handed to the search's thread
                    box["error"] = exc

            thread = threading.Thread(target=work, name=f"candidate-{rec.index}", daemon=True)
            self.local, self.local_claim = (key, thread, box), claim
            thread.start()
            return

    def _drain(self) -> None:
        while True:
            try:
                self.search.on_event(self.events.get_nowait())
            except pyqueue.Empty:
                return

    def _collect(self, block: bool) -> None:
        """Move the results pushed by candidate jobs into ``early``."""
        self.early.update(pop_results(self.conn, self.search_id, WAIT_SECONDS if block else 0))

    def _requeue_lost(self) -> None:
        """A candidate whose worker died: its claim lapsed without a result. Queue it again."""
        for key, (rec, arch) in list(self.pending.items()):
            if key in self.early or (self.local and self.local[0] == key):
                continue
            held = self.conn.exists(claim_key(self.search_id, key))
            if held:
                self.claimed.add(key)
            elif key in self.claimed:  # it was being trained and is not any more
                self._collect(block=False)
                if key not in self.early:
                    self.attempts[key] = self.attempts.get(key, 1) + 1
                    if self.attempts[key] > MAX_ATTEMPTS:
                        raise RuntimeError(
                            f"candidate #{rec.index} ({arch.short}) stopped without a result on "
                            f"{MAX_ATTEMPTS} workers; see the workers' logs"
                        )
                    log.warning(
                        "search %s: candidate %s lost its worker; queued again",
                        self.search_id,
                        rec.index,
                    )
                    self._enqueue(rec, arch)

    def wait(self) -> tuple[str, dict]:
        from searchapp.nas.config import Cancelled

        while True:
            self._drain()
            for key in list(self.pending):
                if key in self.early:
                    self.pending.pop(key)
                    return key, self.early.pop(key)
            if self.local is not None and not self.local[1].is_alive():
                key, _, box = self.local
                self.local = None
                if "error" in box:
                    self.local_claim.release()
                else:
                    self.local_claim.settle(DONE, DONE_TTL)
                self._drain()
                if "error" in box:
                    raise box["error"]
                self.pending.pop(key, None)
                return key, box["out"]
            if self.search.should_stop():
                raise Cancelled()
            if self.local is None:
                self._start_local()
            self._requeue_lost()
            self._collect(block=True)

    def close(self) -> None:
        """The search is decided (or stopped): every candidate still in flight stops."""
        self.conn.set(stop_key(self.search_id), "1", ex=STOP_TTL)
        self.stopping.set()
        if self.local is not None:
            self.local[1].join()  # its should_stop is the search's: it stops within an epoch
            self.local_claim.release()
            self.local = None
        self._drain()
        for job_id in self.jobs.values():
            try:
                from rq.job import Job

                Job.fetch(job_id, connection=self.conn).cancel()
            except Exception:  # noqa: BLE001 - already started, finished or gone
                pass
        self.conn.delete(results_key(self.search_id))
