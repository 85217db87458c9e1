"""The body guard looks credentials up before an upload's body is read: made-up ones are refused."""

import pytest

from searchapp.limits import has_credentials
from searchapp.tokens import create_token


def _headers(cookie: str = "", auth: str = "") -> dict[bytes, bytes]:
    headers = {}
    if cookie:
        headers[b"cookie"] = cookie.encode()
    if auth:
        headers[b"authorization"] = auth.encode()
    return headers


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cookie, auth",
    [
        ("", ""),
        ("sessionid=x", ""),
        ("sessionid=" + "a" * 32, ""),
        ("other=1", ""),
        ("", "Bearer x"),
        ("", "Bearer mnas_" + "b" * 43),
        ("", "Basic YTpi"),
    ],
)
def test_made_up_or_missing_credentials_do_not_pass(cookie, auth):
    assert not has_credentials(_headers(cookie, auth))


def test_a_live_session_passes_and_a_signed_out_one_does_not(alice_client, alice):
    key = alice_client.cookies["sessionid"].value
    assert has_credentials(_headers(f"sessionid={key}"))
    alice_client.logout()
    assert not has_credentials(_headers(f"sessionid={key}"))


def test_a_session_of_a_deactivated_user_does_not_pass(alice_client, alice):
    key = alice_client.cookies["sessionid"].value
    alice.is_active = False
    alice.save()
    assert not has_credentials(_headers(f"sessionid={key}"))


def test_a_live_token_passes_and_a_revoked_one_does_not(alice):
    row, token = create_token(alice, "ci")
    assert has_credentials(_headers(auth=f"Bearer {token}"))
    assert has_credentials(_headers(auth=f"bearer {token}"))
    row.delete()
    assert not has_credentials(_headers(auth=f"Bearer {token}"))
