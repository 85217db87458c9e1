import pytest

from searchapp.forms import SearchForm, search_form_from_dict
from searchapp.nas.config import SETTINGS


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
    "payload, field",
    [
        ({"max_depth": 2}, "max_depth"),  # below min_depth: the engine's cross-field rule
        ({"target_acc": 0}, "target_acc"),  # the form allows 0, the engine's (0, 100] does not
        ({"kernels": []}, "kernels"),
    ],
)
def test_engine_errors_land_on_the_field_they_name(alice, dataset, payload, field):
    form = search_form_from_dict({"dataset": dataset.pk, **payload}, alice)
    assert not form.is_valid()
    assert list(form.errors) == [field]


def test_it_refuses_a_setting_it_does_not_know(alice, dataset):
    form = search_form_from_dict({"dataset": dataset.pk, "max_dept": 5}, alice)
    assert not form.is_valid()
    assert "unknown setting 'max_dept'" in form.errors["__all__"][0]


def test_every_engine_setting_is_a_form_field_with_its_label_and_bounds():
    fields = SearchForm.base_fields
    for s in SETTINGS:
        assert fields[s.name].label == s.label
        if s.lo is not None and not s.choices:
            assert fields[s.name].min_value == s.lo


def test_it_needs_a_user_to_offer_datasets(dataset):
    assert list(SearchForm().fields["dataset"].queryset) == []
