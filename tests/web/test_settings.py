import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mininas_web.settings import BASE_DIR, database_from_url, envbool, envint

ROOT = Path(__file__).resolve().parents[2]


def test_it_reads_sqlite_urls():
    assert database_from_url("sqlite:///db.sqlite3")["NAME"] == str(BASE_DIR / "db.sqlite3")
    assert database_from_url("sqlite:////tmp/x.db")["NAME"] == "/tmp/x.db"


def test_it_reads_postgres_urls():
    db = database_from_url("postgres://nas:s%40cret@db.local:5433/mininas")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "mininas",
        "nas",
        "s@cret",
        "db.local",
        "5433",
    )


def test_it_rejects_unknown_database_schemes():
    with pytest.raises(ImproperlyConfigured):
        database_from_url("mysql://x/y")


def test_env_helpers_reject_bad_values(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        envbool("X_FLAG", True)
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured):
        envint("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "10")
    assert envint("X_NUM", 1) == 10


def _manage(*args, **env):
    full = {**os.environ, **env}
    full.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=ROOT,
    )


def test_production_settings_pass_the_deploy_check():
    out = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {"DEBUG": "0", "SECRET_KEY": ""}
    out = _manage("check", **env)
    assert out.returncode != 0
    assert "SECRET_KEY" in out.stderr


def _setting(name, **env):
    """A setting as a fresh process computes it; DEBUG, REDIS_URL and RUN_DIR unset unless given."""
    env = {"DEBUG": "", "REDIS_URL": "", "RUN_DIR": "", **env}
    out = _manage("shell", "-c", f"from django.conf import settings; print(settings.{name})", **env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_debug_is_off_unless_turned_on():
    assert _setting("DEBUG", SECRET_KEY=secrets.token_urlsafe(50)) == "False"
    assert _setting("DEBUG", DEBUG="1") == "True"


def test_without_debug_or_a_secret_it_says_how_to_fix_it():
    out = _manage("check", DEBUG="", SECRET_KEY="")
    assert out.returncode != 0
    assert "for local development set DEBUG=1" in out.stderr


def test_redis_url_comes_from_the_launchers_file_when_unset(tmp_path):
    (tmp_path / "redis.url").write_text("redis://:pw@127.0.0.1:7000/0\n")
    assert _setting("REDIS_URL", DEBUG="1", RUN_DIR=str(tmp_path)) == "redis://:pw@127.0.0.1:7000/0"
    given = _setting("REDIS_URL", DEBUG="1", RUN_DIR=str(tmp_path), REDIS_URL="redis://h:1/2")
    assert given == "redis://h:1/2"
    assert _setting("REDIS_URL", DEBUG="1", RUN_DIR=str(tmp_path / "none")).endswith(":6379/0")


def test_other_routes_get_the_smaller_request_limit(settings):
    from searchapp.limits import body_limit

    settings.REQUEST_MAX_BYTES = 1000
    settings.UPLOAD_MAX_REQUEST_BYTES = 5000
    assert body_limit("/api/datasets/") == 5000
    assert body_limit("/api/uploads/3f1c6a52-56a4-4a43-9d3c-0bdbd1fd4a39/files/") == 5000
    assert body_limit("/accounts/login/") == body_limit("/no/such/page/") == 1000
    settings.UPLOAD_MAX_REQUEST_BYTES = 500
    assert body_limit("/accounts/login/") == 500
