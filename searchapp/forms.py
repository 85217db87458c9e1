"""The search form, generated from the engine's settings; the engine has the last word."""

from __future__ import annotations

from django import forms

from searchapp.nas.config import SETTINGS, SearchConfig
from searchapp.nas.settings import Setting, SettingError

from .models import Dataset

DATASET_CHANNELS = 3  # stored datasets are RGB (uploads and derived sets are re-encoded so)


class DatasetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Dataset) -> str:
        size = obj.image_size
        return f"{obj.name} (#{obj.pk}: {obj.num_classes} classes, {size}x{size} px)"


def form_field(s: Setting) -> forms.Field:
    """The form field of one engine setting: its label, help, bounds and choices."""
    common = {"label": s.label, "help_text": s.help, "required": not s.optional}
    if s.kind is bool:  # a checkbox: unticked is False, never "required"
        return forms.BooleanField(initial=s.default, **(common | {"required": False}))
    if s.multiple:
        return forms.MultipleChoiceField(
            choices=[(str(v), label) for v, label in s.choices],
            initial=[str(v) for v in s.default],
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if s.choices:
        blank = [("", s.blank_label)] if s.optional else []
        return forms.ChoiceField(
            choices=blank + [(str(v), label) for v, label in s.choices],
            initial="" if s.default is None else str(s.default),
            **common,
        )
    field_class = {int: forms.IntegerField, float: forms.FloatField}.get(s.kind, forms.CharField)
    bounds = {}
    if s.kind is not str:
        bounds = {"min_value": s.lo, "max_value": s.hi}
    if s.optional and s.blank_label:
        common["help_text"] = s.help or f"Blank: {s.blank_label}."
    return field_class(initial=s.default, **bounds, **common)


class SearchForm(forms.Form):
    """A dataset and every search setting (generated from the engine's SETTINGS)."""

    dataset = DatasetChoiceField(queryset=Dataset.objects.none(), empty_label=None)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = (
            Dataset.objects.filter(owner=user) if user else (Dataset.objects.none())
        )
        self.config: dict | None = None

    def advanced_fields(self) -> list:
        return [self[s.name] for s in SETTINGS if s.advanced]

    def main_fields(self) -> list:
        return [self[s.name] for s in SETTINGS if not s.advanced]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        raw = {s.name: data.get(s.name) for s in SETTINGS}
        # blank: the dataset's own default (derived Tiny-ImageNet upscales: "imagenet")
        raw["stem"] = data.get("stem") or getattr(data.get("dataset"), "stem", "") or None
        try:
            config = SearchConfig.from_dict(raw)
            dataset = data.get("dataset")
            if dataset is not None and dataset.image_size:  # a budget nothing fits: refused
                config.check_space(
                    DATASET_CHANNELS, dataset.image_size, max(2, dataset.num_classes)
                )
            self.config = config.to_dict()
        except SettingError as exc:  # BudgetError too: it names the limit
            self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        return data


# One field per engine setting, after the dataset, in the settings' order.
SearchForm.base_fields.update({s.name: form_field(s) for s in SETTINGS})


def config_from_form(form: SearchForm) -> dict:
    assert form.config is not None, "call is_valid() first"
    return form.config


class PlainData(dict):
    """A dict that answers getlist(), as the widgets of multiple-choice fields expect."""

    def getlist(self, key):
        value = self.get(key)
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def search_form_from_dict(payload: dict, user) -> SearchForm:
    """A bound SearchForm from an API or command-line dict; settings left out take defaults.

    The accepted keys are the form's fields (the dataset and the engine's settings); any other
    key is refused, so a typo never silently runs a search with a default.
    """
    data = PlainData()
    for name, field in SearchForm.base_fields.items():
        value = payload.get(name, field.initial)
        if value is not None:
            data[name] = value
    form = SearchForm(data, user=user)
    unknown = sorted(set(payload) - set(SearchForm.base_fields))
    if unknown:
        form.is_valid()
        form.add_error(None, f"unknown setting {unknown[0]!r}")
    return form
