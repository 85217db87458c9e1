"""The search form: paper bounds and thresholds, fast recipe; the engine has the last word."""

from __future__ import annotations

import re

from django import forms

from .models import Dataset

OP_CHOICES = [("sep", "sep (depthwise + pointwise)"), ("conv", "conv (plain)")]
KERNEL_CHOICES = [("3", "3x3"), ("5", "5x5"), ("7", "7x7")]
RECIPE_CHOICES = [("fast", "fast (default)"), ("paper", "paper (300 epochs, slow)")]
DEVICE_CHOICES = [("auto", "auto"), ("cuda", "cuda"), ("cpu", "cpu")]
STEM_CHOICES = [("", "auto (from image size)"), ("cifar", "cifar"), ("imagenet", "imagenet")]

# Fields that go into SearchConfig, in the order errors are matched against engine messages.
CONFIG_FIELDS = (
    "min_depth",
    "max_depth",
    "min_width",
    "max_width",
    "width_step",
    "ops",
    "kernels",
    "l_gain",
    "l_drop",
    "c_drop",
    "target_acc",
    "recipe",
    "epochs",
    "seed",
    "device",
    "stem",
    "batch_size",
)


class DatasetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Dataset) -> str:
        size = obj.image_size
        return f"{obj.name} (#{obj.pk}: {obj.num_classes} classes, {size}x{size} px)"


class SearchForm(forms.Form):
    dataset = DatasetChoiceField(queryset=Dataset.objects.none(), empty_label=None)
    min_depth = forms.IntegerField(initial=3, min_value=1, max_value=30)
    max_depth = forms.IntegerField(initial=15, min_value=1, max_value=30)
    min_width = forms.IntegerField(initial=16, min_value=4, max_value=512)
    max_width = forms.IntegerField(initial=64, min_value=4, max_value=512)
    width_step = forms.IntegerField(initial=16, min_value=1, max_value=512)
    ops = forms.MultipleChoiceField(
        choices=OP_CHOICES, initial=["sep", "conv"], widget=forms.CheckboxSelectMultiple
    )
    kernels = forms.MultipleChoiceField(
        choices=KERNEL_CHOICES, initial=["3", "5", "7"], widget=forms.CheckboxSelectMultiple
    )
    l_gain = forms.FloatField(initial=0.5, min_value=0, max_value=100, label="Depth gain (L_gain)")
    l_drop = forms.FloatField(initial=0.25, min_value=0, max_value=100, label="Depth drop (L_drop)")
    c_drop = forms.FloatField(initial=0.5, min_value=0, max_value=100, label="Width drop (C_drop)")
    target_acc = forms.FloatField(
        required=False, min_value=0, max_value=100, label="Target accuracy (%)"
    )
    recipe = forms.ChoiceField(choices=RECIPE_CHOICES, initial="fast")
    epochs = forms.IntegerField(
        required=False, min_value=1, max_value=1000, help_text="Blank: the recipe's default."
    )
    seed = forms.IntegerField(initial=0, min_value=0, max_value=2**31 - 1)
    device = forms.ChoiceField(choices=DEVICE_CHOICES, initial="auto")
    stem = forms.ChoiceField(choices=STEM_CHOICES, initial="", required=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = (
            Dataset.objects.filter(owner=user) if user else (Dataset.objects.none())
        )
        self.config: dict | None = None

    def clean(self):
        data = super().clean()
        pairs = (("min_depth", "max_depth"), ("min_width", "max_width"))
        for lo, hi in pairs:
            if data.get(lo) is not None and data.get(hi) is not None and data[lo] > data[hi]:
                self.add_error(hi, f"must be at least {lo.replace('_', ' ')} ({data[lo]})")
        step = data.get("width_step")
        if step and data.get("max_width") and step > data["max_width"]:
            self.add_error("width_step", "must not exceed the maximum width")
        if self.errors:
            return data
        self.config = self._engine_config(data)
        return data

    def _engine_config(self, data: dict) -> dict | None:
        """Let the engine's SearchConfig judge the settings; map its message to a field."""
        from searchapp.nas.search import SearchConfig

        raw = {k: data.get(k) for k in CONFIG_FIELDS if k in self.fields}
        raw["ops"] = list(data.get("ops") or [])
        raw["kernels"] = [int(k) for k in data.get("kernels") or []]
        # blank: the dataset's own default (derived Tiny-ImageNet upscales: "imagenet")
        raw["stem"] = data.get("stem") or getattr(data.get("dataset"), "stem", "") or None
        try:
            return SearchConfig.from_dict(raw).to_dict()
        except (ValueError, TypeError) as exc:
            message = str(exc)
            self.add_error(_field_for(message, self.fields), message)
            return None


def _field_for(message: str, fields) -> str | None:
    """The form field an engine error names, or None (a form-wide error)."""
    for name in CONFIG_FIELDS:
        if name in fields and re.search(rf"\b{name}\b", message):
            return name
    return None


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
    """A bound SearchForm from an API or command-line dict; fields left out take defaults."""
    data = PlainData()
    for name, field in SearchForm.base_fields.items():
        value = payload.get(name, field.initial)
        if value is not None:
            data[name] = value
    return SearchForm(data, user=user)
