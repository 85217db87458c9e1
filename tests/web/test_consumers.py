"""The search socket: snapshot on connect, numbered events, resync, and who may connect."""

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from searchapp import broadcast
from searchapp.models import Candidate
from searchapp.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(user, search_id):
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/searches/{search_id}/")
    comm.scope["user"] = user
    return comm


@database_sync_to_async
def _phase(search_id, phase):
    def apply(search):
        search.phase = phase
        search.status = "running"
        search.save()
        return {"phase": phase, "status": "running"}

    return broadcast.record(search_id, "search.phase", apply)


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
    await _phase(search.pk, "depth")
    await _phase(search.pk, "width")
    first = await comm.receive_json_from()
    second = await comm.receive_json_from()
    assert (first["type"], first["seq"], first["phase"]) == ("search.phase", 1, "depth")
    assert (second["seq"], second["phase"]) == (2, "width")
    await comm.disconnect()


async def test_it_resends_a_snapshot_on_request(alice, search):
    comm = _communicator(alice, search.pk)
    await comm.connect()
    await comm.receive_json_from()
    await _phase(search.pk, "op")
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

    comm = _communicator(AnonymousUser(), search.pk)
    connected, code = await comm.connect()
    assert not connected and code == 4401


async def test_it_refuses_another_user(bob, search):
    comm = _communicator(bob, search.pk)
    connected, code = await comm.connect()
    assert not connected and code == 4404


async def test_it_refuses_an_unknown_search(alice, db):
    comm = _communicator(alice, 999)
    connected, _ = await comm.connect()
    assert not connected


def _session_headers(user, origin):
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return [(b"cookie", cookie.encode()), (b"origin", origin.encode())]


async def test_the_full_stack_signs_in_from_the_session_cookie(alice, search):
    from mininas_web.asgi import application

    headers = await database_sync_to_async(_session_headers)(alice, "http://localhost")
    comm = WebsocketCommunicator(application, f"/ws/searches/{search.pk}/", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["type"] == "snapshot"
    await comm.disconnect()


async def test_the_full_stack_checks_the_origin(alice, search):
    from mininas_web.asgi import application

    headers = await database_sync_to_async(_session_headers)(alice, "http://evil.example")
    comm = WebsocketCommunicator(application, f"/ws/searches/{search.pk}/", headers=headers)
    connected, _ = await comm.connect()
    assert not connected
