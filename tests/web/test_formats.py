"""static/js/format.js and the template filters of searchapp/templatetags/mininas.py give the same
text, so that rows rendered by the server and rows rendered from socket events look alike."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.template import defaultfilters

from searchapp.templatetags import mininas

ROOT = Path(__file__).resolve().parents[2]
FORMAT_JS = ROOT / "static" / "js" / "format.js"
CASES = [
    ("dash", [None, "", "depth"]),
    ("num", [None, "", 0, 7, 1234, 2_236_682]),
    ("pct", [None, 0, 12.345, 0.125, 61.0, 99.999, 100]),
    ("seconds", [None, 0.04, 4.26, 9.96, 12.5, 59.6, 754, 3599.7, 7260]),
    ("times", [None, 0, 1.05, 111.8341]),
    ("px", [None, 224]),
    ("clip", [None, "short", "x" * 300, "y" * 301]),
    ("epochs", [None, {}, {"epoch": 2, "epochs": 5, "test_acc": 50.0}, {"epoch": 1, "epochs": 3}]),
    ("progress", [None, {}, {"index": 3, "phase": "depth", "epoch": 0}]),
    ("progress", [{"index": 1, "phase": "width", "epoch": 2, "epochs": 4, "test_acc": 55.555}]),
    ("progress", [{"index": 2, "phase": "op", "epoch": 1, "epochs": 4, "val_acc": 61.0}]),
    ("progress", [{"phase": "final", "epoch": 3, "epochs": 15, "train_acc": 80.0}]),
    ("score", [None, {"params": 1000, "test_acc": 70.0}]),
    ("counts", [None, {}, {"created": 21, "skipped": 10}]),
    ("problem", [None, {"name": "CIFAR-10", "status": "skipped", "message": "no archive"}]),
    ("yesno", [True, False, "", "/datasets/1/"]),
    ("split", [None, "validation", "test"]),
    ("valacc", [None, {"test_acc": 50.0}, {"val_acc": 70.0, "val_ci95": [50.1, 84.6]}]),
    ("finalacc", [None, {}, {"test_acc": 81.5}, {"test_acc": 81.5, "test_ci95": [72.04, 88.33]}]),
    ("confidence", [None, 0.5, 0.934, 1]),
    ("ci", [None, [], [61.25, 70.349], [0, 100], [None, 3]]),
    ("pctci", [None, {"test_acc": 65.0}, {"test_acc": 65.0, "test_ci95": [55.31, 73.65]}]),
    ("kb", [None, 0, 12.345, 0.05, 1024.25]),
    ("candstatus", [None, {"status": "ok"}, {"status": "over_budget"}]),
    ("candstatus", [{"status": "ok", "speculative": True}, {"status": "diverged"}]),
    ("epochof", [None, {"epoch": 0}, {"epoch": 2, "epochs": 5, "test_acc": 50.0}, {"epoch": 1}]),
    ("ms", [None, 0, 1.234, 12.005]),
    ("filesize", [None, 0, 512, 2048, 123456, 3145728]),
]
RUN_JS = """
const [url, cases] = [process.argv[1], JSON.parse(process.argv[2])];
import(url).then((f) => console.log(JSON.stringify(cases.map(([name, values]) => values.map(f[name])))));
"""


def python_filter(name: str):
    return getattr(defaultfilters, name) if name == "yesno" else getattr(mininas, name)


@pytest.mark.skipif(not shutil.which("node"), reason="no node to run format.js")
def test_the_scripts_format_values_as_the_templates_do():
    out = subprocess.run(
        ["node", "-e", RUN_JS, FORMAT_JS.as_uri(), json.dumps(CASES)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    in_js = json.loads(out.stdout)
    for (name, values), js_texts in zip(CASES, in_js, strict=True):
        for value, js_text in zip(values, js_texts, strict=True):
            assert python_filter(name)(value) == js_text, (name, value)


def test_every_format_a_template_names_exists_on_both_sides():
    exported = set(re.findall(r"export (?:const|function) (\w+)", FORMAT_JS.read_text()))
    used = set()
    for page in (ROOT / "templates").rglob("*.html"):
        used |= set(re.findall(r'data-format="(\w+)"', page.read_text()))
    assert used, "no template names a format"
    assert used <= exported, used - exported
    for name in used:
        assert callable(python_filter(name)), name


def test_an_accuracy_is_shown_with_the_interval_the_record_gives_it():
    rec = {"test_acc": 65.0, "test_ci95": [55.31, 73.65], "val_acc": 70.0, "val_ci95": [50.1, 84.6]}
    assert mininas.pctci(rec) == "65.00% (95% CI 55.3–73.7)"
    assert "50.1" in mininas.pctci(rec, "val_acc")
