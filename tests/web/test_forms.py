import pytest

from searchapp.forms import SearchForm, search_form_from_dict
from searchapp.nas import search as engine


def test_the_defaults_make_a_valid_paper_search(alice, dataset):
    form = search_form_from_dict({"dataset": dataset.pk}, alice)
    assert form.is_valid(), form.errors
    cfg = form.config
    assert (cfg["min_depth"], cfg["max_depth"]) == (3, 15)
    assert (cfg["min_width"], cfg["max_width"], cfg["width_step"]) == (16, 64, 16)
    assert (cfg["l_gain"], cfg["l_drop"], cfg["c_drop"]) == (0.5, 0.25, 0.5)
    assert cfg["recipe"] == "fast" and cfg["epochs"] is None and cfg["target_acc"] is None


def test_it_rejects_a_width_step_larger_than_the_width(alice, dataset):
    form = search_form_from_dict({"dataset": dataset.pk, "width_step": 128}, alice)
    assert not form.is_valid()
    assert "width_step" in form.errors


@pytest.mark.parametrize(
    "message, field",
    [("l_drop must be between 0 and 100", "l_drop"), ("something odd happened", "__all__")],
)
def test_engine_errors_land_on_the_field_they_name(alice, dataset, monkeypatch, message, field):
    def refuse(data):
        raise ValueError(message)

    monkeypatch.setattr(engine.SearchConfig, "from_dict", staticmethod(refuse))
    form = search_form_from_dict({"dataset": dataset.pk}, alice)
    assert not form.is_valid()
    assert form.errors[field] == [message]


def test_it_needs_a_user_to_offer_datasets(dataset):
    assert list(SearchForm().fields["dataset"].queryset) == []
