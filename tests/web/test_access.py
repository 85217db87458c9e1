"""Who may use each route of the site, the API and the sockets, walked from the resolvers.

ROUTES is the table of expectations: what each route is about and what its owner gets.
Another user gets 404 for an object route (a refused socket) and never sees the owner's
things on their own pages; anonymous users are sent to sign in (401 on the API). A route
missing from the table fails the test, so a new one cannot slip through unchecked.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from searchapp.models import SuiteRun
from searchapp.routing import websocket_urlpatterns
from searchapp.storage import write_mistake_images
from searchapp.tokens import create_token
from searchapp.uploads import start_upload
from tests.builders import finish_with_weights
from tests.web.sockets import close_code, session_headers

SECRET = "alice-private-dataset"

# name -> (what the route is about, the status its owner gets). About: an object of the owner
# ("search", "dataset", "upload", "token"), "mine" (the signed-in user's own pages, lists and actions)
# or "public" (sign-in pages). The owner's status is the view's own answer to a bare GET (or
# POST, for a POST-only route) past the access check. Add every new route here.
ROUTES: dict[str, tuple[str, int | None]] = {
    "searchapp-home": ("mine", 302),
    "searchapp-start": ("mine", 200),
    "searchapp-datasets": ("mine", 200),
    "searchapp-dataset-new": ("mine", 200),
    "searchapp-dataset": ("dataset", 200),
    "searchapp-dataset-delete": ("dataset", 200),  # GET: the confirmation page
    "searchapp-dataset-thumb": ("dataset", 200),
    "searchapp-searches": ("mine", 200),
    "searchapp-search-new": ("mine", 200),
    "searchapp-search-estimate": ("mine", 400),  # no settings sent
    "searchapp-search-compare": ("mine", 200),  # none picked: how to pick
    "searchapp-search": ("search", 200),
    "searchapp-search-cancel": ("search", 302),
    "searchapp-search-mistakes": ("search", 200),
    "searchapp-search-test-image": ("search", 200),
    "searchapp-search-delete": ("search", 200),  # GET: the confirmation page
    "searchapp-download": ("search", 200),
    "searchapp-derive": ("mine", 200),
    "searchapp-suite": ("mine", 200),
    "searchapp-suite-create": ("mine", 302),
    "searchapp-search-baselines": ("search", 302),
    "searchapp-search-baselines-cancel": ("search", 302),
    "searchapp-report": ("mine", 200),
    "searchapp-report-csv": ("mine", 200),
    "searchapp-report-json": ("mine", 200),
    "searchapp-tokens": ("mine", 200),
    "searchapp-token-revoke": ("token", 302),
    "api-datasets": ("mine", 200),
    "api-dataset": ("dataset", 200),
    "api-uploads": ("mine", 201),
    "api-upload-files": ("upload", 400),  # no files sent
    "api-upload-finish": ("upload", 400),  # nothing uploaded
    "api-searches": ("mine", 200),
    "api-search": ("search", 200),
    "api-search-cancel": ("search", 200),
    "api-search-weights": ("search", 200),
    "api-search-predict": ("search", 400),  # no images sent
    "api-candidate-export": ("search", 404),  # the search has no candidate 0
    "api-candidate-export-file": ("search", 404),
    "login": ("public", None),
    "logout": ("public", None),
}
OBJECTS = ("search", "dataset", "upload", "token")
WS_ROUTES = {"ws/searches/<int:search_id>/": "search", "ws/suite/<int:run_id>/": "suite_run"}


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
    finish_with_weights(search, {"pt": b"w", "onnx": b"o"})
    write_mistake_images(search.pk, np.zeros((1, 8, 8, 3), np.uint8), [0])  # as its job does
    return {
        "dataset": dataset,
        "search": search,
        "upload": start_upload(alice, "u"),
        "suite_run": SuiteRun.objects.create(owner=alice),
        "token": create_token(alice, SECRET)[0],
    }


def _url(pattern, objects) -> str:
    groups = pattern.pattern.regex.groupindex
    kind = ROUTES[pattern.name][0]
    kwargs = {}
    if "pk" in groups:
        kwargs["pk"] = objects[kind].pk
    if "name" in groups:
        kwargs["name"] = "0_0"
    if "fmt" in groups:
        kwargs["fmt"] = "pt"
    if "index" in groups:
        kwargs["index"] = 0
    unknown = set(groups) - set(kwargs)
    assert not unknown, f"{pattern.name}: teach _url the kwargs {unknown}"
    return reverse(pattern.name, kwargs=kwargs)


def _call(client, url):
    """GET, or POST when the view only takes POST."""
    r = client.get(url)
    if r.status_code == 405:
        r = client.post(url)
    return r


def _app_routes(*kinds: str):
    """The patterns of every non-public route, or of those about one of `kinds`."""
    for route, p in _all_patterns():
        if _is_static(route):
            continue
        kind = ROUTES[p.name][0]
        if kind != "public" and (not kinds or kind in kinds):
            yield p


def _body(r) -> bytes:
    return b"".join(r.streaming_content) if r.streaming else r.content


def test_the_owner_gets_each_routes_own_answer(alice_client, objects):
    for pattern in _app_routes():
        r = _call(alice_client, _url(pattern, objects))
        assert r.status_code == ROUTES[pattern.name][1], (pattern.name, r.status_code)


def test_another_user_gets_404_for_every_object_route(bob_client, objects):
    tried = 0
    for pattern in _app_routes(*OBJECTS):
        url = _url(pattern, objects)
        r = _call(bob_client, url)
        assert r.status_code == 404, (url, r.status_code)
        tried += 1
    assert tried == sum(1 for kind, _ in ROUTES.values() if kind in OBJECTS)
    objects["search"].refresh_from_db()
    assert not objects["search"].cancel_requested  # bob's POSTs changed nothing
    assert not objects["search"].baselines.exists()


def test_another_users_pages_and_lists_never_show_my_objects(bob_client, objects):
    for pattern in _app_routes("mine"):
        r = bob_client.get(_url(pattern, objects))
        if r.status_code == 405:
            continue  # POST-only: acts on the caller's own things (checked by their tests)
        assert r.status_code in (200, 302, ROUTES[pattern.name][1]), (pattern.name, r.status_code)
        assert SECRET.encode() not in _body(r), pattern.name
    assert bob_client.get("/api/datasets/").json() == {"datasets": []}
    assert bob_client.get("/api/searches/").json() == {"searches": []}


def test_anonymous_users_are_sent_to_sign_in_everywhere(client, objects):
    for pattern in _app_routes():
        url = _url(pattern, objects)
        r = _call(client, url)
        if url.startswith("/api/"):
            assert r.status_code == 401, url
            assert r.json()["error"], url
        else:
            assert r.status_code == 302, (url, r.status_code)
            assert r["Location"].startswith("/accounts/login/?next="), url


def test_the_admin_is_for_staff_only(alice_client):
    r = alice_client.get("/admin/searchapp/search/")
    assert r.status_code == 302 and r["Location"].startswith("/admin/login/")


def test_huge_ids_are_404_not_500(alice_client):
    huge = "9" * 25
    for url in (
        f"/datasets/{huge}/",
        f"/searches/{huge}/",
        f"/api/searches/{huge}/",
        f"/datasets/{huge}/thumbs/1_1.png",
        f"/api/datasets/{huge}/",
    ):
        assert alice_client.get(url).status_code == 404, url
    assert alice_client.get(f"/searches/new/?dataset={huge}").status_code == 200


# ----------------------------------------------------------------------------- sockets


def _ws_path(route: str, objects) -> str:
    pk = objects[WS_ROUTES[route]].pk
    return "/" + re.sub(r"<int:\w+>", str(pk), route)


@pytest.mark.django_db(transaction=True)
async def test_every_socket_refuses_other_users_and_anonymous(alice, bob, objects):
    for p in websocket_urlpatterns:
        path = _ws_path(str(p.pattern), objects)
        for user, code in ((bob, 4404), (AnonymousUser(), 4401)):
            comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
            comm.scope["user"] = user
            assert await close_code(comm) == code, (path, user)
        comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        comm.scope["user"] = alice
        connected, _ = await comm.connect()
        assert connected
        await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_every_socket_checks_the_origin(alice, objects):
    from mininas_web.asgi import application

    for p in websocket_urlpatterns:
        path = _ws_path(str(p.pattern), objects)
        bad = ("http://evil.example", "http://localhost.evil.example", "null", None)
        bad += ("http://localhost:8001", "https://localhost:8000")  # another port or scheme
        for origin in bad:
            headers = await database_sync_to_async(session_headers)(alice, origin)
            comm = WebsocketCommunicator(application, path, headers=headers)
            connected, _ = await comm.connect()
            assert not connected, origin
        headers = await database_sync_to_async(session_headers)(alice, "http://localhost:8000")
        comm = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await comm.connect()
        assert connected
        await comm.disconnect()
