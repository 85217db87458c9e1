"""The pages' sockets: snapshot on connect, numbered events, resync, and who may connect; the
baselines' events on the search's socket, and the suite run's socket."""

from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from searchapp import baselines as baseline_service
from searchapp.models import BaselineRun, Candidate, SuiteRun
from searchapp.tasks import baselines, suite
from tests.web.derive_fixtures import place_cifar
from tests.web.sockets import close_code, communicator, record_phase, session_headers

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(user, search_id, path="/ws/searches/{}/"):
    return communicator(user, path.format(search_id))


async def test_it_sends_a_snapshot_on_connect(alice, search):
    await database_sync_to_async(Candidate.objects.create)(
        search=search, index=0, phase="depth", params=123, test_acc=61.0, status="ok"
    )
    comm = _communicator(alice, search.pk)
    connected, _ = await comm.connect()
    assert connected
    snap = await comm.receive_json_from()
    assert snap["type"] == "snapshot"
    assert snap["seq"] == 0
    assert snap["search"]["status"] == "queued"
    assert [c["index"] for c in snap["candidates"]] == [0]
    await comm.disconnect()


async def test_it_forwards_events_with_sequence_numbers(alice, search):
    comm = _communicator(alice, search.pk)
    await comm.connect()
    await comm.receive_json_from()
    await record_phase(search.pk, "depth")
    await record_phase(search.pk, "width")
    first = await comm.receive_json_from()
    second = await comm.receive_json_from()
    assert (first["type"], first["seq"], first["phase"]) == ("search.phase", 1, "depth")
    assert (second["seq"], second["phase"]) == (2, "width")
    await comm.disconnect()


async def test_it_resends_a_snapshot_on_request(alice, search, settings):
    settings.WS_SNAPSHOT_INTERVAL_MS = 0  # no wait for the rate limit (test_socket_abuse.py)
    comm = _communicator(alice, search.pk)
    await comm.connect()
    await comm.receive_json_from()
    await record_phase(search.pk, "op")
    await comm.receive_json_from()
    await comm.send_json_to({"type": "resync"})
    snap = await comm.receive_json_from()
    assert snap["type"] == "snapshot" and snap["seq"] == 1
    assert snap["search"]["phase"] == "op"
    await comm.send_to(text_data="not json")  # ignored, not a crash
    assert await comm.receive_nothing()
    await comm.disconnect()


async def test_it_refuses_anonymous_users(search):
    from django.contrib.auth.models import AnonymousUser

    assert await close_code(_communicator(AnonymousUser(), search.pk)) == 4401


async def test_it_refuses_another_user(bob, search):
    assert await close_code(_communicator(bob, search.pk)) == 4404


async def test_it_refuses_an_unknown_search(alice, db):
    assert await close_code(_communicator(alice, 999)) == 4404


