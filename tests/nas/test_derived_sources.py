"""Where the archives come from: a missing one is named, a download is checked and atomic."""

import functools
import hashlib
import http.server
import os
import threading

import pytest

from searchapp.nas import derived
from searchapp.nas.data import DataError
from searchapp.nas.derived import derive_cifar10, derive_tinyimagenet
from searchapp.nas.derived.download import download, fetch


def test_a_missing_source_names_the_file_and_where_to_get_it(tmp_path):
    with pytest.raises(DataError) as exc:
        derive_cifar10(tmp_path / "nope.tar.gz", ["cat", "dog"])
    msg = str(exc.value)
    assert "cifar-10-python.tar.gz" in msg and derived.CIFAR10_URL in msg and "\n" not in msg
    with pytest.raises(DataError, match="tiny-imagenet-200.zip"):
        derive_tinyimagenet(tmp_path / "nope.zip", ["a", "b"])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # torchvision's redirect probe hangs up mid-response: expected, not an error


@pytest.fixture
def http_files(tmp_path):
    """A local HTTP server (no network in tests): yields (the folder it serves, its base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_download_verifies_the_md5_and_renames_into_place(tmp_path, http_files):
    root, url = http_files
    (root / "a.bin").write_bytes(os.urandom(3 * 2**20 + 5))
    md5 = hashlib.md5((root / "a.bin").read_bytes()).hexdigest()
    out = download(f"{url}/a.bin", tmp_path / "dl" / "a.bin", md5)
    assert out == tmp_path / "dl" / "a.bin"
    assert out.read_bytes() == (root / "a.bin").read_bytes()
    assert [p.name for p in out.parent.iterdir()] == ["a.bin"]


def test_download_refuses_a_bad_checksum_and_leaves_nothing(tmp_path, http_files):
    root, url = http_files
    (root / "a.bin").write_bytes(b"x" * 1000)
    dest = tmp_path / "dl" / "a.bin"
    got = hashlib.md5(b"x" * 1000).hexdigest()
    with pytest.raises(DataError, match=f"checksum mismatch .md5 expected 0{{32}}, got {got}"):
        download(f"{url}/a.bin", dest, "0" * 32)
    assert list(dest.parent.iterdir()) == []
    with pytest.raises(DataError, match=r"could not download .*absent.bin \(File not found\)"):
        download(f"{url}/absent.bin", dest, "0" * 32)
    assert list(dest.parent.iterdir()) == []


def test_fetch_uses_a_present_archive_or_downloads_it(tmp_path, cifar_tar, monkeypatch, http_files):
    assert fetch("cifar10", cifar_tar.parent) == cifar_tar
    root, url = http_files
    (root / "cifar.tgz").write_bytes(cifar_tar.read_bytes())
    md5 = hashlib.md5(cifar_tar.read_bytes()).hexdigest()
    monkeypatch.setitem(derived.SOURCES["cifar10"], "url", f"{url}/cifar.tgz")
    monkeypatch.setitem(derived.SOURCES["cifar10"], "md5", md5)
    got = fetch("cifar10", tmp_path / "data")
    assert got == tmp_path / "data" / "cifar-10-python.tar.gz"
    assert len(derive_cifar10(got, ["cat", "dog"]).y_train) == 20
    monkeypatch.setitem(derived.SOURCES["cifar10"], "md5", "f" * 32)
    with pytest.raises(DataError, match="checksum mismatch.*get it from http://127.0.0.1"):
        fetch("cifar10", tmp_path / "other")
    assert not (tmp_path / "other").exists() or list((tmp_path / "other").iterdir()) == []
