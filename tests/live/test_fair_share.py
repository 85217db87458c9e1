"""Fair share on a real Redis: one search per user on the `gpu` queue, users served in turn,
admissions a crash missed caught by the reconciler; then the issue's case with a real RQ
worker in a subprocess: a user's 20 long searches do not hold back another user's one."""

from __future__ import annotations

import json
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from searchapp.models import Search
from searchapp.nas.config import SearchConfig
from searchapp.searches import create_search
from searchapp.storage import create_dataset_from_imagedata, search_dir
from searchapp.tasks import reconcile
from searchapp.tasks.lease import Lease
from searchapp.tasks.lifecycle import admit_waiting, finish_search
from tests.builders import TINY_SEARCH, make_imagedata
from tests.live.fault_stack import FaultStack

pytestmark = pytest.mark.django_db
TINY_CONFIG = SearchConfig.from_dict(TINY_SEARCH).to_dict()


@pytest.fixture
def create(django_capture_on_commit_callbacks):
    """create(user, n) -> n new searches of `user`, each admitted (or not) as on a commit."""
    datasets = {}

    def make(user, n=1) -> list[Search]:
        if user.pk not in datasets:
            data = make_imagedata(per_class=5)
            datasets[user.pk] = create_dataset_from_imagedata(user, "d", data, "generated")
        out = []
        for _ in range(n):
            with django_capture_on_commit_callbacks(execute=True):
                out.append(create_search(user, datasets[user.pk], TINY_CONFIG))
        return [Search.objects.get(pk=s.pk) for s in out]

    return make


def _queued() -> list[int]:
    """Search ids of the jobs waiting in the `gpu` queue, in the order workers take them."""
    return [int(job_id.split("-")[1]) for job_id in django_rq.get_queue("gpu").job_ids]


def _end(*searches, started=None) -> None:
    """Mark searches finished without admitting anyone (as if the admission were missed)."""
    for s in searches:
        Search.objects.filter(pk=s.pk).update(status="finished", started=started or s.created)


def test_one_search_per_user_sits_in_the_queue_the_rest_wait(alice, bob, create):
    a = create(alice, 3)
    assert _queued() == [a[0].pk]
    assert [s.rq_job_id == "" for s in a] == [False, True, True]
    (b,) = create(bob)
    assert _queued() == [a[0].pk, b.pk]  # bob's does not wait behind alice's other two


def test_a_search_that_ends_admits_its_users_next(
    alice, create, django_capture_on_commit_callbacks
):
    a = create(alice, 3)
    with django_capture_on_commit_callbacks(execute=True):
        finish_search(a[0].pk, "cancelled")
    assert _queued() == [a[0].pk, a[1].pk]  # the cancelled job itself is left for RQ to drop
    assert Search.objects.get(pk=a[2].pk).rq_job_id == ""


@pytest.mark.parametrize("first", ["alice", "bob"])
def test_the_user_served_longest_ago_goes_first(alice, bob, create, first, django_user_model):
    a, b = create(alice, 2), create(bob, 2)
    long_ago, lately = timezone.now() - timedelta(hours=2), timezone.now() - timedelta(hours=1)
    _end(a[0], started=long_ago if first == "alice" else lately)
    _end(b[0], started=lately if first == "alice" else long_ago)
    django_rq.get_queue("gpu").empty()
    admit_waiting()
    order = [a[1].pk, b[1].pk] if first == "alice" else [b[1].pk, a[1].pk]
    assert _queued() == order


def test_a_user_never_served_goes_before_one_served(alice, bob, create):
    a = create(alice, 2)
    (b,) = create(bob)
    _end(a[0])
    Search.objects.filter(pk=b.pk).update(rq_job_id="")  # as if its admission were missed
    django_rq.get_queue("gpu").empty()
    admit_waiting()
    assert _queued() == [b.pk, a[1].pk]


def test_more_slots_per_user_admit_more(alice, create, settings):
    settings.SEARCH_MAX_ACTIVE_PER_USER = 2
    a = create(alice, 3)
    assert _queued() == [a[0].pk, a[1].pk]


def test_admitting_again_never_queues_a_search_twice(alice, bob, create):
    a, b = create(alice, 2), create(bob, 2)
    before = _queued()
    for _ in range(3):
        assert admit_waiting() == []
    assert _queued() == before == [a[0].pk, b[0].pk]


def test_the_reconciler_admits_a_search_whose_admission_was_missed(alice, create, monkeypatch):
    monkeypatch.setattr(reconcile, "redis_uptime", lambda connection: 10**6)
    (a,) = create(alice)
    old = timezone.now() - timedelta(minutes=5)
    Search.objects.filter(pk=a.pk).update(rq_job_id="", created=old)  # Redis was down
    django_rq.get_queue("gpu").empty()
    assert reconcile.reconcile() == []  # not an orphan: it was waiting for its turn
    assert _queued() == [a.pk]
    assert reconcile.reconcile() == [] and _queued() == [a.pk]


