"""Every page, API call and download is for its owner only, checked over all URL patterns."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from searchapp.storage import search_dir
from searchapp.uploads import start_upload


def _patterns(resolver=None, prefix=""):
    """(route string, pattern) for every searchapp URL, with nested includes flattened."""
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            if "searchapp" in str(p.urlconf_name):
                yield from _patterns(p, route)
        elif isinstance(p, URLPattern) and (p.name or "").startswith(("searchapp-", "api-")):
            yield route, p


def _needs_object(pattern) -> bool:
    return "pk" in pattern.pattern.regex.groupindex


@pytest.fixture
def objects(alice, dataset, search):
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
    upload = start_upload(alice, "u")
    return {"dataset": dataset, "search": search, "upload": upload}


def _url(pattern, objects) -> str:
    name = pattern.name
    kwargs = {}
    if _needs_object(pattern):
        if "upload" in name:
            kwargs["pk"] = objects["upload"].pk
        elif "dataset" in name:
            kwargs["pk"] = objects["dataset"].pk
        else:
            kwargs["pk"] = objects["search"].pk
    if "name" in pattern.pattern.regex.groupindex:
        kwargs["name"] = "0_0"
    if "fmt" in pattern.pattern.regex.groupindex:
        kwargs["fmt"] = "pt"
    from django.urls import reverse

    return reverse(name, kwargs=kwargs)


def _call(client, url):
    """GET, or POST when the view only takes POST."""
    r = client.get(url)
    if r.status_code == 405:
        r = client.post(url)
    return r


def test_the_url_list_covers_the_app():
    names = {p.name for _, p in _patterns()}
    assert {
        "searchapp-search",
        "searchapp-download",
        "api-search",
        "api-search-weights",
        "searchapp-dataset-thumb",
        "api-upload-files",
        "searchapp-derive",
        "searchapp-suite-create",
        "searchapp-search-baselines",
        "searchapp-search-baselines-status",
        "searchapp-report-csv",
    } <= names


def test_another_user_gets_404_everywhere(bob_client, objects):
    checked = 0
    for _, pattern in _patterns():
        if not _needs_object(pattern):
            continue
        url = _url(pattern, objects)
        r = _call(bob_client, url)
        assert r.status_code == 404, (url, r.status_code)
        checked += 1
    assert checked == 14


def test_the_owner_gets_through_everywhere(client, alice, objects):
    client.force_login(alice)
    for _, pattern in _patterns():
        if not _needs_object(pattern) or "upload" in pattern.name:
            continue
        url = _url(pattern, objects)
        r = _call(client, url)
        assert r.status_code in (200, 302), (url, r.status_code)


def test_anonymous_users_are_sent_to_sign_in_or_get_401(client, objects):
    for _, pattern in _patterns():
        url = _url(pattern, objects)
        r = _call(client, url)
        if url.startswith("/api/"):
            assert r.status_code == 401, url
            assert r.json()["error"]
        else:
            assert r.status_code == 302, url
            assert r["Location"].startswith("/accounts/login/?next="), url


def test_lists_show_only_my_objects(bob_client, objects):
    assert b"pets" not in bob_client.get("/datasets/").content
    assert b"pets" not in bob_client.get("/searches/").content
    assert bob_client.get("/api/datasets/").json() == {"datasets": []}
    assert bob_client.get("/api/searches/").json() == {"searches": []}


def test_the_admin_is_for_staff_only(alice_client):
    r = alice_client.get("/admin/searchapp/search/")
    assert r.status_code == 302


def test_huge_or_odd_ids_are_404_not_500(alice_client):
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
