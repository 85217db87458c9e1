"""Datasets, searches and the candidates each search evaluated, and the runs of the other jobs.

The database is the truth."""

from __future__ import annotations

import dataclasses
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from searchapp.nas.record import CandidateRecord


class RunStatus(models.TextChoices):
    """The life of anything a worker runs (a search, a baseline run, a suite run)."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Run(models.Model):
    """What every queued job's row records: its status, its RQ job and when it ran."""

    Status = RunStatus
    ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    error = models.TextField(blank=True)
    rq_job_id = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class DatasetStatus(models.TextChoices):
    """An uploaded dataset is packed by a job on a worker (searchapp/tasks/pack.py): "packing"
    until then, "failed" (with the reason in `error`) when it could not be; datasets made any
    other way (derived, imported, the demo) are ready at once."""

    PACKING = "packing"
    READY = "ready"
    FAILED = "failed"


class Dataset(models.Model):
    """Images packed into one .npz (uint8 arrays per split) under MEDIA_ROOT/datasets/<id>/."""

    Status = DatasetStatus

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=500, blank=True)
    classes = models.JSONField(default=list)
    counts = models.JSONField(default=dict)  # {class: {"train": n, "test": n}}
    image_size = models.PositiveIntegerField(default=0)
    num_train = models.PositiveIntegerField(default=0)
    num_test = models.PositiveIntegerField(default=0)
    npz_path = models.CharField(max_length=500, blank=True)  # relative to MEDIA_ROOT
    rejected = models.JSONField(default=list)  # [[path, reason], ...]
    # Images not stored at their own size (larger than the working resolution, or odd sizes):
    # {"count": n, "from": "512x512"} (their most common original size); {} when none.
    resized = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    # Derived datasets: {"kind": "cifar10"|"tinyimagenet", "classes": [...as asked...]}
    derived = models.JSONField(default=dict, blank=True)
    # The name of the paper's suite entry (searchapp.nas.derived.SUITE) this dataset is, if any.
    suite = models.CharField(max_length=100, blank=True, db_index=True)
    # The stem searches on it default to; "imagenet" upscales to 224 when training (the data
    # itself is stored once at its native size). Blank: chosen from the image size.
    stem = models.CharField(max_length=16, blank=True)
    status = models.CharField(
        max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.READY, db_index=True
    )
    error = models.TextField(blank=True)  # why packing failed
    rq_job_id = models.CharField(max_length=100, blank=True)  # the packing job, once admitted
    # While packing: {"max_side": px asked for, "queued": iso time admitted, "started": iso}
    packing = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_ready(self) -> bool:
        return self.status == DatasetStatus.READY

    def get_absolute_url(self) -> str:
        return reverse("searchapp-dataset", args=[self.pk])

    @property
    def num_classes(self) -> int:
        return len(self.classes)


class Upload(models.Model):
    """A folder upload in progress: files arrive in batches, then get packed into a Dataset."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(max_length=200, blank=True)
    files = models.PositiveIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)
    rejected = models.JSONField(default=list)  # [[path, reason], ...] refused on arrival
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"upload {self.id} ({self.files} files)"


class Search(Run):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="searches")
    settings = models.JSONField(default=dict)  # SearchConfig.to_dict()
    phase = models.CharField(max_length=16, blank=True)
    progress = models.JSONField(default=dict, blank=True)  # last candidate.epoch event
    best = models.ForeignKey(
        "Candidate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seq = models.PositiveBigIntegerField(default=0)  # number of the last event sent
    cancel_requested = models.BooleanField(default=False)
    outputs = models.JSONField(default=dict, blank=True)  # {"pt": rel path, "onnx": rel path}
    # the final model's results: result.json's "final" (test_acc, test_ci95, per_class,
    # confusion_matrix, classes, misclassified, ...); {} until final training ran
    final = models.JSONField(default=dict, blank=True)
    # result.json's "exports": {name: {"file", "bytes", "test_acc", "latency_ms"} or
    # {"error": ...}}, float32 included; {} until the exports ran
    exports = models.JSONField(default=dict, blank=True)
    # summed training time of every candidate (GPU-seconds) and the search's wall time
    train_seconds = models.FloatField(null=True, blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "searches"

    def __str__(self) -> str:
        return f"search {self.pk} on {self.dataset_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("searchapp-search", args=[self.pk])

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running)."""
        if not self.started:
            return None
        end = self.finished or timezone.now()
        return max(0.0, (end - self.started).total_seconds())


