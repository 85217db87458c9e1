"""The API tokens page (make one, shown once; revoke) and what a token may do on the API."""

import hashlib
import re

from django.test import Client

from searchapp.models import ApiToken
from searchapp.tokens import create_token


def _make(client, name="laptop"):
    return client.post("/settings/tokens/", {"name": name})


def _shown_token(response) -> str:
    return re.search(rb'<pre id="new-token-value">([^<]+)</pre>', response.content)[1].decode()


def _api(token, url="/api/datasets/"):
    return Client().get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_it_makes_a_token_and_shows_it_once(alice_client, alice):
    page = _make(alice_client)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    token = _shown_token(page)
    assert token.startswith("mnas_") and len(token) >= 45  # 32 random bytes, base64url
    row = ApiToken.objects.get()
    assert (row.owner, row.name, row.last_used) == (alice, "laptop", None)
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept
    assert token not in str(ApiToken.objects.values().get())
    assert row.prefix.encode() in page.content
    again = alice_client.get("/settings/tokens/")
    assert token.encode() not in again.content and b"new-token" not in again.content


def test_no_plaintext_token_is_stored_in_the_session(alice_client):
    from django.contrib.sessions.models import Session

    token = _shown_token(_make(alice_client))
    rows = [s.get_decoded() for s in Session.objects.all()]
    assert rows and all(token not in str(data) for data in rows)
    assert all(token not in s.session_data for s in Session.objects.all())


def test_a_token_signs_the_api_in_and_records_its_last_use(alice, dataset):
    row, token = create_token(alice, "ci")
    r = _api(token)
    assert r.status_code == 200
    assert [d["name"] for d in r.json()["datasets"]] == ["pets"]
    row.refresh_from_db()
    assert row.last_used is not None


def test_a_token_is_for_the_api_only(alice):
    _, token = create_token(alice, "ci")
    r = Client().get("/datasets/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_a_revoked_token_is_refused(alice_client, alice, dataset):
    row, token = create_token(alice, "old")
    assert _api(token).status_code == 200
    r = alice_client.post(f"/settings/tokens/{row.pk}/revoke/")
    assert r.status_code == 302
    assert not ApiToken.objects.exists()
    r = _api(token)
    assert r.status_code == 401
    assert r.json() == {"error": "unknown or revoked token"}


def test_a_deactivated_users_tokens_are_refused(alice, dataset):
    _, token = create_token(alice, "ci")
    alice.is_active = False
    alice.save()
    assert _api(token).status_code == 401


def test_another_users_token_gets_404_on_my_objects(bob, search):
    _, token = create_token(bob, "bob's")
    for url in (
        f"/api/searches/{search.pk}/",
        f"/api/datasets/{search.dataset_id}/",
        f"/api/searches/{search.pk}/weights/pt/",
    ):
        assert _api(token, url).status_code == 404, url
    r = Client().post(f"/api/searches/{search.pk}/cancel/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 404
    search.refresh_from_db()
    assert search.status == "queued" and not search.cancel_requested
    assert _api(token, "/api/searches/").json() == {"searches": []}


def test_nobody_revokes_or_sees_another_users_token(alice, bob_client):
    row, _ = create_token(alice, "alice-secret-token-name")
    assert bob_client.post(f"/settings/tokens/{row.pk}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=row.pk).exists()
    assert b"alice-secret-token-name" not in bob_client.get("/settings/tokens/").content


def test_it_needs_a_name_and_caps_the_number_of_tokens(alice_client, settings):
    r = _make(alice_client, name="")
    assert r.status_code == 400 and b"This field is required" in r.content
    settings.API_TOKENS_PER_USER = 2
    assert _make(alice_client, "one").status_code == 200
    assert _make(alice_client, "two").status_code == 200
    r = _make(alice_client, "three")
    assert r.status_code == 400
    assert b"you have 2 tokens, the most allowed; revoke one first" in r.content
    assert ApiToken.objects.count() == 2


def test_revoking_needs_a_post_and_the_csrf_token(alice):
    row, _ = create_token(alice, "ci")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(f"/settings/tokens/{row.pk}/revoke/").status_code == 405
    assert client.post(f"/settings/tokens/{row.pk}/revoke/").status_code == 403
    assert ApiToken.objects.filter(pk=row.pk).exists()


def test_the_menu_links_to_the_tokens_page(alice_client):
    assert b'href="/settings/tokens/"' in alice_client.get("/datasets/").content
