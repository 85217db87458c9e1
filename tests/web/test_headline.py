"""The headline result (searchapp/headline.py): which file's accuracy it is, the same figure on
the list, the search page and compare, the deploy card's fit verdict and the download-all zip."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from searchapp.headline import headline
from searchapp.serializers import budget_limits, downloads
from searchapp.storage import media_path, search_dir
from tests.builders import make_finished_search


def deploy(search):
    from searchapp.headline import deploy as card

    return card(search, downloads(search), budget_limits(search.settings))


INT8 = {"file": "model_int8.tflite", "bytes": 13576, "precision": "int8", "test_acc": 72.0,
        "test_ci95": [67.0, 76.0], "vs_float32": 1.0}  # fmt: skip
TFLM = {"file": "model_int8.tflite", "precision": "int8", "arena_bytes": 70904, "test_acc": 71.5,
        "test_ci95": [66.5, 75.5], "fits": {"ok": False}}  # fmt: skip
ONNX = {"file": "model.onnx", "bytes": 40960, "precision": "float32", "test_acc": 71.0}


def with_files(search, kinds=("onnx", "pt", "int8_tflite", "c_source")):
    """Write one small file per download kind where the job writes them."""
    folder = search_dir(search.pk)
    folder.mkdir(parents=True, exist_ok=True)
    names = {"onnx": "model.onnx", "pt": "model.pt", "int8_tflite": "model_int8.tflite",
             "c_source": "model_data.cc", "arduino": "model_arduino.zip"}  # fmt: skip
    outputs = {}
    for kind in kinds:
        (folder / names[kind]).write_bytes(f"{kind} bytes".encode())
        outputs[kind] = (folder / names[kind]).relative_to(media_path("").resolve()).as_posix()
    search.outputs = outputs
    search.save()
    return search


@pytest.fixture
def board_search(alice, dataset):
    s = make_finished_search(alice, dataset, accs=(60.0, 69.0), final_acc=71.0)
    s.settings = {"target": "nano33ble"}
    s.exports = {"onnx": ONNX, "int8_tflite": INT8}
    s.save()
    return with_files(s)


def test_the_headline_is_the_int8_tflite_with_a_board(board_search):
    h = headline(board_search)
    assert (h["acc"], h["ci95"], h["file"]) == (72.0, [67.0, 76.0], "int8_tflite")


def test_the_headline_prefers_the_microcontroller_runtimes_own_score(board_search):
    board_search.exports = board_search.exports | {"tflm": TFLM}
    assert headline(board_search)["acc"] == 71.5


def test_a_runtime_score_without_an_interval_gets_wilsons_from_the_test_images(board_search):
    from searchapp.nas.stats import wilson

    n = board_search.dataset.num_test
    tflm = {k: v for k, v in TFLM.items() if k != "test_ci95"} | {"test_acc": 100.0}
    board_search.exports = board_search.exports | {"tflm": tflm}
    h = headline(board_search)
    assert (h["acc"], h["ci95"]) == (100.0, wilson(n, n))
    assert h["ci95"][0] < 100.0 and h["ci95"][1] == 100.0


def test_without_a_board_the_headline_is_the_final_float_model(board_search):
    board_search.settings = {}
    h = headline(board_search)
    assert (h["acc"], h["ci95"], h["file"]) == (71.0, [66.0, 74.0], "onnx")


def test_without_a_final_training_the_headline_is_the_chosen_candidate(alice, dataset):
    s = make_finished_search(alice, dataset, accs=(60.0, 69.0))
    h = headline(s)
    assert (h["acc"], h["ci95"]) == (69.0, [60.0, 76.0])
    assert "no final training" in h["label"]


def test_no_candidate_no_headline(search):
    assert headline(search) is None


def test_the_same_accuracy_on_the_list_the_search_page_and_compare(alice_client, alice, dataset,
                                                                   board_search):  # fmt: skip
    other = make_finished_search(alice, dataset, accs=(50.0, 55.0))
    cell = re.compile(r'class="headline-acc"[^>]*>([0-9.]+%)')
    listed = alice_client.get("/searches/").content.decode()
    row = listed.split(f'<tr data-id="{board_search.pk}">', 1)[1].split("</tr>", 1)[0]
    page = alice_client.get(f"/searches/{board_search.pk}/").content.decode()
    compared = alice_client.get(f"/searches/compare/?ids={board_search.pk}&ids={other.pk}")
    summary = compared.content.decode().split('id="compare-summary"', 1)[1]
    summary = summary.split(f'<tr data-id="{board_search.pk}">', 1)[1].split("</tr>", 1)[0]
    figures = [cell.search(html).group(1) for html in (row, page, summary)]
    assert figures == ["72.00%"] * 3
    baselines = page.split('id="baseline-mininas"', 1)[1].split("</tr>", 1)[0]
    assert cell.search(baselines).group(1) == "72.00%"


def test_the_deploy_card_says_it_does_not_fit_the_board(alice_client, board_search):
    board_search.exports = board_search.exports | {"tflm": TFLM | {"arena_bytes": 300 * 1024}}
    board_search.save()
    card = deploy(board_search)
    assert card["fits"] is False and card["bars"][0]["source"].startswith("measured")
    html = alice_client.get(f"/searches/{board_search.pk}/").content.decode()
    assert "does not fit the board" in html and "fits-no" in html
    assert re.search(r'class="button primary" href="[^"]+/download/int8_tflite/"', html)
    assert "Model for microcontrollers (int8 .tflite)" in html


def test_the_deploy_card_says_it_fits_from_the_candidates_estimate(alice_client, board_search):
    board_search.best.ram_kb, board_search.best.flash_kb = 40.0, 120.0
    board_search.best.save()
    card = deploy(board_search)
    assert card["fits"] is True and card["bars"][0]["source"] == "the search's estimate"
    assert [b["budget_kb"] for b in card["bars"]] == [192.0, 864.0]
    html = alice_client.get(f"/searches/{board_search.pk}/").content.decode()
    assert "✓ fits the board" in html and "does not fit" not in html


def test_without_a_board_the_onnx_is_recommended(board_search):
    board_search.settings = {}
    card = deploy(board_search)
    assert card["primary"]["kind"] == "onnx" and card["fits"] is None


def test_download_all_zips_every_file_for_the_owner_only(alice_client, bob_client, board_search):
    r = alice_client.get(f"/searches/{board_search.pk}/download/all/")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content)))
    pk = board_search.pk
    assert sorted(zf.namelist()) == sorted([f"mininas-search{pk}.onnx", f"mininas-search{pk}.pt",
                                            f"mininas-search{pk}-int8.tflite", "model_data.cc"])  # fmt: skip
    assert zf.read("model_data.cc") == b"c_source bytes"
    assert bob_client.get(f"/searches/{pk}/download/all/").status_code == 404


def test_download_all_without_files_is_a_404(alice_client, alice, dataset):
    s = make_finished_search(alice, dataset)
    assert alice_client.get(f"/searches/{s.pk}/download/all/").status_code == 404