class Candidate(models.Model):
    """One evaluated architecture; `record` is the engine's full record (replayed on resume)."""

    RUNNING = "running"

    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="candidates")
    index = models.PositiveIntegerField()
    phase = models.CharField(max_length=16)
    arch = models.JSONField(default=dict)
    key = models.TextField(blank=True)
    params = models.PositiveBigIntegerField(default=0)
    macs = models.PositiveBigIntegerField(default=0)
    ram_kb = models.FloatField(null=True, blank=True)  # int8 peak RAM estimate
    flash_kb = models.FloatField(null=True, blank=True)  # int8 flash estimate
    train_acc = models.FloatField(null=True, blank=True)
    test_acc = models.FloatField(null=True, blank=True)
    loss_curve = models.JSONField(default=list, blank=True)
    epochs = models.PositiveIntegerField(default=0)
    batch_size = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0.0)
    device = models.CharField(max_length=32, blank=True)
    accepted = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    # running | ok | diverged | over_budget (never trained)
    status = models.CharField(max_length=16, default=RUNNING)
    speculative = models.BooleanField(default=False)  # trained ahead, not needed
    worker = models.CharField(max_length=200, blank=True)  # who trained it
    progress = models.JSONField(default=dict, blank=True)  # last candidate.epoch while running
    record = models.JSONField(default=dict, blank=True)
    # Its export on its own (tasks/export.py): {"status": queued|running|done|failed, "error",
    # "job", "outputs": {download kind: path under MEDIA_ROOT}, "test_acc", "seconds"}; {} if none
    export = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["search", "index"], name="unique_candidate_index")
        ]

    def __str__(self) -> str:
        return f"candidate {self.index} of search {self.search_id}"

    @property
    def is_finished(self) -> bool:
        return self.status != self.RUNNING

    @classmethod
    def columns(cls, rec: CandidateRecord) -> dict:
        """The record's figures that are columns here (searchable; the rest live in `record`)."""
        return {k: v for k, v in rec.to_dict().items() if k in RECORD_COLUMNS and v is not None}

    def as_record(self) -> CandidateRecord:
        """The engine's record of this candidate: the stored one, with the columns on top."""
        data = dict(self.record or {})
        data.update({k: getattr(self, k) for k in RECORD_COLUMNS})
        data.update(index=self.index)
        return CandidateRecord.from_dict(data)


# The record's fields that are also columns of Candidate (index is the row's own key).
RECORD_COLUMNS = tuple(
    f.name
    for f in dataclasses.fields(CandidateRecord)
    if f.name != "index" and f.name in {m.name for m in Candidate._meta.concrete_fields}
)


class SuiteRun(Run):
    """One "create the paper's suite" action: a job that derives every missing suite entry."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # One row per suite entry: {"name", "status": created|exists|skipped|failed, "dataset",
    # "message", "seconds"}
    log = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"suite run {self.pk} ({self.status})"


class BaselineRun(Run):
    """MobileNetV2 or EfficientNet-B0 trained on a search's dataset with the search's recipe."""

    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="baselines")
    NAMES = ("mobilenet_v2", "efficientnet_b0")  # M-Net, E-Net (the paper's order in Table 6)
    LABELS = {"mobilenet_v2": "MobileNetV2 (M-Net)", "efficientnet_b0": "EfficientNet-B0 (E-Net)"}

    name = models.CharField(max_length=32)  # a key of searchapp.nas.baselines.BASELINES
    metrics = models.JSONField(default=dict, blank=True)  # train_baseline()'s dict
    progress = models.JSONField(default=dict, blank=True)  # last epoch report
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["search", "name", "-created"]

    def __str__(self) -> str:
        return f"{self.name} for search {self.search_id} ({self.status})"


class ApiToken(models.Model):
    """A personal token for the API (`Authorization: Bearer <token>`); see searchapp/tokens.py.

    Only the token's SHA-256 is stored: the token itself is shown once, when it is made."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)  # the token's first characters, to tell them apart
    digest = models.CharField(max_length=64, unique=True)  # sha256 hex of the whole token
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"token {self.name!r} of {self.owner_id}"
