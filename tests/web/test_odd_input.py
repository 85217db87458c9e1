"""Odd numbers in URLs and query strings get a page or a 404, never a 500."""

import pytest

ODD = ["²", "٣", "99999999999999999999", str(2**63), "-1", "1e309", "nan", "0x1", " 1", ""]
PAGES = [
    "/searches/?dataset={v}&page={v}&min_acc={v}",
    "/searches/new/?dataset={v}",
    "/searches/compare/?ids={v}&ids=1",
    "/report/?search={v}",
    "/report/csv/?search={v}",
    "/report/json/?search={v}",
]


@pytest.mark.parametrize("value", ODD)
@pytest.mark.parametrize("page", PAGES)
def test_odd_query_values_never_answer_500(alice_client, dataset, page, value):
    r = alice_client.get(page.format(v=value))
    assert r.status_code in (200, 400, 404), (page, value, r.status_code)


@pytest.mark.parametrize(
    "url",
    [
        "/searches/{v}/",
        "/datasets/{v}/",
        "/searches/{v}/test-images/{v}.png",
        "/api/searches/{v}/",
        "/api/datasets/{v}/",
    ],
)
@pytest.mark.parametrize("value", [str(2**63), str(2**64 + 5), "9" * 40])
def test_ids_past_a_64_bit_column_are_a_404(alice_client, url, value):
    assert alice_client.get(url.format(v=value)).status_code == 404
