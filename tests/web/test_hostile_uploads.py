"""Hostile and broken uploads through the web paths (the JSON API the upload page uses): each is
refused with a reason (by the request when its check is cheap, by the packing job otherwise) or
handled by conversion, never a 500, and nothing is written outside the dataset's own folder."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from searchapp.models import Dataset, Search, Upload
from searchapp.uploads import short_name
from tests.builders import class_image, png_bytes, solid_bmp_zip
from tests.web.packing import failed, ready

pytestmark = pytest.mark.django_db

GOOD = {f"{c}/{n}.png": png_bytes(class_image(i, seed=i * 100 + n))
        for i, c in enumerate(("cat", "dog")) for n in range(4)}  # fmt: skip


@pytest.fixture(autouse=True)
def _nothing_written_outside(settings, tmp_path):
    """After each test: MEDIA_ROOT holds only datasets/<id>/ of datasets that exist, no
    leftover upload folders, and nothing appeared next to MEDIA_ROOT."""
    yield
    media = settings.MEDIA_ROOT
    allowed = {
        str(media / "datasets" / str(pk)) for pk in Dataset.objects.values_list("pk", flat=True)
    }
    for p in media.rglob("*"):
        if p.is_file():
            assert any(str(p).startswith(a + "/") for a in allowed), f"stray file {p}"
    outside = [p for p in tmp_path.rglob("*") if not str(p).startswith(str(media)) and p.is_file()]
    assert outside == [], outside
    assert not Upload.objects.filter(files__gt=0).exists()  # finished or refused: deleted


def _zip(entries: dict[str, bytes], **writestr_kwargs) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, raw in entries.items():
            zf.writestr(name, raw, **writestr_kwargs)
    return buf.getvalue()


def _post_zip(client, raw: bytes, name="data.zip"):
    return client.post("/api/datasets/", {"file": SimpleUploadedFile(name, raw), "name": "x"})


def _refused(r, *words):
    assert r.status_code in (400, 413), (r.status_code, r.content[:300])
    error = r.json()["error"]
    for w in words:
        assert w in error, error
    assert "pytest-of" not in error and "media/uploads" not in error  # no server paths
    assert Dataset.objects.count() == 0
    return error


def _folder_rejected(client, r) -> dict[str, str]:
    """The rejected files of the packed folder upload `r`, by name without the folder."""
    rejected = ready(client, r)["rejected"]
    return {p.split("/", 1)[-1] if p.count("/") > 1 else p: why for p, why in rejected}


def _folder(client, files: dict[str, bytes]):
    """Upload `files` (relative path -> bytes) as a folder, in one batch; returns finish()."""
    r = client.post("/api/uploads/", {"name": "f"})
    upload = r.json()["upload"]
    objs = [SimpleUploadedFile(p.rsplit("/", 1)[-1], raw) for p, raw in files.items()]
    r = client.post(
        f"/api/uploads/{upload}/files/", {"files": objs, "paths": json.dumps(list(files))}
    )
    assert r.status_code == 200, r.content
    return client.post(f"/api/uploads/{upload}/finish/"), r.json()


# ----------------------------------------------------------------------------- zip archives


@pytest.mark.parametrize(
    "entry",
    ["../evil/cat/1.png", "pets/../../evil.png", "/tmp/evil/cat/1.png", "C:/evil/cat/1.png"],
)
def test_zip_entries_leaving_the_folder_are_refused(alice_client, entry):
    _refused(_post_zip(alice_client, _zip({**GOOD, entry: GOOD["cat/0.png"]})), "unsafe")


def test_zip_symlinks_are_refused(alice_client):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, raw in GOOD.items():
            zf.writestr(name, raw)
        link = zipfile.ZipInfo("cat/passwd.png")
        link.external_attr = (0o120777 << 16) | 0x20
        zf.writestr(link, "/etc/passwd")
    _refused(_post_zip(alice_client, buf.getvalue()), "symbolic link")


def test_a_zip_bomb_is_refused_before_it_is_unpacked(alice_client):
    bomb = _zip({**GOOD, "cat/bomb.png": b"\0" * (20 * 2**20)})  # 20 MiB -> ~20 KiB
    assert len(bomb) < 100_000
    _refused(_post_zip(alice_client, bomb), "zip bomb")


def test_small_images_that_compress_well_are_accepted(alice_client):
    r = _post_zip(alice_client, solid_bmp_zip())  # 30 KB BMPs deflated ~350:1 are no bomb
    ready(alice_client, r)
    d = Dataset.objects.get()
    assert d.classes == ["blue", "red"] and d.num_train + d.num_test == 6 and d.rejected == []


def test_the_zip_limits_are_the_settings(alice_client, settings):
    settings.UPLOAD_MAX_ZIP_RATIO = 50
    raw = _zip({**GOOD, "cat/flat.bmp": png_bytes(np.zeros((160, 160, 3), np.uint8), "BMP")})
    _refused(_post_zip(alice_client, raw), "cat/flat.bmp", "more than 50:1", "zip bomb")


def _patch_declared_sizes(raw: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size of every central-directory entry (the zip lies)."""
    data = bytearray(raw)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        struct.pack_into("<I", data, at + 24, size)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