async def test_the_full_stack_signs_in_from_the_session_cookie(alice, search):
    from mininas_web.asgi import application

    headers = await database_sync_to_async(session_headers)(alice)
    comm = WebsocketCommunicator(application, f"/ws/searches/{search.pk}/", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["type"] == "snapshot"
    await comm.disconnect()


async def test_the_full_stack_checks_the_origin(alice, search):
    from mininas_web.asgi import application

    headers = await database_sync_to_async(session_headers)(alice, "http://evil.example")
    comm = WebsocketCommunicator(application, f"/ws/searches/{search.pk}/", headers=headers)
    connected, _ = await comm.connect()
    assert not connected


# ----------------------------------------------------------------------------- baselines


@pytest.fixture
def finished(search):
    best = Candidate.objects.create(
        search=search, index=0, phase="depth", arch={"depth": 3, "width": 8, "stem": "cifar"},
        params=20_000, test_acc=91.5, status="ok", accepted=True,
    )  # fmt: skip
    search.status, search.best = "finished", best
    search.save()
    for name in BaselineRun.NAMES:
        BaselineRun.objects.create(search=search, name=name)
    return search


def fake_train_baseline(name, data, recipe, *, on_epoch, **kwargs):
    for epoch in (1, 2):
        on_epoch({"epoch": epoch, "epochs": 2, "test_acc": 40.0 + epoch})
    return {"test_acc": 42.0, "params": 2_000_000, "epochs": 2, "seconds": 1.5, "device": "cpu"}


async def _until(comm, event_type) -> list[dict]:
    messages = [await comm.receive_json_from(timeout=30)]
    while messages[-1]["type"] != event_type:
        messages.append(await comm.receive_json_from(timeout=30))
    return messages


async def test_the_baselines_job_numbers_its_rows_among_the_searchs_events(alice, finished):
    comm = _communicator(alice, finished.pk)
    await comm.connect()
    snap = await comm.receive_json_from()
    assert [b["status"] for b in snap["baselines"]] == ["queued", "queued"]

    with mock.patch("searchapp.nas.baselines.train_baseline", fake_train_baseline):
        await database_sync_to_async(baselines.run_baselines_job)(finished.pk)
    messages = await _until(comm, "baseline.finished")  # M-Net's end
    messages += await _until(comm, "baseline.finished")  # E-Net's end
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    first, last = messages[0], messages[-1]
    assert first["type"] == "baseline.progress"
    assert [b["status"] for b in first["baselines"]] == ["running", "queued"]
    epochs = [m["baselines"][0]["progress"] for m in messages if m["baselines"][0]["progress"]]
    assert epochs[-1]["epoch"] == 2 and epochs[-1]["test_acc"] == 42.0
    mnet, enet = last["baselines"]
    assert (mnet["status"], enet["status"]) == ("finished", "finished")
    assert mnet["efficiency"] == 100.0 and mnet["progress"] == {}
    await comm.disconnect()


async def test_cancelling_queued_baselines_is_sent_to_the_page(alice, finished):
    comm = _communicator(alice, finished.pk)
    await comm.connect()
    await comm.receive_json_from()
    await database_sync_to_async(baseline_service.cancel_baselines)(finished)
    msg = await comm.receive_json_from()
    assert msg["type"] == "baseline.finished" and msg["seq"] == 1
    assert {b["status"] for b in msg["baselines"]} == {"cancelled"}
    await comm.disconnect()


# ----------------------------------------------------------------------------- the suite


def _suite(user, run_id):
    return _communicator(user, run_id, path="/ws/suite/{}/")


async def test_the_suite_socket_sends_the_whole_page_after_each_dataset(alice, settings, tmp_path):
    settings.DERIVED_SOURCES_DIR = tmp_path / "sources"
    place_cifar(settings.DERIVED_SOURCES_DIR)
    run = await database_sync_to_async(SuiteRun.objects.create)(owner=alice)
    comm = _suite(alice, run.pk)
    assert (await comm.connect())[0]
    snap = await comm.receive_json_from()
    assert snap["type"] == "snapshot" and "seq" not in snap
    assert (snap["run"]["status"], snap["created"], len(snap["rows"])) == ("queued", 0, 31)
    assert snap["rows"][0]["latest_label"] == "–" and not snap["rows"][0]["dataset_url"]

    await database_sync_to_async(suite.run_suite_job)(run.pk)
    messages = await _until(comm, "suite.finished")
    assert {m["type"] for m in messages[:-1]} == {"suite.progress"}
    assert messages[0]["run"]["status"] == "running"
    created = [m["created"] for m in messages]
    assert created == sorted(created) and created[-1] == 21  # one dataset at a time
    last = messages[-1]
    assert last["run"]["status"] == "finished" and not last["run"]["active"]
    assert last["run"]["counts"] == {"created": 21, "skipped": 10}
    assert len(last["run"]["problems"]) == 10
    pair = last["rows"][0]
    assert pair["dataset_url"].startswith("/datasets/")
    assert pair["latest_label"] == "start one (chosen on test)"  # the paper's rule
    assert pair["latest_url"].endswith("&select_on=test&rule=paper&folds=1")

    await comm.send_json_to({"type": "ping", "seq": 0})  # no seq: always a fresh snapshot
    assert (await comm.receive_json_from())["type"] == "snapshot"
    await comm.disconnect()


async def test_the_suite_socket_is_for_its_owner_only(alice, bob):
    from django.contrib.auth.models import AnonymousUser

    run = await database_sync_to_async(SuiteRun.objects.create)(owner=alice)
    for user, code in ((bob, 4404), (AnonymousUser(), 4401)):
        assert await close_code(_suite(user, run.pk)) == code
    assert await close_code(_suite(alice, run.pk + 1)) == 4404
