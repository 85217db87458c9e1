"""How the search page lays out what it shows: the candidates table's columns (the server's rows and
the script's template alike), the progress line before the first epoch, the chart's log-axis
labels, and the Baselines table's Mini-NAS row with the final model beside the search."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from searchapp.models import Candidate
from searchapp.templatetags import mininas

ROOT = Path(__file__).resolve().parents[2]
ARCH = {"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}
needs_node = pytest.mark.skipif(not shutil.which("node"), reason="no node to run the scripts")


def node(script: str, *args: str) -> object:
    out = subprocess.run(
        ["node", "-e", script, *args], capture_output=True, text=True, check=True, timeout=30
    )
    return json.loads(out.stdout)


@pytest.fixture
def finished(search):
    best = Candidate.objects.create(
        search=search, index=0, phase="depth", arch=ARCH, params=20_000, test_acc=69.0,
        status="ok", accepted=True, device="cpu", reason="depth 3: the first one: accept",
        record={"val_acc": 70.0, "val_ci95": [50.1, 84.6], "test_ci95": [55.31, 73.65]},
    )  # fmt: skip
    search.status, search.best = "finished", best
    search.final = {"test_acc": 71.0, "test_ci95": [60.0, 80.0], "epochs": 15, "recipe": "fast"}
    search.save()
    return search


def element(html: str, dom_id: str, tag: str) -> str:
    return html.split(f'id="{dom_id}"', 1)[1].split(f"</{tag}>", 1)[0]


def cells(row: str) -> list[str]:
    """The class attribute of each <th>/<td> of one row ("" without one)."""
    tags = re.findall(r"<t[hd]\b[^>]*>", row)
    return [next(iter(re.findall(r'class="([^"]*)"', tag)), "") for tag in tags]


def test_the_mininas_baseline_row_shows_the_final_model_with_the_search_in_details(alice_client, finished):
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    row = element(html, "baseline-mininas", "tr")
    assert "69.00%" in row and "71.00%" in row
    assert row.index("71.00%") < row.index("<details>") < row.index("69.00%")  # headline first
    assert "final model" in row and 'class="final-acc" data-show="final.test_acc">' in row


def test_without_a_final_model_the_mininas_row_shows_the_search_only(alice_client, finished):
    finished.final = {}
    finished.save()
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    row = element(html, "baseline-mininas", "tr")
    assert "69.00%" in row
    assert 'class="final-acc" data-show="final.test_acc" hidden>' in row


def test_the_candidate_rows_have_the_headers_columns(alice_client, finished):
    """Server-rendered rows and the <template> the script clones have one cell per header, and
    the cells behind the "All columns" box are the same columns in each."""
    html = alice_client.get(f"/searches/{finished.pk}/").content.decode()
    table = element(html, "candidates-table", "table")
    head = cells(table.split("<thead>", 1)[1].split("</thead>", 1)[0])
    rendered = cells(table.split('<tr data-index="0"', 1)[1].split("</tr>", 1)[0])
    template = cells(element(html, "candidate-row", "template"))
    more = [i for i, c in enumerate(head) if "more" in c.split()]
    assert len(head) == len(rendered) == len(template) == 16
    assert 4 <= len(more) <= len(head) - 6  # the table fits at 1280 px without them
    for row in (rendered, template):
        assert [i for i, c in enumerate(row) if "more" in c.split()] == more
    assert 'id="all-columns"' in html and 'aria-controls="candidates-table"' in html
    assert 'title="depth 3: the first one: accept"' in table  # a reason cut short has its tooltip


def test_the_progress_line_says_starting_until_the_first_epoch():
    assert mininas.progress({"index": 3, "phase": "depth", "epoch": 0}) == (
        "Training #3 (depth): starting…"
    )
    assert mininas.progress({"index": 3, "phase": "depth"}) == "Training #3 (depth): starting…"
    assert mininas.progress({"index": 3, "phase": "op", "epoch": 2}) == "Training #3 (op): epoch 2"
    final = mininas.progress({"phase": "final", "epoch": 0, "epochs": 15})
    assert final == "Final training of the chosen network: starting…"
    assert mininas.epochof({"epoch": 1}) == "epoch 1"
    assert "?" not in mininas.progress({"index": 1, "phase": "width", "epoch": 0, "epochs": None})


FORMATS = """
import(process.argv[1]).then((f) => console.log(JSON.stringify(
  JSON.parse(process.argv[2]).map(([name, value]) => f[name](value)))));
"""


@needs_node
def test_the_script_says_starting_as_the_server_does():
    cases = [
        ("progress", {"index": 3, "phase": "depth", "epoch": 0}),
        ("progress", {"index": 3, "phase": "depth"}),
        ("progress", {"index": 3, "phase": "op", "epoch": 2}),
        ("progress", {"phase": "final", "epoch": 0, "epochs": 15}),
        ("progress", {"phase": "final", "epoch": 4, "epochs": 15}),
        ("epochof", {"epoch": 1}),
        ("epochof", {"epoch": 0, "epochs": 5}),
    ]
    url = (ROOT / "static" / "js" / "format.js").as_uri()
    in_js = node(FORMATS, url, json.dumps(cases))
    assert in_js == [getattr(mininas, name)(value) for name, value in cases]


TICKS = """
import(process.argv[1]).then(({ logTick }) => console.log(JSON.stringify(
  JSON.parse(process.argv[2]).map((values) => {
    const ticks = values.map((value) => ({ value }));
    return ticks.map((t, i) => logTick(t.value, i, ticks));
  }))));
"""


@needs_node
def test_the_log_axis_labels_only_round_values_compactly():
    ranges = [
        [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 20000, 30000, 50000, 100000],
        [2002, 2100, 2200, 2300, 2500, 3000, 3500, 4000, 5000, 6000],
        [1200, 1300, 1400, 1500],
        [90, 100, 200, 500, 1_000_000, 1_500_000, 2_000_000],
    ]
    url = (ROOT / "static" / "js" / "chart.js").as_uri()
    labels = node(TICKS, url, json.dumps(ranges))
    assert labels[0] == ["1k", "2k", "", "", "5k", "", "", "", "", "10k", "20k", "", "50k", "100k"]
    assert labels[1] == ["", "", "", "", "", "3k", "", "4k", "5k", "6k"]  # 1-9 x 10^k: few 1/2/5
    assert labels[2] == ["1.2k", "1.3k", "1.4k", "1.5k"]  # a narrow range: every tick
    assert labels[3] == ["", "100", "200", "500", "1M", "", "2M"]
