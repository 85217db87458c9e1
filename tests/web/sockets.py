"""Socket helpers: a communicator signed in as a user, close codes, headers, a recorded event."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from searchapp.routing import websocket_urlpatterns
from searchapp.tasks import broadcast

HOST = "localhost:8000"
ORIGIN = f"http://{HOST}"


def communicator(user, path: str) -> WebsocketCommunicator:
    """The pages' routes with `user` in the scope (no origin check, no session)."""
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    comm.scope["user"] = user
    return comm


async def close_code(comm: WebsocketCommunicator) -> int:
    """Connect a socket that the server accepts and closes at once; the close code it sends."""
    connected, _ = await comm.connect()
    assert connected, "refused before the handshake: a page would never see the code"
    return await closed_with(comm)


async def closed_with(comm: WebsocketCommunicator, timeout: float = 5) -> int:
    """The code of the close that comes next (after any messages already sent)."""
    while True:
        message = await comm.receive_output(timeout)
        if message["type"] == "websocket.close":
            return message.get("code", 1000)


def session_headers(user, origin: str | None = ORIGIN, host: str | None = HOST) -> list:
    """A signed-in browser's handshake headers: session cookie, Host and Origin (None: left out)."""
    client = Client()
    client.force_login(user)
    headers = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    if host is not None:
        headers.append((b"host", host.encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return headers


@database_sync_to_async
def record_phase(search_id: int, phase: str) -> dict:
    """Save a `search.phase` event on the search and send it, numbered, as the job does."""

    def apply(search):
        search.phase = phase
        search.status = "running"
        search.save()
        return {"phase": phase, "status": "running"}

    return broadcast.record(search_id, "search.phase", apply)
