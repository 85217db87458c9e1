"""The reconciler: orphaned searches are queued again once, live ones are left alone."""

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from searchapp.models import Search
from searchapp.tasks import reconcile
from searchapp.tasks.lease import Lease, lease_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def conn(monkeypatch):
    monkeypatch.setattr(reconcile, "redis_uptime", lambda connection: 10**6)
    return django_rq.get_connection("gpu")


def _orphan(search, status="running", job_id="search-0-dead"):
    old = timezone.now() - timedelta(minutes=5)
    Search.objects.filter(pk=search.pk).update(status=status, rq_job_id=job_id, created=old)
    search.refresh_from_db()
    return search


def test_an_orphaned_running_search_is_queued_again_once(search, conn):
    _orphan(search)
    assert reconcile.reconcile(conn) == [search.pk]
    search.refresh_from_db()
    assert search.status == "queued" and search.rq_job_id != "search-0-dead"
    assert django_rq.get_queue("gpu").job_ids == [search.rq_job_id]
    assert reconcile.reconcile(conn) == []  # its new job waits in the queue: alive


def test_an_orphaned_queued_search_is_queued_again(search, conn):
    _orphan(search, status="queued")
    assert reconcile.reconcile(conn) == [search.pk]


def test_a_search_whose_lease_is_held_is_left_alone(search, conn):
    _orphan(search)
    lease = Lease(conn, search.pk, search.rq_job_id)
    assert lease.acquire()
    try:
        assert reconcile.reconcile(conn) == []
    finally:
        lease.release()
    assert not conn.exists(lease_key(search.pk))


def test_a_just_created_search_is_left_alone(search, conn):
    assert search.status == "queued" and not search.rq_job_id
    assert reconcile.reconcile(conn) == []


def test_finished_searches_are_never_touched(search, conn):
    for status in ("finished", "failed", "cancelled"):
        _orphan(search, status=status)
        assert reconcile.reconcile(conn) == []


def test_two_reconcilers_racing_queue_it_once(search, conn):
    stale = _orphan(search)
    assert reconcile.requeue(stale) is True
    assert reconcile.requeue(stale) is False  # the same stale view loses the UPDATE
    assert django_rq.get_queue("gpu").count == 1


def test_nothing_is_judged_right_after_redis_restarts(search, monkeypatch):
    _orphan(search)
    monkeypatch.setattr(reconcile, "redis_uptime", lambda connection: 1)
    assert reconcile.reconcile(django_rq.get_connection("gpu")) == []


def test_the_command_reports_what_it_queued(search, conn):
    from io import StringIO

    from django.core.management import call_command

    _orphan(search)
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert out.getvalue().strip() == f"queued again: {search.pk}"
