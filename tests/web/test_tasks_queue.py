"""searchapp/tasks/queue.py: job ids, enqueue on commit (failing onto the row), the cancel flag;
and the values of tasks/redis_protocol.py.

RQ points at a closed port here, so every enqueue fails: each kind of run must say so itself.
"""

import pytest

from searchapp.baselines import start_baselines
from searchapp.models import BaselineRun, Candidate, Search
from searchapp.searches import enqueue_search
from searchapp.suite import start_suite
from searchapp.tasks import queue
from searchapp.tasks.redis_protocol import (
    DONE,
    claim_key,
    holder_of,
    holder_value,
    is_done,
    stop_key,
)


def test_job_ids_name_their_row():
    assert queue.parse_job_id(queue.SEARCH.new_id(12)) == ("search", 12)
    assert queue.parse_job_id("baselines-7-ab34cd56") == ("baselines", 7)
    assert queue.SUITE.new_id(1) != queue.SUITE.new_id(1)
    for other in ("something-else", "search-x-ab34cd56", "", None):
        assert queue.parse_job_id(other) is None, other


def test_a_search_that_cannot_be_queued_says_so(search, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_search(search)
    search.refresh_from_db()
    assert search.status == "failed" and search.finished is not None
    assert search.error.startswith("could not queue the job:"), search.error
    assert queue.parse_job_id(search.rq_job_id) == ("search", search.pk)


def test_baselines_that_cannot_be_queued_say_so(search, django_capture_on_commit_callbacks):
    best = Candidate.objects.create(search=search, index=0, phase="depth", status="ok")
    Search.objects.filter(pk=search.pk).update(status="finished", best=best)
    search.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        start_baselines(search)
    runs = BaselineRun.objects.filter(search=search)
    assert [r.status for r in runs] == ["failed", "failed"]
    assert all(r.error.startswith("could not queue the job:") for r in runs)


def test_a_suite_run_that_cannot_be_queued_says_so(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = start_suite(alice)
    run.refresh_from_db()
    assert run.status == "failed" and run.error.startswith("could not queue the job:")
    assert queue.parse_job_id(run.rq_job_id) == ("suite", run.pk)


def test_the_failure_reason_names_the_exception_and_the_timeout_setting():
    from rq.timeouts import JobTimeoutException

    assert queue.SUITE.failure_reason(ValueError("bad")) == "ValueError: bad"
    timeout = queue.SUITE.failure_reason(JobTimeoutException("10800 s"))
    assert timeout.startswith("timed out") and "raise SUITE_JOB_TIMEOUT" in timeout


@pytest.mark.parametrize("model", [Search, BaselineRun])
def test_the_cancel_flag_reads_the_row_at_most_every_poll_period(model, search, monkeypatch):
    row = search if model is Search else BaselineRun.objects.create(search=search, name="x")
    flag = queue.CancelFlag(model, row.pk)
    assert flag() is False
    model.objects.filter(pk=row.pk).update(cancel_requested=True)
    assert flag() is False  # asked less than CANCEL_POLL_SECONDS ago
    monkeypatch.setattr(queue, "CANCEL_POLL_SECONDS", 0)
    assert flag() is True


def test_the_cancel_flag_is_up_once_the_work_is_lost(search):
    lost = [False]
    flag = queue.CancelFlag(Search, search.pk, lost=lambda: lost[0])
    assert flag() is False
    lost[0] = True
    assert flag() is True


def test_the_cancel_flag_is_up_once_the_coordinator_stops_its_candidates(search, monkeypatch):
    class Redis:
        keys: set = set()

        def exists(self, key):
            return int(key in self.keys)

    redis = Redis()
    flag = queue.CancelFlag(Search, search.pk, stop_key=stop_key(search.pk), redis=redis)
    assert flag() is False
    redis.keys.add(stop_key(search.pk))
    monkeypatch.setattr(queue, "CANCEL_POLL_SECONDS", 0)
    assert flag() is True


def test_every_job_is_queued_through_its_kind_with_its_own_result_ttl(monkeypatch):
    calls = []

    class Queue:
        def enqueue(self, func, *args, **kwargs):
            calls.append((func, args, kwargs))

    monkeypatch.setattr("django_rq.get_queue", lambda name, commit_mode: Queue())
    queue.CANDIDATE.enqueue(3, "candidate-3-ab34cd56", {"key": "k"}, {"depth": 3})
    queue.SEARCH.enqueue(3, "search-3-ab34cd56")
    (func, args, kwargs), (_, search_args, search_kwargs) = calls
    assert func == "searchapp.tasks.candidates.run_candidate_job"
    assert args == (3, {"key": "k"}, {"depth": 3}) and search_args == (3,)
    assert kwargs["job_id"] == "candidate-3-ab34cd56"
    assert kwargs["result_ttl"] == queue.CANDIDATE_RESULT_TTL
    assert search_kwargs["result_ttl"] == queue.RESULT_TTL


def test_a_lease_or_claim_names_its_holder_until_the_claim_is_done():
    value = holder_value("candidate-4-ab34cd56")
    assert holder_of(value.encode()) == holder_of(value) == "candidate-4-ab34cd56"
    assert holder_of(holder_value(None)) == "direct"
    assert holder_of(None) is None
    assert is_done(DONE.encode()) and not is_done(value) and not is_done(None)
    assert claim_key(4, "a") != claim_key(4, "b")
    assert claim_key(4, "a").startswith("mininas:search:4:claim:")
