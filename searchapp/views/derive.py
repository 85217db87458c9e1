"""The page that derives a dataset from the CIFAR-10 / Tiny-ImageNet archives on the server."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from searchapp import derive
from searchapp.derive_forms import DeriveForm
from searchapp.nas.data import DataError


@functools.lru_cache(maxsize=4)
def _tiny_classes(path: str, mtime: float) -> list[dict]:
    from searchapp.nas.derived import tinyimagenet_classes

    return [{"wnid": c.wnid, "words": ", ".join(c.words)} for c in tinyimagenet_classes(path)]


def tiny_class_list() -> tuple[list[dict], str]:
    """Tiny-ImageNet's classes when its archive is present (cached per file version)."""
    path = derive.source_path("tinyimagenet")
    if path is None:
        return [], ""
    try:
        return _tiny_classes(str(path), path.stat().st_mtime), ""
    except DataError as exc:
        return [], str(exc)


ASK_ADMIN = "an administrator can check it (the server's sources folder, DERIVED_SOURCES_DIR)."


def archive_problem(user, kind: str, exc: DataError, field: str | None) -> str:
    """The error to show: whole for staff and for the class list; without the server's paths
    and checksums for anyone else."""
    if user.is_staff or field is not None:
        return str(exc)
    label = derive.KIND_LABELS.get(kind, kind)
    return f"The {label} archive is missing on the server or cannot be read; {ASK_ADMIN}"


@login_required
@require_http_methods(["GET", "POST"])
def derive_new(request):
    status = 200
    sources = derive.source_status()
    if request.method == "POST":
        form = DeriveForm(request.POST)
        if form.is_valid():
            kind = form.cleaned_data["kind"]
            try:
                source = derive.resolve_source(kind)
                dataset = derive.create_derived_dataset(
                    request.user,
                    kind,
                    form.cleaned_data["classes"],
                    source,
                    name=form.cleaned_data["name"],
                    upscale=form.cleaned_data["upscale_flag"],
                )
            except DataError as exc:
                # about the class list: beside it; about the archive: form-wide
                field = form.class_field if exc.field == "classes" else None
                form.add_error(field, archive_problem(request.user, kind, exc, field))
            else:
                messages.success(
                    request,
                    f"Derived {dataset.name}: {dataset.num_train} train / "
                    f"{dataset.num_test} test images"
                    + (f" (the paper's suite entry {dataset.suite!r})." if dataset.suite else "."),
                )
                return redirect(dataset)
        status = 400
    else:  # the first archive found is picked (CIFAR-10 when there is none)
        found = [s["kind"] for s in sources if s["found"]] or ["cifar10"]
        kind = request.GET.get("kind", found[0])
        form = DeriveForm(initial={"kind": kind if kind in derive.KIND_LABELS else found[0]})
    tiny, tiny_error = tiny_class_list()
    staff = request.user.is_staff
    if tiny_error and not staff:
        tiny_error = "The Tiny-ImageNet archive on the server cannot be read; " + ASK_ADMIN
    ctx = {
        "form": form,
        "staff": staff,
        "sources_dir": derive.sources_dir() if staff else "",
        "sources": sources,
        "any_found": any(s["found"] for s in sources),
        "found_files": derive.found_files() if staff else [],
        "tiny_classes": tiny,
        "tiny_error": tiny_error,
    }
    return render(request, "searchapp/derive.html", ctx, status=status)
