"""The search form, generated from the engine's settings; the engine has the last word."""

from __future__ import annotations

import re

from django import forms
from django.forms.boundfield import BoundField

from searchapp.nas.config import SETTINGS, SearchConfig
from searchapp.nas.folds import MAX_FOLDS
from searchapp.nas.settings import Setting, SettingError

from .estimates import PRESETS, preset_of
from .models import Dataset
from .params import parse_id

DATASET_CHANNELS = 3  # stored datasets are RGB (uploads and derived sets are re-encoded so)


class DatasetChoiceField(forms.ModelChoiceField):
    """The user's ready datasets; one still packing (or failed) is refused with its state."""

    owned = Dataset.objects.none()

    def label_from_instance(self, obj: Dataset) -> str:
        size = obj.image_size
        return f"{obj.name} (#{obj.pk}: {obj.num_classes} classes, {size}x{size} px)"

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError:
            pk = parse_id(str(value).strip())
            other = self.owned.filter(pk=pk).first() if pk is not None else None
            if other is None:
                raise
            if other.status == Dataset.Status.PACKING:
                raise forms.ValidationError(
                    f"dataset “{other.name}” is still being packed; start a search on it once "
                    "its page says it is ready",
                    code="packing",
                ) from None
            raise forms.ValidationError(
                f"dataset “{other.name}” could not be packed ({other.error[:300]}); upload it "
                "again",
                code="failed",
            ) from None


class OpenChoiceField(forms.ChoiceField):
    """A select whose choices are suggestions (the device "cuda:1", folds "7" sent as 7): any
    value passes here, and the engine's check names what is wrong with it."""

    def valid_value(self, value) -> bool:
        return True


# How the decisions read to someone who does not know Algorithm 1: each choice of the rule and
# of the folds in plain words (the engine's values and the field labels stay its own).
PLAIN_CHOICES = {
    "rule": {
        "evidence": "Only grow the network when the gain is clear (recommended)",
        "paper": "Paper's thresholds (Algorithm 1 as published)",
    },
    "folds": {"auto": "Auto (recommended)", "1": "Off: one validation split"}
    | {str(k): f"{k} folds" for k in range(2, MAX_FOLDS + 1)},
}
PLAIN_HELP = {
    "rule": "A small validation set is noisy: a network can look a point better by luck. The "
    "recommended rule compares each candidate with the current best on the same images and "
    "keeps a larger network only when its gain is clear beyond that noise (its 95% interval), "
    "a smaller one unless it is clearly worse. Layer changes that each looked a little better "
    "are also tried once all together. The paper's rule compares the two accuracies "
    "with the thresholds below as they are.",
    "folds": "Each candidate trains once per fold, each time checked on another part of the "
    "training images, so that every training image counts in its score: K folds take K times "
    "the training time. Auto picks K from the number of training images.",
    "target": "The int8 model must fit in the board's RAM and flash, less a reserve for the rest "
    "of the program.",
}
DECISIONS = ("rule", "folds")
"""The settings the form shows together, under "How decisions are made"."""

PLAIN_CHOICES["target"] = {"none": "No board (no size limit)", "custom": "Custom limits"}
EXPERT_GROUPS = (
    (
        "Networks to try",
        ("min_depth", "max_depth", "min_width", "max_width", "width_step", "ops", "kernels"),
    ),
    (
        "Training",
        (
            "recipe",
            "epochs",
            "final_recipe",
            "final_epochs",
            "batch_size",
            "seed",
            "device",
            "parallel",
            "stem",
        ),
    ),
    (
        "Accepting a network",
        ("l_gain", "l_drop", "c_drop", "target_acc", "select_on", "val_frac", "noise_aware"),
    ),
    (
        "Board limits (with Custom limits, or tighter than the board's)",
        ("max_params", "max_macs", "max_ram_kb", "max_flash_kb", "max_latency_ms"),
    ),
)
"""The expert settings, grouped (the board and DECISIONS are shown above them)."""
EFFORT_CHOICES = [(k, p["label"]) for k, p in PRESETS.items()] + [("custom", "Custom")]


