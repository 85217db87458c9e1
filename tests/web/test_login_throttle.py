"""Sign-in throttling (django-axes): LOGIN_FAILURE_LIMIT failures for a username from one address,
or from one address for any usernames, lock that pair or that address out for
LOGIN_LOCKOUT_SECONDS; the page says why, with a 429. A username alone is never locked."""

import logging
import time
from datetime import timedelta

import pytest
from django.test import Client

HOME = "127.0.0.1"
AWAY = "10.0.0.2"


@pytest.fixture(autouse=True)
def _users(alice, bob):
    pass


def _sign_in(username, password, ip=HOME, url="/accounts/login/"):
    client = Client(REMOTE_ADDR=ip)
    r = client.post(url, {"username": username, "password": password})
    return r, client


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def _fail(times, username="alice", ip=HOME):
    for _ in range(times):
        r, _ = _sign_in(username, "wrong", ip)
        assert r.status_code in (200, 429)


def test_forty_wrong_passwords_lock_the_right_one_out(settings, caplog):
    caplog.set_level(logging.WARNING)
    _fail(40)
    r, client = _sign_in("alice", "alice-password")
    assert r.status_code == 429
    assert not _signed_in(client)
    page = r.content.decode()
    assert "Too many failed sign-ins for this username or from this address" in page
    assert "locked for 15 minutes" in page
    assert 'name="username"' in page and "Traceback" not in page
    lockouts = [rec.getMessage() for rec in caplog.records if "Locking out" in rec.getMessage()]
    assert lockouts and "alice" in lockouts[0] and HOME in lockouts[0]  # logged, with who
    assert not any(rec.exc_info for rec in caplog.records)


def test_fewer_failures_than_the_limit_do_not_lock(settings):
    _fail(settings.AXES_FAILURE_LIMIT - 1)
    r, client = _sign_in("alice", "alice-password")
    assert r.status_code == 302 and _signed_in(client)


def test_the_lock_is_per_username_and_address_pair_and_per_address(settings):
    _fail(settings.AXES_FAILURE_LIMIT)
    # her address is locked for any name
    r, client = _sign_in("bob", "bob-password", ip=HOME)
    assert r.status_code == 429 and not _signed_in(client)
    # alice herself, from another address, is not: nobody can lock her out from elsewhere
    r, client = _sign_in("alice", "alice-password", ip=AWAY)
    assert r.status_code == 302 and _signed_in(client)
    r, client = _sign_in("bob", "bob-password", ip=AWAY)
    assert r.status_code == 302 and _signed_in(client)


def test_fifty_failures_from_an_attacker_leave_the_owner_able_to_sign_in(settings):
    _fail(50, ip="203.0.113.9")
    r, client = _sign_in("alice", "wrong", ip="203.0.113.9")
    assert r.status_code == 429  # the attacker's address is locked
    r, client = _sign_in("alice", "alice-password", ip=HOME)
    assert r.status_code == 302 and _signed_in(client)


def test_failures_spread_over_many_usernames_lock_the_address(settings):
    for i in range(settings.AXES_FAILURE_LIMIT + 5):
        _sign_in(f"user{i}", "wrong", ip="203.0.113.9")
    r, client = _sign_in("bob", "bob-password", ip="203.0.113.9")
    assert r.status_code == 429 and not _signed_in(client)


def test_the_admin_sign_in_is_throttled_too(settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in("alice", "wrong", url="/admin/login/")
    r, client = _sign_in("alice", "alice-password")
    assert r.status_code == 429 and not _signed_in(client)


def test_the_lock_expires(settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    _fail(settings.AXES_FAILURE_LIMIT)
    r, _ = _sign_in("alice", "alice-password")
    assert r.status_code == 429
    assert "locked for 1 minute " in r.content.decode()  # rounded up to a minute
    time.sleep(1.2)
    r, client = _sign_in("alice", "alice-password")
    assert r.status_code == 302 and _signed_in(client)
