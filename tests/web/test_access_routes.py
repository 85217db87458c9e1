"""Every route of the site, the API and the sockets, enumerated from the resolvers: another
user gets 404 (or the socket is refused), anonymous users are sent to sign in (401 on the
API). A route missing from ROUTES fails the test, so a new one cannot slip through unchecked.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from searchapp.routing import websocket_urlpatterns
from searchapp.storage import search_dir
from searchapp.uploads import start_upload

SECRET = "alice-private-dataset"

# name -> what the route shows: an object of the owner ("search", "dataset", "upload", with
# the kwargs it needs), "mine" (a page or list of the signed-in user's own things), or
# "public" (sign-in pages). Add every new route here.
ROUTES: dict[str, str] = {
    "searchapp-home": "mine",
    "searchapp-datasets": "mine",
    "searchapp-dataset-new": "mine",
    "searchapp-dataset": "dataset",
    "searchapp-dataset-thumb": "dataset",
    "searchapp-searches": "mine",
    "searchapp-search-new": "mine",
    "searchapp-search": "search",
    "searchapp-search-cancel": "search",
    "searchapp-download": "search",
    "searchapp-derive": "mine",
    "searchapp-suite": "mine",
    "searchapp-suite-create": "mine",
    "searchapp-search-baselines": "search",
    "searchapp-search-baselines-cancel": "search",
    "searchapp-search-baselines-status": "search",
    "searchapp-report": "mine",
    "searchapp-report-csv": "mine",
    "searchapp-report-json": "mine",
    "api-datasets": "mine",
    "api-dataset": "dataset",
    "api-uploads": "mine",
    "api-upload-files": "upload",
    "api-upload-finish": "upload",
    "api-searches": "mine",
    "api-search": "search",
    "api-search-cancel": "search",
    "api-search-weights": "search",
    "login": "public",
    "logout": "public",
}
WS_ROUTES = {"ws/searches/<int:search_id>/": "search"}


def _all_patterns(resolver=None, prefix=""):
    """(route, pattern) for every URL of the project; admin (its own checks) is skipped."""
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            if p.app_name == "admin":
                continue
            yield from _all_patterns(p, route)
        elif isinstance(p, URLPattern):
            yield route, p


def _is_static(route: str) -> bool:
    return route.lstrip("^").startswith("static/")


def test_every_route_is_in_the_access_table():
    names = {p.name for route, p in _all_patterns() if not _is_static(route)}
    missing = sorted(n or "(unnamed)" for n in names if n not in ROUTES)
    assert not missing, f"routes without an access check; add them to ROUTES: {missing}"
    stale = sorted(set(ROUTES) - names)
    assert not stale, f"ROUTES names routes that no longer exist: {stale}"
    ws = {str(p.pattern) for p in websocket_urlpatterns}
    assert ws == set(WS_ROUTES), f"socket routes without a check: {ws - set(WS_ROUTES)}"


@pytest.fixture
def objects(alice, dataset, search):
    dataset.name = SECRET
    dataset.save()
    folder = search_dir(search.pk)
    folder.mkdir(parents=True)
    (folder / "model.pt").write_bytes(b"w")
    (folder / "model.onnx").write_bytes(b"o")
    search.status = "finished"
    search.outputs = {
        "pt": f"searches/{search.pk}/model.pt",
        "onnx": f"searches/{search.pk}/model.onnx",
    }
    search.save()
    return {"dataset": dataset, "search": search, "upload": start_upload(alice, "u")}


def _url(pattern, objects) -> str:
    groups = pattern.pattern.regex.groupindex
    kind = ROUTES[pattern.name]
    kwargs = {}
    if "pk" in groups:
        kwargs["pk"] = objects[kind].pk
    if "name" in groups:
        kwargs["name"] = "0_0"
    if "fmt" in groups:
        kwargs["fmt"] = "pt"
    unknown = set(groups) - set(kwargs)
    assert not unknown, f"{pattern.name}: teach _url the kwargs {unknown}"
    return reverse(pattern.name, kwargs=kwargs)


def _call(client, url):
    """GET, or POST when the view only takes POST."""
    r = client.get(url)
    if r.status_code == 405:
        r = client.post(url)
    return r


def _app_routes():
    for route, p in _all_patterns():
        if not _is_static(route) and ROUTES.get(p.name) != "public":
            yield p


def test_another_user_gets_404_for_every_object_route(bob, objects):
    bob_client = Client()
    bob_client.force_login(bob)
    tried = 0
    for pattern in _app_routes():
        if ROUTES[pattern.name] == "mine":
            continue
        url = _url(pattern, objects)
        r = _call(bob_client, url)
        assert r.status_code == 404, (url, r.status_code)
        tried += 1
    assert tried == sum(1 for v in ROUTES.values() if v in ("search", "dataset", "upload"))
    objects["search"].refresh_from_db()
    assert not objects["search"].cancel_requested  # bob's POSTs changed nothing


def test_another_users_pages_and_lists_never_show_my_objects(bob, objects):
    bob_client = Client()
    bob_client.force_login(bob)
    for pattern in _app_routes():
        if ROUTES[pattern.name] != "mine":
            continue
        r = bob_client.get(_url(pattern, objects))
        if r.status_code == 405:
            continue  # POST-only: acts on the caller's own things (checked by their tests)
        assert r.status_code in (200, 302), (pattern.name, r.status_code)
        body = b"".join(r.streaming_content) if r.streaming else r.content
        assert SECRET.encode() not in body, pattern.name


def test_anonymous_users_are_sent_to_sign_in_everywhere(client, objects):
    for pattern in _app_routes():
        url = _url(pattern, objects)
        r = _call(client, url)
        if url.startswith("/api/"):
            assert r.status_code == 401, url
        else:
            assert r.status_code == 302, (url, r.status_code)
            assert r["Location"].startswith("/accounts/login/?next="), url


# ----------------------------------------------------------------------------- sockets


def _ws_path(route: str, objects) -> str:
    assert WS_ROUTES[route] == "search"
    return "/" + route.replace("<int:search_id>", str(objects["search"].pk))


@pytest.mark.django_db(transaction=True)
async def test_every_socket_refuses_other_users_and_anonymous(alice, bob, objects):
    for p in websocket_urlpatterns:
        path = _ws_path(str(p.pattern), objects)
        for user, code in ((bob, 4404), (AnonymousUser(), 4401)):
            comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
            comm.scope["user"] = user
            connected, got = await comm.connect()
            assert (connected, got) == (False, code), (path, user)
        comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        comm.scope["user"] = alice
        connected, _ = await comm.connect()
        assert connected
        await comm.disconnect()


def _headers(user, origin):
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    headers = [(b"cookie", cookie.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return headers


@pytest.mark.django_db(transaction=True)
async def test_every_socket_checks_the_origin(alice, objects):
    from mininas_web.asgi import application

    for p in websocket_urlpatterns:
        path = _ws_path(str(p.pattern), objects)
        for origin in ("http://evil.example", "http://localhost.evil.example", "null"):
            headers = await database_sync_to_async(_headers)(alice, origin)
            comm = WebsocketCommunicator(application, path, headers=headers)
            connected, _ = await comm.connect()
            assert not connected, origin
        headers = await database_sync_to_async(_headers)(alice, "http://localhost:8000")
        comm = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await comm.connect()
        assert connected
        await comm.disconnect()