def test_the_reconciler_removes_files_of_deleted_searches_no_job_holds(alice, create):
    connection = django_rq.get_connection("gpu")
    a = create(alice, 2)
    for s in a:
        (search_dir(s.pk) / "work").mkdir(parents=True)
    lease = Lease(connection, a[1].pk, a[1].rq_job_id or "direct")
    assert lease.acquire()  # a job still runs the second one
    try:
        Search.objects.filter(pk__in=[s.pk for s in a]).delete()
        assert reconcile.remove_deleted_files(connection) == [a[0].pk]
    finally:
        lease.release()
    assert not search_dir(a[0].pk).exists() and search_dir(a[1].pk).exists()
    assert reconcile.remove_deleted_files(connection) == [a[1].pk]


# ----------------------------------------------------------------------------- a real worker

# Looks heavy and would run for minutes: 1,000 epochs a candidate with the paper recipe (no
# early stop); the data is tiny, so each epoch is one batch and Cancel lands within it.
HEAVY = {**TINY_SEARCH, "recipe": "paper", "epochs": 1000}
QUICK = {**TINY_SEARCH, "epochs": 1}

SETUP_BOB = """
from django.contrib.auth import get_user_model
from searchapp.storage import create_dataset_from_imagedata
from tests.builders import make_imagedata
u = get_user_model().objects.create_user("bob", password="bob-password")
create_dataset_from_imagedata(u, "bob's", make_imagedata(per_class=10), "generated")
"""
CREATE = """
import json
from django.contrib.auth import get_user_model
from searchapp.models import Dataset
from searchapp.nas.config import SearchConfig
from searchapp.searches import create_search
user = get_user_model().objects.get(username={user!r})
ds = Dataset.objects.filter(owner=user).first()
config = SearchConfig.from_dict({config!r}).to_dict()
print(json.dumps([create_search(user, ds, config).pk for _ in range({count})]))
"""
ACT = """
from searchapp import searches
from searchapp.models import Search
for s in Search.objects.filter(pk__in={ids!r}):
    searches.{action}(s)
"""


@pytest.fixture
def stack(tmp_path, redis_url):
    s = FaultStack(tmp_path / "stack", redis_url)
    s.env["SEARCH_MAX_QUEUED_PER_USER"] = "20"
    s.setup(per_class=10)
    s.manage("shell", "-c", SETUP_BOB)
    yield s
    s.stop_all()


def _create(stack, user, config, count=1) -> list[int]:
    code = CREATE.format(user=user, config=config, count=count)
    return json.loads(stack.manage("shell", "-c", code).strip().splitlines()[-1])


def _act(stack, action, ids) -> None:
    stack.manage("shell", "-c", ACT.format(action=action, ids=list(ids)))


def _started(stack, ids) -> dict[int, str | None]:
    marks = ",".join("?" * len(ids))
    rows = stack.query(f"select id, started from searchapp_search where id in ({marks})", *ids)
    return dict(rows)


def test_another_users_search_starts_right_after_the_current_one(stack, redis_url):
    import redis
    from rq import Queue

    gpu = Queue("gpu", connection=redis.Redis.from_url(redis_url))
    worker = stack.start_worker()
    a = _create(stack, "alice", HEAVY, count=20)
    stack.wait_for(lambda: stack.search(a[0])["status"] == "running", 120, "alice's first")
    (b,) = _create(stack, "bob", QUICK)
    # alice's 19 others wait in the database; the queue holds bob's search alone
    assert gpu.job_ids == [stack.search(b)["rq_job_id"]]
    assert all(stack.search(pk)["rq_job_id"] == "" for pk in a[1:])

    _act(stack, "cancel_search", a[:1])  # alice's current search ends (within an epoch)
    finished = stack.wait_for(
        lambda: stack.search(b)["status"] in ("finished", "failed"), 240, "bob's search"
    )
    assert finished and stack.search(b)["status"] == "finished", stack.log_tail()
    assert stack.search(a[0])["status"] == "cancelled"
    started = _started(stack, [b, *a])
    assert started[a[0]] < started[b]
    # bob's came next: of alice's 19 others at most the next one has started, after bob's
    later = [pk for pk in a[1:] if started[pk] is not None]
    assert later in ([], [a[1]]) and all(started[pk] > started[b] for pk in later)

    # alice deletes all 20, the one on the worker now included: its job ends quietly
    stack.wait_for(lambda: _running(stack, a[1]), 120, "alice's next search to train")
    job_id = stack.search(a[1])["rq_job_id"]
    _act(stack, "delete_search", a)
    stack.wait_for(lambda: not gpu.job_ids and not _busy(gpu), 120, "the worker to be idle")
    assert gpu.fetch_job(job_id).return_value() == {"status": "deleted"}
    stack.wait_for(
        lambda: not any(search_dir_in(stack, pk).exists() for pk in a), 60, "alice's files"
    )
    assert search_dir_in(stack, b).is_dir()  # bob's results stay
    assert stack.query("select count(*) from searchapp_search") == [(1,)]
    assert worker.poll() is None
    assert "Traceback" not in stack.log_tail(lines=10_000)


def _running(stack, pk) -> bool:
    return stack.query("select count(*) from searchapp_candidate where search_id=?", pk) != [(0,)]


def _busy(queue) -> bool:
    from rq import Worker

    return any(w.get_current_job_id() for w in Worker.all(queue=queue))


def search_dir_in(stack, pk):
    return stack.root / "media" / "searches" / str(pk)
