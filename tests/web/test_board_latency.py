"""The board latency on the web: the candidate table's column (server row and the template the
sockets fill), the chart's x-axis choice, the API's figure and note, and its refusal without a
board."""

from __future__ import annotations

import json

from searchapp.nas.config import SearchConfig
from searchapp.nas.space import Arch


def plain(depth, width):
    return Arch(depth, width, ("sep",) * depth, (3,) * depth)


def _search_with_a_candidate(alice, dataset, target):
    from searchapp.models import Candidate, Search

    settings = SearchConfig.from_dict({"target": target}).to_dict()
    s = Search.objects.create(owner=alice, dataset=dataset, settings=settings, status="finished")
    arch = plain(3, 8).to_dict()
    latency_ms = 12.345 if target != "none" else None
    Candidate.objects.create(
        search=s, index=0, phase="depth", arch=arch, params=1000, test_acc=70.0, status="ok",
        record={"board_latency_ms": latency_ms},
    )  # fmt: skip
    return s


def test_the_page_and_the_api_show_the_board_latency(alice, alice_client, dataset):
    s = _search_with_a_candidate(alice, dataset, "nano33ble")
    html = alice_client.get(f"/searches/{s.pk}/").content.decode()
    row = html.split('<tr data-index="0"', 1)[1].split("</tr>", 1)[0]
    assert '<td data-label="Board latency" class="more" data-field="board_latency_ms" data-format="ms">12.35 ms</td>' in row
    template = html.split('<template id="candidate-row">', 1)[1].split("</template>", 1)[0]
    assert 'data-field="board_latency_ms" data-format="ms"' in template  # what sockets append
    assert 'title="estimate ±35%: TFLM + CMSIS-NN on the nRF52840 at 64 MHz' in html
    assert '<option value="board_latency_ms">board latency (ms, estimate)</option>' in html
    body = alice_client.get(f"/api/searches/{s.pk}/").json()["search"]
    assert body["candidates"][0]["board_latency_ms"] == 12.345
    assert body["board_latency_note"].startswith("estimate ±35%")
    r = alice_client.post(
        "/api/searches/",
        json.dumps({"dataset": dataset.pk, "max_latency_ms": 50}),
        content_type="application/json",
    )
    assert r.status_code == 400 and "needs a board" in r.json()["errors"]["max_latency_ms"][0]


def test_without_a_board_there_is_no_latency_axis(alice, alice_client, dataset):
    s = _search_with_a_candidate(alice, dataset, "none")
    html = alice_client.get(f"/searches/{s.pk}/").content.decode()
    assert 'value="board_latency_ms"' not in html
    row = html.split('<tr data-index="0"', 1)[1].split("</tr>", 1)[0]
    assert 'data-field="board_latency_ms" data-format="ms">–</td>' in row
    assert alice_client.get(f"/api/searches/{s.pk}/").json()["search"]["board_latency_note"] == ""


def test_the_live_row_has_the_latency_from_the_start_and_keeps_it(alice_client, alice, dataset):
    from searchapp.models import Search
    from searchapp.nas.record import CandidateRecord
    from searchapp.tasks.search import EventRecorder

    settings = SearchConfig.from_dict({"target": "esp32s3"}).to_dict()
    s = Search.objects.create(owner=alice, dataset=dataset, settings=settings, status="running")
    rec = CandidateRecord(0, "depth", plain(3, 8).to_dict(), params=10, board_latency_ms=3.5)
    recorder = EventRecorder(s.pk)
    sent = recorder.started(s, {"type": "candidate.started", **rec.started()})
    assert sent["candidate"]["board_latency_ms"] == 3.5  # what the socket appends
    rec.status, rec.test_acc = "ok", 60.0
    recorder({"type": "candidate.finished", "candidate": rec.to_dict()})
    body = alice_client.get(f"/api/searches/{s.pk}/").json()["search"]
    assert body["candidates"][0]["board_latency_ms"] == 3.5
    html = alice_client.get(f"/searches/{s.pk}/").content.decode()
    assert 'data-field="board_latency_ms" data-format="ms">3.50 ms</td>' in html


def test_the_form_takes_the_latency_limit_and_refuses_one_nothing_meets(alice_client, dataset):
    from searchapp.forms import search_form_from_dict

    ok = {"dataset": dataset.pk, "target": "nano33ble", "max_latency_ms": 5000}
    form = search_form_from_dict(ok, dataset.owner)
    assert form.is_valid(), form.errors
    assert form.config["max_latency_ms"] == 5000
    tight = search_form_from_dict(ok | {"max_latency_ms": 0.01}, dataset.owner)
    assert not tight.is_valid()
    assert "latency on nano33ble" in tight.errors["max_latency_ms"][0]
    html = alice_client.get(f"/searches/new/?dataset={dataset.pk}").content.decode()
    assert 'name="max_latency_ms"' in html