def test_a_zip_declaring_huge_sizes_is_refused(alice_client, settings):
    settings.UPLOAD_MAX_ZIP_RATIO = 10**9  # else the ratio check refuses it first
    lying = _patch_declared_sizes(_zip(GOOD, compress_type=zipfile.ZIP_STORED), 0xFFFFFFF0)
    _refused(_post_zip(alice_client, lying), "unpacks to more than")


def test_a_zip_understating_its_sizes_is_refused_as_corrupt(alice_client):
    lying = _patch_declared_sizes(_zip(GOOD), 10)
    failed(alice_client, _post_zip(alice_client, lying))  # found only when it is read


def test_nested_archives_are_never_opened(alice_client):
    inner = _zip({"cat/bomb.png": b"\0" * (20 * 2**20)})
    r = _post_zip(alice_client, _zip({**GOOD, "cat/inner.zip": inner, "dog/inner.png": inner}))
    rejected = dict(ready(alice_client, r)["rejected"])
    assert rejected["cat/inner.zip"] == "not an image file extension"
    assert rejected["dog/inner.png"] == "not an image"


def test_an_archive_with_too_many_entries_is_refused_quickly(alice_client, settings, monkeypatch):
    n = settings.UPLOAD_MAX_ZIP_ENTRIES + 1  # 100,001 by default
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(n):
            zf.writestr(f"c{i % 2}/{i}.png", b"")
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(
        zipfile.ZipFile,
        "open",
        lambda zf, name, *a, **kw: opened.append(name) or real_open(zf, name, *a, **kw),
    )
    error = _refused(_post_zip(alice_client, buf.getvalue()), "entries")
    assert "100,001" in error
    assert not opened  # the central directory only: no entry read, nothing decoded


def test_a_file_that_is_not_a_zip_is_refused(alice_client):
    _refused(_post_zip(alice_client, b"PK\x03\x04 but not really a zip"))


# ----------------------------------------------------------------------------- images


def _png_with_size(width: int, height: int) -> bytes:
    """A valid tiny PNG whose header claims width x height (a decompression bomb)."""
    raw = bytearray(png_bytes(class_image(0, 8)))
    struct.pack_into(">II", raw, 16, width, height)
    struct.pack_into(">I", raw, 29, zlib.crc32(bytes(raw[12:29])))
    return bytes(raw)


