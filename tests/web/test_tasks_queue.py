"""searchapp/tasks/queue.py: job ids, enqueue on commit (failing onto the row), the cancel flag.

RQ points at a closed port here, so every enqueue fails: each kind of run must say so itself.
"""

import pytest

from searchapp.baselines import start_baselines
from searchapp.models import BaselineRun, Candidate, Search
from searchapp.searches import enqueue_search
from searchapp.suite import start_suite
from searchapp.tasks import queue


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
