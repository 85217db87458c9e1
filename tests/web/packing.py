"""Uploads through the API, packed here: tests/web has no worker (RQ points at a closed port),
so a test runs the packing job, a plain function, itself, as a worker would."""

from __future__ import annotations

from searchapp.models import Dataset
from searchapp.tasks.pack import run_pack_job


def accepted(response) -> int:
    """The id of the dataset a 202 upload answer names, still packing."""
    assert response.status_code == 202, (response.status_code, response.content[:300])
    body = response.json()
    assert body["dataset"]["status"] == "packing", body
    assert body["url"] == f"/datasets/{body['dataset']['id']}/"
    return body["dataset"]["id"]


def run_packing(client, pk: int) -> dict:
    """Run the packing job of dataset `pk`; the dataset as the API shows it then (status
    "ready" or "failed")."""
    assert Dataset.objects.get(pk=pk).status == Dataset.Status.PACKING
    run_pack_job(pk)
    r = client.get(f"/api/datasets/{pk}/")
    assert r.status_code == 200, r.content
    return r.json()["dataset"]


def packed(client, response) -> dict:
    """`run_packing` for the upload that `response` accepted."""
    return run_packing(client, accepted(response))


def ready(client, response) -> dict:
    """`packed`, and it must have packed."""
    dataset = packed(client, response)
    assert dataset["status"] == "ready", dataset["error"]
    return dataset


def failed(client, response, *words) -> str:
    """`packed`, and it must have failed with an error naming `words` and no server path;
    the dataset keeps no files. Returns the error."""
    dataset = packed(client, response)
    assert dataset["status"] == "failed", dataset
    error = dataset["error"]
    for w in words:
        assert w in error, error
    assert "pytest-of" not in error and "media/" not in error  # no server paths
    assert dataset["num_train"] == 0 and dataset["classes"] == []
    return error
