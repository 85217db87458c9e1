"""Try it's per-user rate limit: images a minute, counted in a real Redis, so that requests at
once and web processes side by side share one budget."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile

from searchapp import predict, ratelimit
from tests.builders import class_image, png_bytes

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]


def _png():
    return SimpleUploadedFile("x.png", png_bytes(class_image(0, 16)), "image/png")


def _url(search):
    return f"/api/searches/{search.pk}/predict/"


def test_over_the_limit_is_429_with_retry_after_and_other_users_are_not_charged(
    alice_client, bob, finished, settings
):
    settings.PREDICT_IMAGES_PER_MINUTE = 3
    assert alice_client.post(_url(finished), {"image": [_png(), _png()]}).status_code == 200
    r = alice_client.post(_url(finished), {"image": [_png(), _png()]})
    assert r.status_code == 429
    assert 1 <= int(r["Retry-After"]) <= 60
    assert r.json()["error"].startswith("too many images to try: at most 3 a minute; try again in")
    assert alice_client.post(_url(finished), {"image": _png()}).status_code == 200  # the third
    assert predict.predict_uploads(bob, finished, [_png(), _png(), _png()])["predictions"]


def test_more_images_at_once_than_a_minute_allows_is_413(alice_client, finished, settings):
    settings.PREDICT_IMAGES_PER_MINUTE = 3
    r = alice_client.post(_url(finished), {"image": [_png() for _ in range(4)]})
    assert r.status_code == 413 and "at most 3 images a minute" in r.json()["error"]


def test_thirty_requests_at_once_get_exactly_the_limit(alice, finished, settings):
    settings.PREDICT_IMAGES_PER_MINUTE = 5
    settings.PREDICT_WAIT_SECONDS = 120  # the five that pass take turns in the slots
    start = threading.Barrier(30)
    results: list = []

    def one():
        start.wait()
        try:
            results.append(predict.predict_uploads(alice, finished, [_png()]))
        except predict.PredictError as exc:
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 30
    refused = [r for r in results if isinstance(r, predict.PredictError)]
    assert len(results) - len(refused) == 5
    assert {r.status for r in refused} == {429} and all(r.retry_after >= 1 for r in refused)


CHILD = """
import sys
import redis
from searchapp.ratelimit import take
conn = redis.Redis.from_url(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print(sum(take(conn, "shared", 1, 2) == 0 for _ in range(10)), flush=True)
"""


def test_processes_side_by_side_share_one_budget(redis_url):
    """Three processes charge one key ten times each, together: two pass (2 a minute)."""
    redis.Redis.from_url(redis_url).delete(f"{ratelimit.PREFIX}:shared")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, redis_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:  # all three start charging together
        p.stdin.write("go\n")
        p.stdin.flush()
    passed = [int(p.communicate(timeout=120)[0].strip()) for p in procs]
    assert sum(passed) == 2, passed


def test_without_redis_the_limit_lets_requests_through(alice, finished, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.PREDICT_IMAGES_PER_MINUTE = 1
    for _ in range(2):
        assert predict.predict_uploads(alice, finished, [_png()])["predictions"]
    assert "Redis unavailable" in caplog.text
