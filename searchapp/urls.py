from django.urls import path, re_path

from . import params  # noqa: F401  (registers the <id:...> converter)
from .views import baselines, compare, datasets, derive, report, searches, start, suite, tokens

urlpatterns = [
    path("", datasets.home, name="searchapp-home"),
    path("start/", start.start_page, name="searchapp-start"),
    # datasets (views/datasets.py, views/derive.py, views/suite.py)
    path("datasets/", datasets.dataset_list, name="searchapp-datasets"),
    path("datasets/new/", datasets.dataset_new, name="searchapp-dataset-new"),
    path("datasets/<id:pk>/", datasets.dataset_detail, name="searchapp-dataset"),
    path("datasets/<id:pk>/delete/", datasets.dataset_delete, name="searchapp-dataset-delete"),
    re_path(
        r"^datasets/(?P<pk>\d+)/thumbs/(?P<name>\d+_\d+)\.png$",
        datasets.dataset_thumb,
        name="searchapp-dataset-thumb",
    ),
    path("datasets/derive/", derive.derive_new, name="searchapp-derive"),
    path("suite/", suite.suite, name="searchapp-suite"),
    path("suite/create/", suite.suite_create, name="searchapp-suite-create"),
    # searches (views/searches.py, views/compare.py, views/baselines.py)
    path("searches/", searches.search_list, name="searchapp-searches"),
    path("searches/new/", searches.search_new, name="searchapp-search-new"),
    path("searches/new/estimate/", searches.search_estimate, name="searchapp-search-estimate"),
    path("searches/compare/", compare.search_compare, name="searchapp-search-compare"),
    path("searches/<id:pk>/", searches.search_detail, name="searchapp-search"),
    path("searches/<id:pk>/cancel/", searches.search_cancel, name="searchapp-search-cancel"),
    path("searches/<id:pk>/mistakes/", searches.search_mistakes, name="searchapp-search-mistakes"),
    path(
        "searches/<id:pk>/test-images/<id:index>.png",
        searches.search_test_image,
        name="searchapp-search-test-image",
    ),
    path("searches/<id:pk>/delete/", searches.search_delete, name="searchapp-search-delete"),
    re_path(
        r"^searches/(?P<pk>\d+)/download/(?P<fmt>[a-z0-9_]{1,20})/$",
        searches.search_download,
        name="searchapp-download",
    ),
    path(
        "searches/<id:pk>/baselines/",
        baselines.search_baselines,
        name="searchapp-search-baselines",
    ),
    path(
        "searches/<id:pk>/baselines/cancel/",
        baselines.search_baselines_cancel,
        name="searchapp-search-baselines-cancel",
    ),
    # the report (views/report.py)
    path("report/", report.report_page, name="searchapp-report"),
    path("report/csv/", report.report_csv, name="searchapp-report-csv"),
    path("report/json/", report.report_json, name="searchapp-report-json"),
    # personal API tokens (views/tokens.py)
    path("settings/tokens/", tokens.token_list, name="searchapp-tokens"),
    path(
        "settings/tokens/<id:pk>/revoke/",
        tokens.token_revoke,
        name="searchapp-token-revoke",
    ),
]
