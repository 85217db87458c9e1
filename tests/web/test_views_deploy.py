"""The search page for the deploy and parallel issues: RAM / flash columns, over-budget and
speculative candidates, the budget line's data, the "In flight" panel (several candidates running,
a candidate finished twice), wall and training time, exported artifacts and their downloads."""

from __future__ import annotations

import pytest

from searchapp.models import Candidate, Search
from searchapp.serializers import ARTIFACTS, budget_limits, snapshot
from searchapp.storage import media_path, search_dir
from searchapp.tasks.search import EventRecorder

ARCH = {"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}
FILES = {
    "pt": "model.pt",
    "onnx": "model.onnx",
    "json": "result.json",
    "int8_onnx": "model_int8.onnx",
    "int8_tflite": "model_int8.tflite",
    "c_source": "model_data.cc",
    "c_header": "model_data.h",
}
EXPORTS = {  # as searchapp/nas/export.py writes result.json's "exports"
    "pt": {"file": "model.pt", "bytes": 50000, "precision": "float32", "test_acc": 80.0},
    "onnx": {"file": "model.onnx", "bytes": 40960, "test_acc": 80.0, "latency_ms": 0.52},
    "int8_onnx": {
        "file": "model_int8.onnx",
        "bytes": 12288,
        "precision": "int8",
        "test_acc": 79.5,
        "latency_ms": 0.31,
        "vs_float32": -0.5,
        "flag": None,
    },
    "int8_tflite": {
        "file": "model_int8.tflite",
        "bytes": 10240,
        "precision": "int8",
        "test_acc": 77.5,
        "latency_ms": 0.4,
        "vs_float32": -2.5,
        "flag": "int8 loses 2.5 points",
    },
    "c_source": {"file": "model_data.cc", "error": "xxd failed"},
    "c_header": {"file": "model_data.h", "bytes": 300},
}


@pytest.fixture
def search(alice, dataset):
    return Search.objects.create(owner=alice, dataset=dataset, settings={}, status="running")


def cand(search, index, **kw):
    fields = dict(phase="depth", arch=ARCH, params=1000 + index, macs=5000, status="ok")
    return Candidate.objects.create(search=search, index=index, **(fields | kw))


@pytest.fixture
def finished(search):
    folder = search_dir(search.pk)
    folder.mkdir(parents=True, exist_ok=True)
    outputs = {}
    for kind, name in FILES.items():
        (folder / name).write_bytes(f"{kind} bytes".encode())
        outputs[kind] = (folder / name).relative_to(media_path("").resolve()).as_posix()
    search.outputs = outputs
    search.exports = EXPORTS
    search.status = "finished"
    search.wall_seconds, search.train_seconds = 754.0, 2 * 3600 + 60
    search.best = cand(search, 0, accepted=True, test_acc=80.0, ram_kb=12.34, flash_kb=56.78)
    search.save()
    return search


@pytest.mark.parametrize("kind", list(FILES))
def test_each_artifact_downloads_with_its_name_and_type(alice_client, finished, kind):
    r = alice_client.get(f"/searches/{finished.pk}/download/{kind}/")
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == f"{kind} bytes".encode()
    name, content_type, _ = ARTIFACTS[kind]
    assert r["Content-Type"] == content_type
    assert f'filename="{name.format(pk=finished.pk)}"' in r["Content-Disposition"]
    assert alice_client.get(f"/api/searches/{finished.pk}/weights/{kind}/").status_code == 200


def test_the_c_files_keep_the_names_the_source_includes(alice_client, finished):
    r = alice_client.get(f"/searches/{finished.pk}/download/c_header/")
    assert 'filename="model_data.h"' in r["Content-Disposition"]
    assert r["Content-Type"].startswith("text/")


def test_a_kind_the_search_has_not_got_or_an_unknown_kind_is_404(alice_client, bob_client, search):
    search.outputs = {"pt": "nowhere/model.pt"}  # named, but the file is gone
    search.status = "finished"
    search.save()
    for kind in ("pt", "int8_tflite", "c_source", "exe", "PT"):
        r = alice_client.get(f"/searches/{search.pk}/download/{kind}/")
        assert r.status_code == 404, kind
    assert alice_client.get(f"/searches/{search.pk}/download/../").status_code == 404
    assert bob_client.get(f"/searches/{search.pk}/download/pt/").status_code == 404


def test_the_finished_page_lists_exports_float32_beside_int8_and_flags_a_loss(
    alice_client, finished
):
    r = alice_client.get(f"/searches/{finished.pk}/")
    html = r.content.decode()
    rows = r.context["exports"]
    names = [e["name"] for e in rows]
    assert names == ["pt", "onnx", "int8_onnx", "int8_tflite", "c_source", "c_header"]
    assert [e["name"] for e in rows if e["flag"]] == ["int8_tflite"]
    assert [e["loss"] for e in rows] == [None, None, 0.5, 2.5, None, None]
    assert "loses more than 1 point" in html and "failed: xxd failed" in html
    assert "40.0 KB" in html and "0.52 ms" in html
    for kind in ("json", "int8_onnx", "int8_tflite", "c_source", "c_header"):
        assert f'id="download-{kind}"' in html
        assert f"/searches/{finished.pk}/download/{kind}/" in html
    # wall time and summed training time in the summary
    assert "12m 34s" in html and "2h 01m" in html
    data = snapshot(finished)["search"]
    assert data["wall_seconds"] == 754.0 and data["train_seconds"] == 7260
    assert set(data["downloads"]) == set(FILES)


def test_the_table_has_ram_flash_macs_and_marks_over_budget_and_speculative(alice_client, search):
    cand(search, 0, test_acc=70.0, ram_kb=12.34, flash_kb=56.78, macs=123456)
    cand(search, 1, status="over_budget", ram_kb=900.0, reason="peak RAM 900.0 KB > 256 KB")
    cand(search, 2, test_acc=71.0, speculative=True, worker="gpu-1")
    html = alice_client.get(f"/searches/{search.pk}/").content.decode()
    for header in ("RAM <small>(KB, int8)</small>", "Flash <small>(KB, int8)</small>", "MACs"):
        assert header in html
    assert "12.3 KB" in html and "56.8 KB" in html and "123,456" in html
    assert 'class=" over-budget"' in html and "over budget" in html
    assert "peak RAM 900.0 KB &gt; 256 KB" in html
    assert 'class=" speculative"' in html and "ok · speculative" in html
    assert 'id="chart-axis"' in html and '<option value="flash_kb">' in html


def test_the_budget_reaches_the_page(alice_client, search):
    search.settings = {"max_ram_kb": 256, "max_params": 50000}
    search.save()
    r = alice_client.get(f"/searches/{search.pk}/")
    assert r.context["budget"] == {"ram_kb": 256.0, "params": 50000.0}
    assert r.context["snapshot"]["search"]["budget"] == {"ram_kb": 256.0, "params": 50000.0}
    assert "peak RAM (KB, int8) ≤ 256" in r.content.decode()
    assert budget_limits({}) == {}


def test_candidates_in_flight_and_a_candidate_finished_twice(alice_client, search):
    record = EventRecorder(search.pk)
    for index, worker in ((0, "w-a"), (1, "w-b"), (2, "w-c")):
        record({"type": "candidate.started", "index": index, "phase": "depth", "arch": ARCH,
                "params": 100 + index, "macs": 10, "ram_kb": 4.5, "flash_kb": 9.0,
                "worker": worker})  # fmt: skip
    record({"type": "candidate.epoch", "index": 1, "epoch": 2, "epochs": 5, "loss": 0.5})
    record({"type": "candidate.epoch", "index": 0, "epoch": 1, "epochs": 5, "loss": 0.7})
    assert Candidate.objects.get(search=search, index=1).progress["epoch"] == 2
    r = alice_client.get(f"/searches/{search.pk}/")
    flight = r.context["in_flight"]
    assert [(f["index"], f["worker"], f["epoch"]) for f in flight] == [
        (0, "w-a", 1),
        (1, "w-b", 2),
        (2, "w-c", 0),
    ]
    html = r.content.decode()
    assert "3 candidates training now" in html and "epoch 2/5" in html and "w-c" in html

    done = {"index": 1, "phase": "depth", "arch": ARCH, "params": 101, "test_acc": 66.0,
            "status": "ok", "worker": "w-b", "reason": "trained ahead; waiting for its turn"}  # fmt: skip
    record({"type": "candidate.finished", "candidate": done})
    record({"type": "candidate.finished", "candidate": done | {"speculative": True, "reason": ""}})
    rows = Candidate.objects.filter(search=search, index=1)
    assert rows.count() == 1
    c = rows.get()
    assert c.speculative and c.worker == "w-b" and c.progress == {}
    snap = snapshot(Search.objects.get(pk=search.pk))
    assert [f["index"] for f in snap["in_flight"]] == [0, 2]
    assert [c["index"] for c in snap["candidates"]] == [1]
    assert snap["candidates"][0]["speculative"] is True

    record({"type": "search.finished", "wall_seconds": 12.5, "train_seconds": 30.0})
    search.refresh_from_db()
    assert (search.wall_seconds, search.train_seconds) == (12.5, 30.0)


def test_started_records_ram_and_flash_columns(search):
    EventRecorder(search.pk)(
        {
            "type": "candidate.started",
            "index": 0,
            "phase": "depth",
            "arch": ARCH,
            "params": 1,
            "macs": 2,
            "ram_kb": 4.5,
            "flash_kb": 9.25,
            "worker": "w",
        }  # fmt: skip
    )
    c = Candidate.objects.get(search=search, index=0)
    assert (c.ram_kb, c.flash_kb, c.worker, c.status) == (4.5, 9.25, "w", "running")
    rec = c.as_record()
    assert (rec.ram_kb, rec.flash_kb, rec.worker) == (4.5, 9.25, "w")
