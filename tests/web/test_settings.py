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
