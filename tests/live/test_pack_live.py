"""Uploads through the JSON API of the real stack (Uvicorn, Redis, SQLite file, RQ workers in
subprocesses, tests/live/live_stack.py): the web process answers 202 before any image is
decoded, and a worker packs the dataset, in turn.

Waits are on the API's status (polled) or on a burst worker's exit; the deadline is only a bound
for a failure.
"""

from __future__ import annotations

import http.client
import io
import json
import time
import uuid
import zipfile
from pathlib import Path

from PIL import Image

from tests.live.live_stack import create_user, live_stack

DEADLINE = 300  # seconds: a failure bound, never a wait
TOKEN_OF = """
from django.contrib.auth import get_user_model
from searchapp.tokens import create_token
print(create_token(get_user_model().objects.get(username={user!r}), "pack")[1])
"""


def _png(colour, side: int = 20) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(buf, "PNG")
    return buf.getvalue()


def _zip(classes=("red", "blue"), per_class: int = 5, extra: dict | None = None) -> bytes:
    colours = {"red": (200, 0, 0), "blue": (0, 0, 200), "green": (0, 200, 0)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for cls in classes:
            for n in range(per_class):
                zf.writestr(f"solid/{cls}/{n}.png", _png(colours[cls]))
        for name, raw in (extra or {}).items():
            zf.writestr(name, raw)
    return buf.getvalue()


class Api:
    """The stack's JSON API with a user's Bearer token."""

    def __init__(self, stack, user: str):
        create_user(stack, user, f"{user}-password-1")
        token = stack.manage("shell", "-c", TOKEN_OF.format(user=user)).strip().splitlines()[-1]
        self.port, self.auth = stack.port, {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: bytes | None = None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request(method, path, body=body, headers={**self.auth, **(headers or {})})
        response = conn.getresponse()
        status, data = response.status, json.loads(response.read() or b"{}")
        conn.close()
        return status, data

    def post_files(self, path: str, fields: dict, files: list[tuple[str, str, bytes]]):
        """multipart/form-data: `fields`, and `files` as (field, file name, bytes)."""
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        for field, name, raw in files:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                + raw
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        content_type = f"multipart/form-data; boundary={boundary}"
        return self.call("POST", path, body, {"Content-Type": content_type})

    def upload_zip(self, raw: bytes, name: str) -> dict:
        status, body = self.post_files(
            "/api/datasets/", {"name": name, "max_side": "16"}, [("file", f"{name}.zip", raw)]
        )
        assert status == 202, body
        return body["dataset"]

    def dataset(self, pk: int) -> dict:
        status, body = self.call("GET", f"/api/datasets/{pk}/")
        assert status == 200, body
        return body["dataset"]

    def wait_packed(self, pk: int) -> dict:
        """The dataset once its status is no longer "packing" (polled)."""
        end = time.monotonic() + DEADLINE
        while (d := self.dataset(pk))["status"] == "packing":
            assert time.monotonic() < end, f"dataset {pk} still packing: {d['packing']}"
            time.sleep(0.2)
        return d


def _run_burst_worker(stack) -> None:
    """A real RQ worker that takes every job queued, then exits."""
    stack.manage(
        "rqworker", "default", "--burst", "--worker-class", "searchapp.tasks.worker.Worker"
    )


def test_the_web_process_answers_before_decoding_and_a_worker_packs_in_turn(tmp_path):
    with live_stack(tmp_path / "stack", worker=False, PACK_MAX_CONCURRENT="1") as stack:
        ann, ben = Api(stack, "ann"), Api(stack, "ben")
        good = ann.upload_zip(_zip(extra={"solid/red/broken.png": b"not an image"}), "good")
        one_class = ann.upload_zip(_zip(classes=("red",)), "one-class")
        other = ben.upload_zip(_zip(classes=("red", "green")), "bens")
        for d in (good, one_class, other):
            assert d["status"] == "packing" and d["classes"] == [] and d["num_train"] == 0
        # no worker runs: nothing is decoded, whatever the web process has done meanwhile
        states = {d["name"]: ann_or_ben.dataset(d["id"])["packing"]["state"]
                  for d, ann_or_ben in ((good, ann), (one_class, ann), (other, ben))}  # fmt: skip
        assert states == {"good": "queued", "one-class": "waiting", "bens": "waiting"}
        media = Path(stack.env["MEDIA_ROOT"]) / "datasets"
        assert sorted(p.name for p in (media / str(good["id"])).iterdir()) == ["raw.zip"]
        assert not list(media.glob("*/data.npz"))

        _run_burst_worker(stack)  # each job's end admits the next, until none is left

        ready = ann.dataset(good["id"])
        assert ready["status"] == "ready" and ready["classes"] == ["blue", "red"]
        assert ready["num_train"] + ready["num_test"] == 10 and ready["image_size"] == 16
        assert ready["rejected"] == [["solid/red/broken.png", "not an image"]]
        assert sorted(p.name for p in (media / str(good["id"])).iterdir()) == [
            "data.npz",
            "thumbs",
        ]
        refused = ann.dataset(one_class["id"])
        assert refused["status"] == "failed" and "only one class" in refused["error"]
        assert "/" not in refused["error"]  # no server path
        assert not (media / str(one_class["id"])).exists()
        assert ben.dataset(other["id"])["classes"] == ["green", "red"]


def test_uploads_through_the_api_are_packed_by_a_running_worker(tmp_path):
    with live_stack(tmp_path / "stack") as stack:
        api = Api(stack, "cal")
        zipped = api.upload_zip(_zip(), "zipped")
        status, body = api.call(
            "POST", "/api/uploads/", b'{"name": "folder"}', {"Content-Type": "application/json"}
        )
        assert status == 201, body
        upload = body["upload"]
        files = [("files", f"{n}.png", _png(c)) for c in ("red", "blue") for n in range(4)]
        paths = [f"pets/{c}/{n}.png" for c in ("red", "blue") for n in range(4)]
        status, body = api.post_files(
            f"/api/uploads/{upload}/files/", {"paths": json.dumps(paths)}, files
        )
        assert status == 200 and body["stored"] == 8, body
        status, body = api.call(
            "POST", f"/api/uploads/{upload}/finish/", b"{}", {"Content-Type": "application/json"}
        )
        assert status == 202 and body["dataset"]["status"] == "packing", body
        folder = body["dataset"]

        for pk, total in ((zipped["id"], 10), (folder["id"], 8)):
            d = api.wait_packed(pk)
            assert d["status"] == "ready", d["error"]
            assert d["num_train"] + d["num_test"] == total and d["packing"] == {}
