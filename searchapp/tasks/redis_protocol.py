"""What the jobs of one search say to each other through Redis: the keys, their values, the rules.

Every key of a search lives under ``mininas:search:<id>:``.

``lease`` (lease.py): the one live runner of the search. Value ``<job id>|<random hex>``, set
with NX and a TTL of SEARCH_LEASE_SECONDS, renewed every third of it by the job that holds it.
A job killed outright stops renewing and the lease expires; the reconciler then queues the
search again. The worker drops the lease at once when a job's work-horse dies.

With ``parallel`` N > 1 the search's own job is the coordinator: it runs Algorithm 1 and takes
every decision (tasks/candidates.py, RQExecutor). The candidates it needs are queued as candidate
jobs on the ``gpu`` queue, which any worker on any machine may pick up. For each candidate:

``claim:<sha1 of the arch key, 16 hex>``: who trains it. A candidate job, or the coordinator
for its own slot, takes it with NX (value ``<job id>|<random hex>``, ``coordinator|...`` for
the coordinator) and renews it like the lease while it trains. Once the candidate is trained
its value becomes ``done|`` for DONE_TTL, so a stale copy of its job never trains it again.
A claim that lapses without a result (its worker was killed, or the worker dropped it when the
work-horse died) makes the coordinator queue the candidate again, at most MAX_ATTEMPTS times.

``results``: a list; a candidate job pushes ``{"key": arch key, "out": measured figures}`` (its
weights go to the search's work folder, candidate_weights.py) and the coordinator pops them.

``stop``: set by the coordinator once the search is decided or stopped (for STOP_TTL); every
candidate in flight reads it through its CancelFlag (queue.py) and stops within an epoch,
and a candidate job that starts after it returns at once.

The database stays the truth: the events of every candidate are saved and broadcast by the
process that trains it.
"""

from __future__ import annotations

import hashlib
import json
import uuid

PREFIX = "mininas:search"
DONE = "done|"
"""A claim's value once its candidate is trained: nobody takes it again."""
DONE_TTL = 24 * 3600
STOP_TTL = 24 * 3600
COORDINATOR = "coordinator"
"""The holder name of a claim the coordinator takes for its own slot."""


def lease_key(search_id: int) -> str:
    return f"{PREFIX}:{search_id}:lease"


def claim_key(search_id: int, key: str) -> str:
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return f"{PREFIX}:{search_id}:claim:{digest}"


def results_key(search_id: int) -> str:
    return f"{PREFIX}:{search_id}:results"


def stop_key(search_id: int) -> str:
    return f"{PREFIX}:{search_id}:stop"


# -- lease and claim values -----------------------------------------------------------------


def holder_value(job_id: str | None) -> str:
    """A fresh value for a lease or claim held by ``job_id`` (None: called directly)."""
    return f"{job_id or 'direct'}|{uuid.uuid4().hex}"


def holder_of(value: bytes | str | None) -> str | None:
    """The job id in a lease or claim value ("done" for a settled claim); None when unset."""
    if not value:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    return text.split("|", 1)[0]


def is_done(value: bytes | str | None) -> bool:
    """Whether a claim's value says its candidate is trained."""
    if value is None:
        return False
    return (value.decode() if isinstance(value, bytes) else value) == DONE


# -- the results list ----------------------------------------------------------------------


def push_result(connection, search_id: int, key: str, out: dict) -> None:
    connection.rpush(results_key(search_id), json.dumps({"key": key, "out": out}))


def pop_results(connection, search_id: int, wait_seconds: float = 0) -> dict[str, dict]:
    """Every result in the list, {arch key: measured}; with ``wait_seconds``, block up to
    that long for the first one."""
    items = []
    if wait_seconds:
        item = connection.blpop([results_key(search_id)], timeout=wait_seconds)
        items = [item[1]] if item else []
    while (raw := connection.lpop(results_key(search_id))) is not None:
        items.append(raw)
    messages = (json.loads(raw) for raw in items)
    return {msg["key"]: msg["out"] for msg in messages}
