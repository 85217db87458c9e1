"""The candidate record: one definition for the search, result.json, the job and the API."""

from __future__ import annotations

import dataclasses

from searchapp.nas.record import MEASURED, PUBLIC, TRAINED, CandidateRecord

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


def test_the_trainers_result_has_the_records_trained_fields_as_the_record_defines_them():
    from searchapp.nas.train import Result

    record = {f.name: f for f in dataclasses.fields(CandidateRecord)}
    result = {f.name: f for f in dataclasses.fields(Result)}
    assert set(result) == set(TRAINED) | {"params", "macs", "state_dict"}
    for name in TRAINED:
        r, c = result[name], record[name]
        assert (r.type, r.default, r.default_factory) == (c.type, c.default, c.default_factory)
    # measured but not by training: filled in by whoever ran it
    assert set(MEASURED) - set(TRAINED) == {"worker"}
