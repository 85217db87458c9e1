"""JSON API for scripts and the upload page, with the same permissions as the pages.

Signed-in browsers use their session (with the CSRF token on writes); scripts send a personal
token as `Authorization: Bearer <token>` (searchapp/tokens.py) and need no CSRF token, since a
browser never adds that header by itself. HTTP Basic is not accepted, and a 401 never asks
for it (a browser would remember Basic credentials and send them for any site's forms).
Anonymous calls get 401, another user's objects 404, bad input 400 with a reason. Never a 500
for something the caller did. A body over UPLOAD_MAX_REQUEST_BYTES never gets here:
searchapp.limits answers 413 first.
"""

from __future__ import annotations

import functools
import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt

from . import searches as search_service
from . import tokens, uploads
from .forms import config_from_form, search_form_from_dict
from .models import Dataset, Search, Upload
from .quotas import LimitExceeded, check_new_upload
from .serializers import candidate_json, dataset_json, search_json

log = logging.getLogger(__name__)


def error(message: str, status: int = 400, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _token_user(request):
    """The owner of an `Authorization: Bearer` token; None without one; False if refused.

    Any other scheme (Basic included) is no credential here: the request stays anonymous, or
    a session's, with the session's CSRF check."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return tokens.user_for_token(token.strip()) or False


def _unauthorized(message: str, challenge: str = "") -> JsonResponse:
    response = error(message, 401)
    response["WWW-Authenticate"] = f'Bearer realm="mininas"{challenge}'
    return response


def _csrf_rejection(request):
    """CSRF is checked for session users only; a page cannot make a browser send a token."""
    check = CsrfViewMiddleware(lambda r: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


NO_CREDENTIALS = (
    "sign in, or send a personal token as 'Authorization: Bearer <token>' (make one at "
    "/settings/tokens/); HTTP Basic is not accepted"
)


def api_view(*methods: str):
    """Method check, authentication, ownership 404s and 400s as JSON."""

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error(f"method {request.method} not allowed", 405)
                response["Allow"] = ", ".join(methods)
                return response
            user = _token_user(request)
            if user is False:
                return _unauthorized("unknown or revoked token", ', error="invalid_token"')
            if user is not None:
                request.user = user
            elif not request.user.is_authenticated:
                return _unauthorized(NO_CREDENTIALS)
            try:
                if user is None and request.method not in ("GET", "HEAD", "OPTIONS"):
                    if _csrf_rejection(request) is not None:
                        return error("CSRF check failed; send the X-CSRFToken header", 403)
                return view(request, *args, **kwargs)
            except (Http404, search_service.NotFound):
                return error("not found", 404)
            except uploads.UploadError as exc:
                return error(str(exc))
            except LimitExceeded as exc:  # a per-user limit: the numbers and the setting
                return error(str(exc), exc.status, limit=exc.setting)
            except RequestDataTooBig:
                return error("request too large")
            except SuspiciousOperation as exc:  # e.g. too many files in one request
                return error(str(exc) or "bad request")

        return wrapper

    return decorator


def _body(request) -> dict:
    """JSON body or form fields, as a plain dict of values (lists kept for repeated keys)."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise uploads.UploadError(f"body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise uploads.UploadError("body must be a JSON object")
        return data
    return {k: (v if len(v) > 1 else v[0]) for k, v in request.POST.lists()}


# ----------------------------------------------------------------------------- datasets


@api_view("GET", "POST")
def datasets(request):
    if request.method == "GET":
        rows = Dataset.objects.filter(owner=request.user)
        return JsonResponse({"datasets": [dataset_json(d) for d in rows]})
    try:
        uploads.check_packing_limit(request.user)  # before the body is parsed
        zip_file = request.FILES.get("file") or request.FILES.get("zip")
        if zip_file is None:
            return error("send the dataset as a zip in the multipart field 'file'")
        name = (request.POST.get("name") or "").strip()
        side = uploads.working_side(request.POST.get("max_side"))
        return _accepted(uploads.dataset_from_zip(request.user, name, zip_file, side))
    except uploads.TooManyPacking as exc:
        return error(str(exc), exc.status, limit=exc.setting)


def _accepted(d: Dataset) -> JsonResponse:
    """A new dataset handed to a packing job, as both upload paths (zip and folder) answer
    (202): status "packing"; GET /api/datasets/<id>/ until its status is "ready" (counts
    and every rejected file) or "failed" (with its "error")."""
    return JsonResponse(
        {"dataset": dataset_json(d), "url": d.get_absolute_url(), "rejected": d.rejected},
        status=202,
    )


@api_view("GET", "DELETE")
def dataset(request, pk: int):
    d = get_object_or_404(Dataset, pk=pk, owner=request.user)
    if request.method == "DELETE":  # its searches and files too
        search_service.delete_dataset(d)
        return HttpResponse(status=204)
    return JsonResponse({"dataset": dataset_json(d)})


@api_view("POST")
def upload_start(request):
    name = str(_body(request).get("name") or "").strip()
    check_new_upload(request.user)
    upload = uploads.start_upload(request.user, name)
    return JsonResponse(
        {
            "upload": str(upload.pk),
            "batch_files": settings.UPLOAD_BATCH_FILES,
            "max_files": settings.UPLOAD_MAX_FILES,
            "max_file_bytes": settings.UPLOAD_MAX_FILE_BYTES,
        },
        status=201,
    )


@api_view("POST")
def upload_files(request, pk):
    upload = get_object_or_404(Upload, pk=pk, owner=request.user)
    files = request.FILES.getlist("files")
    try:
        paths = json.loads(request.POST.get("paths") or "[]")
    except ValueError:
        return error("'paths' must be a JSON list of relative paths, one per file")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return error("'paths' must be a JSON list of relative paths, one per file")
    if not files:
        return error("no files in the multipart field 'files'")
    return JsonResponse(uploads.add_files(upload, files, paths))


@api_view("POST")
def upload_finish(request, pk):
    upload = get_object_or_404(Upload, pk=pk, owner=request.user)
    body = _body(request)
    name = str(body.get("name") or "").strip()
    side = uploads.working_side(body.get("max_side"))
    try:
        return _accepted(uploads.finish_upload(upload, name, side))
    except uploads.TooManyPacking as exc:  # the upload is kept: finish it later
        return error(str(exc), exc.status, limit=exc.setting)


# ----------------------------------------------------------------------------- searches


@api_view("GET", "POST")
def searches(request):
    if request.method == "GET":
        rows = Search.objects.filter(owner=request.user).select_related("dataset", "best")
        return JsonResponse({"searches": [search_json(s) for s in rows]})
    form = search_form_from_dict(_body(request), request.user)
    if not form.is_valid():
        return JsonResponse({"error": "invalid settings", "errors": form.errors}, status=400)
    search = search_service.create_search(
        request.user, form.cleaned_data["dataset"], config_from_form(form)
    )
    return JsonResponse({"search": search_json(search)}, status=201)


@api_view("GET", "DELETE")
def search(request, pk: int):
    s = search_service.owned_search(request.user, pk)
    if request.method == "DELETE":  # a running one is stopped; its files go too
        search_service.delete_search(s)
        return HttpResponse(status=204)
    data = search_json(s)
    data["candidates"] = [candidate_json(c) for c in s.candidates.order_by("index")]
    return JsonResponse({"search": data})


@api_view("POST")
def search_cancel(request, pk: int):
    s = search_service.owned_search(request.user, pk)
    search_service.cancel_search(s)
    return JsonResponse({"search": search_json(s)})


@api_view("GET")
def search_weights(request, pk: int, fmt: str):
    d = search_service.weights_download(search_service.owned_search(request.user, pk), fmt)
    return FileResponse(
        open(d.path, "rb"), as_attachment=True, filename=d.filename, content_type=d.content_type
    )


def _export_json(search, index: int, state: dict) -> dict:
    """A candidate's export state for the API: status, error, and the download URLs when done."""
    from django.urls import reverse

    outputs = state.get("outputs") or {}
    downloads = {
        kind: reverse("api-candidate-export-file", args=[search.pk, index, kind])
        for kind in search_service.WEIGHT_FORMATS
        if kind in outputs
    }
    keys = ("status", "error", "test_acc", "test_ci95", "epochs", "seconds", "exports")
    return {"candidate": index, **{k: state.get(k) for k in keys}} | {
        "status": state.get("status") or "none",
        "downloads": downloads,
    }


@api_view("GET", "POST")
def candidate_export(request, pk: int, index: int):
    """POST: export the candidate (202 while queued or running, 200 once done, 409 when the
    search is active or the candidate untrained); GET: its export's state."""
    s = search_service.owned_search(request.user, pk)
    if request.method == "GET":
        state = search_service.owned_candidate(s, index).export or {}
        return JsonResponse({"export": _export_json(s, index, state)})
    try:
        state = search_service.start_export(s, index)
    except search_service.Conflict as exc:
        return error(str(exc), 409)
    status = 200 if state.get("status") == "done" else 202
    return JsonResponse({"export": _export_json(s, index, state)}, status=status)


@api_view("GET")
def candidate_export_file(request, pk: str, index: str, fmt: str):
    s = search_service.owned_search(request.user, int(pk))
    d = search_service.candidate_download(s, int(index), fmt)
    return FileResponse(
        open(d.path, "rb"), as_attachment=True, filename=d.filename, content_type=d.content_type
    )


@api_view("POST")
def search_predict(request, pk: int):
    """The model's class scores (percent) for one or more images in the field 'image'."""
    from . import predict  # onnxruntime is loaded by the first prediction, not at start-up

    s = search_service.owned_search(request.user, pk)
    try:
        result = predict.predict_uploads(request.user, s, request.FILES.getlist("image"))
    except predict.PredictError as exc:
        response = error(str(exc), exc.status)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    return JsonResponse(result)