def plain_name(name: str) -> str:
    """A setting's plain label without the paper's symbol, for messages ("deepest network")."""
    label = next((s.label for s in SETTINGS if s.name == name), name)
    label = label.split(" (")[0]
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def plain_message(text: str) -> str:
    """An engine message as the page shows it: each setting's code name replaced by its plain
    label ("max_depth must be at least min_depth (3)": "Deepest network must be at least
    shallowest network (3)"). The form's errors keep the code names: the API returns them."""
    for s in sorted(SETTINGS, key=lambda s: -len(s.name)):
        text = re.sub(rf"\b{s.name}\b", plain_name(s.name), text)
    return text[:1].upper() + text[1:]


class PlainBoundField(BoundField):
    """A field whose errors also read in plain words (``plain_errors``), as the page shows them."""

    @property
    def plain_errors(self) -> list[str]:
        return [plain_message(str(e)) for e in self.errors]


def form_field(s: Setting) -> forms.Field:
    """The form field of one engine setting: its label, help, bounds and choices."""
    common = {"label": s.label, "help_text": PLAIN_HELP.get(s.name, s.help)}
    common["required"] = not s.optional
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
        plain = PLAIN_CHOICES.get(s.name, {})
        blank = [("", s.blank_label)] if s.optional else []
        field_class = forms.ChoiceField if s.strict_choices else OpenChoiceField
        allowed = ", ".join(str(v) for v in s.values)
        return field_class(
            choices=blank + [(str(v), plain.get(str(v), label)) for v, label in s.choices],
            initial="" if s.default is None else str(s.default),
            widget=forms.RadioSelect if s.name == "rule" else forms.Select,
            error_messages={"invalid_choice": f"{s.name} must be one of {allowed}, got %(value)r"},
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

    bound_field_class = PlainBoundField

    dataset = DatasetChoiceField(queryset=Dataset.objects.none(), empty_label=None)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        owned = Dataset.objects.filter(owner=user) if user else Dataset.objects.none()
        ready = owned.filter(status=Dataset.Status.READY)
        self.fields["dataset"].queryset = ready
        self.fields["dataset"].owned = owned
        newest = ready.order_by("-created", "-pk").first()
        if newest is not None and self.initial.get("dataset") is None:
            self.initial["dataset"] = newest.pk  # the one just uploaded
        # The effort preset: a page's choice (the API and commands send the settings themselves).
        self.fields["effort"] = forms.ChoiceField(
            label="Effort",
            choices=EFFORT_CHOICES,
            required=False,
            widget=forms.RadioSelect,
            initial=preset_of({**{s.name: s.default for s in SETTINGS}, **self.initial}),
        )
        self.config: dict | None = None

    def expert_groups(self) -> list[tuple[str, list]]:
        """The expert settings by group; a setting no group names goes with the limits."""
        placed = {n for _, names in EXPERT_GROUPS for n in names} | {*DECISIONS, "target"}
        groups = [(title, list(names)) for title, names in EXPERT_GROUPS]
        groups[-1][1].extend(s.name for s in SETTINGS if s.name not in placed)
        return [(title, [self[name] for name in names]) for title, names in groups]

    def expert_errors(self) -> bool:
        """Whether a field under Expert settings has an error (the page opens them then)."""
        return any(f.errors for _, fields in self.expert_groups() for f in fields)

    def chosen_effort(self) -> str:
        """The effort card to tick: the one sent; a form sent back without one (the user
        edited the settings into Custom) ticks the preset its fields match, or none."""
        sent = self["effort"].value()
        if sent:
            return sent
        if self.is_bound:
            return preset_of({s.name: self.data.get(s.name) for s in SETTINGS})
        return self.fields["effort"].initial

    def presets(self) -> list[dict]:
        """The effort cards: each preset, and whether it is the chosen one."""
        chosen = self.chosen_effort()
        return [{"name": k, "checked": k == chosen} | p for k, p in PRESETS.items()]

    def custom_effort(self) -> bool:
        """Whether the settings match no preset (the page says "Custom" instead of a card)."""
        return self.chosen_effort() == "custom"

    def decision_fields(self) -> list:
        return [self[name] for name in DECISIONS]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        raw = {s.name: data.get(s.name) for s in SETTINGS}
        # The effort card sets its settings while the fields still hold a preset's values (no
        # script ran, or it wrote them); values edited by hand win, as with Custom.
        preset = PRESETS.get(data.get("effort") or "")
        if preset is not None and preset_of(raw) != "custom":
            raw |= preset["settings"]
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
