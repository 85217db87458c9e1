"""The "derive a dataset" form: which archive, which classes, upscale or not."""

from __future__ import annotations

from django import forms

from searchapp.nas.derived import CIFAR10_CLASSES

KIND_CHOICES = [("cifar10", "CIFAR-10"), ("tinyimagenet", "Tiny-ImageNet")]
UPSCALE_CHOICES = [
    ("", "default (yes for Tiny-ImageNet, no for CIFAR-10)"),
    ("yes", "yes: searches use the imagenet stem at 224x224"),
    ("no", "no: native size, stem from the image size"),
]


class DeriveForm(forms.Form):
    kind = forms.ChoiceField(choices=KIND_CHOICES, initial="cifar10", label="Source")
    cifar_classes = forms.MultipleChoiceField(
        choices=[(c, c) for c in CIFAR10_CLASSES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="CIFAR-10 classes",
    )
    tiny_classes = forms.CharField(
        required=False,
        max_length=4000,
        label="Tiny-ImageNet classes",
        help_text="wnids or words, comma-separated, e.g. volleyball, basketball or n04540053, n02802426",
        widget=forms.TextInput(attrs={"size": 60}),
    )
    name = forms.CharField(required=False, max_length=200, help_text="Blank: from the classes.")
    upscale = forms.ChoiceField(
        choices=UPSCALE_CHOICES, required=False, initial="", label="Upscale to 224"
    )

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == "cifar10":
            # keep the order of CIFAR10_CLASSES: labels follow the order given
            picked = [c for c in CIFAR10_CLASSES if c in (data.get("cifar_classes") or [])]
            field = "cifar_classes"
        else:
            raw = data.get("tiny_classes") or ""
            picked = [c.strip() for c in raw.split(",") if c.strip()]
            field = "tiny_classes"
        if kind and len(picked) < 2:
            self.add_error(field, f"pick at least two classes (got {len(picked)})")
        data["classes"] = picked
        data["upscale_flag"] = {"yes": True, "no": False}.get(data.get("upscale") or "")
        return data

    @property
    def class_field(self) -> str:
        return "cifar_classes" if self.cleaned_data.get("kind") == "cifar10" else "tiny_classes"
