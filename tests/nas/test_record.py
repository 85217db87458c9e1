"""The candidate record: one definition for the search, result.json, the job and the API."""

from __future__ import annotations

from searchapp.nas.record import MEASURED, PUBLIC, CandidateRecord

ARCH = {"depth": 3, "width": 8, "ops": ["sep"] * 3, "kernels": [3] * 3, "stem": "cifar"}


def test_it_round_trips_and_ignores_keys_it_does_not_know():
    rec = CandidateRecord(index=2, phase="width", arch=ARCH, key="k", params=10, macs=20)
    rec.measure({"train_acc": 90.0, "test_acc": 80.0, "epochs": 3, "status": "ok"})
    again = CandidateRecord.from_dict(rec.to_dict() | {"from_a_later_version": 1})
    assert again == rec


def test_replaying_copies_only_what_training_measured():
    rec = CandidateRecord(index=0, phase="depth", arch=ARCH)
    rec.measure({"test_acc": 50.0, "accepted": True, "reason": "old verdict", "index": 9})
    assert rec.test_acc == 50.0
    assert (rec.accepted, rec.reason, rec.index) == (False, "", 0)
    assert "test_acc" in MEASURED and "accepted" not in MEASURED


def test_the_public_view_hides_internal_fields():
    public = CandidateRecord(index=0, phase="depth", arch=ARCH).public()
    assert set(public) == set(PUBLIC)
    assert not {"key", "replayed", "test_curve", "oom_retries"} & set(public)
    assert {"index", "arch", "params", "test_acc", "accepted", "reason", "status"} <= set(public)