def _image(mode: str, size: int = 16) -> bytes:
    arr = class_image(1, size)
    im = Image.fromarray(arr)
    if mode == "I;16":
        wide = (arr[..., 0].astype("<u2") * 257).tobytes()
        im = Image.frombytes("I;16", (size, size), wide)
    elif mode != "RGB":
        im = im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_broken_and_hostile_images_are_rejected_one_by_one_with_reasons(alice_client):
    jpeg = png_bytes(class_image(0, 16), fmt="JPEG")
    png = png_bytes(class_image(1, 16))
    bad = {
        "cat/bomb.png": _png_with_size(60000, 60000),
        "cat/truncated.jpg": jpeg[: len(jpeg) // 2],
        "dog/truncated.png": png[: len(png) // 2],
        "dog/text.jpg": b"just some text, renamed",
        "dog/empty.png": b"",
        "cat/garbage.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    }
    r, _ = _folder(alice_client, {**GOOD, **bad})
    rejected = _folder_rejected(alice_client, r)
    assert set(rejected) == set(bad)
    assert "pixels" in rejected["cat/bomb.png"] or "bomb" in rejected["cat/bomb.png"]
    assert rejected["dog/text.jpg"] == "not an image"
    assert rejected["dog/empty.png"] == "empty file"
    for name in ("cat/truncated.jpg", "dog/truncated.png", "cat/garbage.png"):
        assert rejected[name].startswith(("unreadable image", "not an image")), rejected[name]
    assert Dataset.objects.get().num_train + Dataset.objects.get().num_test == len(GOOD)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "I;16", "1", "CMYK"])
def test_images_of_other_modes_are_converted_to_rgb(alice_client, mode):
    files = dict(GOOD)
    files["cat/odd.png" if mode != "CMYK" else "cat/odd.jpg"] = (
        _image(mode) if mode != "CMYK" else _cmyk_jpeg()
    )
    r, _ = _folder(alice_client, files)
    assert ready(alice_client, r)["rejected"] == []
    d = Dataset.objects.get()
    assert d.num_train + d.num_test == len(files) and d.image_size == 16


def _cmyk_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(class_image(0, 16)).convert("CMYK").save(buf, format="JPEG")
    return buf.getvalue()


# ----------------------------------------------------------------------------- datasets


def test_a_one_class_dataset_is_refused(alice_client):
    r, _ = _folder(alice_client, {k: v for k, v in GOOD.items() if k.startswith("cat/")})
    failed(alice_client, r, "only one class")


def test_a_class_with_no_readable_images_is_refused(alice_client):
    r, _ = _folder(alice_client, {**GOOD, "bird/1.png": b"nope", "bird/2.jpg": b"nope"})
    failed(alice_client, r, "bird", "no readable images")


def test_a_test_class_without_train_images_is_refused(alice_client):
    files = {f"train/{k}": v for k, v in GOOD.items()}
    files["test/bird/1.png"] = GOOD["cat/0.png"]
    r, _ = _folder(alice_client, files)
    failed(alice_client, r, "bird")


def test_odd_file_names_are_kept_or_refused_with_a_reason(alice_client):
    files = {
        "chat é/ñ 1.png": GOOD["cat/0.png"],
        "chat é/" + "x" * 240 + ".png": GOOD["cat/1.png"],
        "狗 dog/图 1.png": GOOD["dog/0.png"],
        "狗 dog/ spaces  .png": GOOD["dog/1.png"],
        "狗 dog/semi;colon'quote\".png": GOOD["dog/2.png"],
        "chat é/" + "y" * 300 + ".png": GOOD["cat/2.png"],  # longer than a file name may be
        "chat é/nul\x00.png": GOOD["cat/3.png"],
        "..\\..\\evil.png": GOOD["cat/3.png"],
    }
    r, batch = _folder(alice_client, files)
    refused = {p for p, _ in batch["refused"]}
    assert any(p.startswith("chat é/yyy") for p in refused)
    assert "..\\..\\evil.png" in refused and "chat é/nul\x00.png" in refused
    assert batch["stored"] == 5
    assert ready(alice_client, r)["classes"] == ["chat é", "狗 dog"]


@pytest.mark.parametrize(
    "batches, refused, reason",
    [
        ([["cat/" + "猫" * 200 + ".png"]], "cat/" + "猫" * 200 + ".png", "longer than 255 bytes"),
        ([["cat/9.png", "cat/9.png/1.png"]], "cat/9.png/1.png", "has the name of an uploaded file"),
        ([["cat/9.png/1.png", "cat/9.png"]], "cat/9.png", "a folder of the same name was uploaded"),
        ([["cat/9.png"], ["cat/9.png/1.png"]], "cat/9.png/1.png", "has the name of an uploaded"),
        ([["dog/9/1.png"], ["dog/9"]], "dog/9", "a folder of the same name was uploaded"),
    ],
    ids=["600-byte-name", "file-then-folder", "folder-then-file",
         "file-then-folder-in-two-requests", "folder-then-file-in-two-requests"],
)  # fmt: skip
def test_paths_the_file_system_cannot_hold_are_refused_per_file(
    alice_client, batches, refused, reason
):
    r = _folder_in_batches(alice_client, [list(GOOD), *batches])
    assert r.status_code == 202, r.content
    on_arrival = r.json()["rejected"]  # refused while the batches arrived: known at once
    dataset = ready(alice_client, r)
    assert dataset["rejected"] == on_arrival
    rejected = dict(dataset["rejected"])
    assert list(rejected) == [refused] and reason in rejected[refused]
    assert dataset["classes"] == ["cat", "dog"]


def test_a_path_longer_than_the_file_system_allows_is_refused(alice_client, settings):
    settings.MEDIA_ROOT = settings.MEDIA_ROOT / ("m" * 200) / ("m" * 200)  # a deep media root
    long_path = "/".join(["d" * 250] * 15) + "/1.png"  # 16 names that fit; not all together
    r = _folder_in_batches(alice_client, [list(GOOD), [long_path]])
    # listed with its name cut in the middle (searchapp.uploads.REJECTED_MAX_NAME)
    expected = [[short_name(long_path), "name too long for the file system"]]
    assert ready(alice_client, r)["rejected"] == expected


def _folder_in_batches(client, batches: list[list[str]]):
    """A folder upload of GOOD's first image under each path, one request per batch."""
    upload = client.post("/api/uploads/", {"name": "f"}).json()["upload"]
    for paths in batches:
        objs = [SimpleUploadedFile("x.png", GOOD["cat/0.png"]) for _ in paths]
        r = client.post(
            f"/api/uploads/{upload}/files/", {"files": objs, "paths": json.dumps(paths)}
        )
        assert r.status_code == 200, r.content
    return client.post(f"/api/uploads/{upload}/finish/")


def test_a_zip_holding_a_file_and_a_folder_of_the_same_name_is_read(alice_client):
    r = _post_zip(alice_client, _zip({**GOOD, "cat/9.png": GOOD["cat/0.png"],
                                      "cat/9.png/1.png": GOOD["cat/1.png"]}))  # fmt: skip
    dataset = ready(alice_client, r)
    assert dataset["num_train"] + dataset["num_test"] == len(GOOD) + 2


def test_a_folder_upload_past_the_file_limit_is_refused(alice_client, settings):
    settings.UPLOAD_MAX_FILES = 5
    r = alice_client.post("/api/uploads/", {"name": "f"})
    upload = r.json()["upload"]
    objs = [SimpleUploadedFile(p.rsplit("/", 1)[-1], raw) for p, raw in GOOD.items()]
    r = alice_client.post(
        f"/api/uploads/{upload}/files/", {"files": objs, "paths": json.dumps(list(GOOD))}
    )
    assert r.status_code == 400 and "at most 5 files" in r.json()["error"]
    r = alice_client.post(f"/api/uploads/{upload}/finish/")
    _refused(r, "no files")


def test_too_many_files_in_one_request_is_refused(alice_client, settings):
    r = alice_client.post("/api/uploads/", {"name": "f"})
    upload = r.json()["upload"]
    n = settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1
    objs = [SimpleUploadedFile(f"{i}.png", b"x") for i in range(n)]
    r = alice_client.post(
        f"/api/uploads/{upload}/files/",
        {"files": objs, "paths": json.dumps([f"c/{i}.png" for i in range(n)])},
    )
    assert r.status_code == 400 and r.json()["error"]
    alice_client.post(f"/api/uploads/{upload}/finish/")


# ----------------------------------------------------------------------------- requests


def test_writes_without_a_csrf_token_are_403(alice, search):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    r = client.post("/api/uploads/", {"name": "x"})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    r = client.post("/api/datasets/", {"file": SimpleUploadedFile("a.zip", _zip(GOOD))})
    assert r.status_code == 403
    assert client.post("/searches/new/", {"dataset": search.dataset_id}).status_code == 403
    assert client.post(f"/searches/{search.pk}/cancel/").status_code == 403
    assert client.post(f"/api/searches/{search.pk}/cancel/").status_code == 403
    search.refresh_from_db()
    assert not search.cancel_requested and Search.objects.count() == 1
    assert Upload.objects.count() == 0 and Dataset.objects.count() == 1


def test_an_oversized_request_is_413_for_pages_and_the_api(alice_client, settings):
    settings.UPLOAD_MAX_REQUEST_BYTES = 1000
    r = _post_zip(alice_client, b"x" * 5000)
    assert r.status_code == 413 and "larger than" in r.json()["error"]
    r = alice_client.post("/searches/new/", {"junk": "x" * 5000})
    assert r.status_code == 413


def test_an_oversized_request_is_refused_without_reading_its_body(settings):
    from django.core.handlers.wsgi import WSGIHandler

    class Untouchable(io.RawIOBase):
        def read(self, *args):
            raise AssertionError("the body was read")

        readline = readinto = read

    statuses = []
    for length in (str(settings.UPLOAD_MAX_REQUEST_BYTES + 1), "10" * 12, "-5", "abc"):
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/datasets/",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "CONTENT_TYPE": "multipart/form-data; boundary=xyz",
            "CONTENT_LENGTH": length,
            "wsgi.input": Untouchable(),
            "wsgi.url_scheme": "http",
        }
        seen = []
        body = WSGIHandler()(environ, lambda status, headers: seen.append(status))
        statuses.append(int(seen[0].split()[0]))
        assert b"error" in b"".join(body)
    assert statuses == [413, 413, 400, 400]
