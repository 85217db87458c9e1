from django.urls import path, re_path

from . import (
    api,
    params,  # noqa: F401  (registers the <id:...> converter)
)

urlpatterns = [
    path("datasets/", api.datasets, name="api-datasets"),
    path("datasets/<id:pk>/", api.dataset, name="api-dataset"),
    path("uploads/", api.upload_start, name="api-uploads"),
    path("uploads/<uuid:pk>/files/", api.upload_files, name="api-upload-files"),
    path("uploads/<uuid:pk>/finish/", api.upload_finish, name="api-upload-finish"),
    path("searches/", api.searches, name="api-searches"),
    path("searches/<id:pk>/", api.search, name="api-search"),
    path("searches/<id:pk>/cancel/", api.search_cancel, name="api-search-cancel"),
    re_path(
        r"^searches/(?P<pk>\d+)/weights/(?P<fmt>[a-z0-9_]{1,20})/$",
        api.search_weights,
        name="api-search-weights",
    ),
    path("searches/<id:pk>/predict/", api.search_predict, name="api-search-predict"),
    path(
        "searches/<id:pk>/candidates/<id:index>/export/",
        api.candidate_export,
        name="api-candidate-export",
    ),
    re_path(
        r"^searches/(?P<pk>\d{1,18})/candidates/(?P<index>\d{1,18})/export/(?P<fmt>[a-z0-9_]{1,20})/$",
        api.candidate_export_file,
        name="api-candidate-export-file",
    ),
]
