from django.urls import path, re_path

from . import views, views_suite, views_tokens

urlpatterns = [
    path("", views.home, name="searchapp-home"),
    path("datasets/", views.dataset_list, name="searchapp-datasets"),
    path("datasets/new/", views.dataset_new, name="searchapp-dataset-new"),
    path("datasets/<int:pk>/", views.dataset_detail, name="searchapp-dataset"),
    path("datasets/<int:pk>/delete/", views.dataset_delete, name="searchapp-dataset-delete"),
    re_path(
        r"^datasets/(?P<pk>\d+)/thumbs/(?P<name>\d+_\d+)\.png$",
        views.dataset_thumb,
        name="searchapp-dataset-thumb",
    ),
    path("searches/", views.search_list, name="searchapp-searches"),
    path("searches/new/", views.search_new, name="searchapp-search-new"),
    path("searches/compare/", views.search_compare, name="searchapp-search-compare"),
    path("searches/<int:pk>/", views.search_detail, name="searchapp-search"),
    path("searches/<int:pk>/cancel/", views.search_cancel, name="searchapp-search-cancel"),
    path("searches/<int:pk>/mistakes/", views.search_mistakes, name="searchapp-search-mistakes"),
    path(
        "searches/<int:pk>/test-images/<int:index>.png",
        views.search_test_image,
        name="searchapp-search-test-image",
    ),
    path("searches/<int:pk>/delete/", views.search_delete, name="searchapp-search-delete"),
    re_path(
        r"^searches/(?P<pk>\d+)/download/(?P<fmt>[a-z0-9_]{1,20})/$",
        views.search_download,
        name="searchapp-download",
    ),
    # derived datasets, the paper's suite, baselines and the report (views_suite.py)
    path("datasets/derive/", views_suite.derive_new, name="searchapp-derive"),
    path("suite/", views_suite.suite, name="searchapp-suite"),
    path("suite/create/", views_suite.suite_create, name="searchapp-suite-create"),
    path(
        "searches/<int:pk>/baselines/",
        views_suite.search_baselines,
        name="searchapp-search-baselines",
    ),
    path(
        "searches/<int:pk>/baselines/cancel/",
        views_suite.search_baselines_cancel,
        name="searchapp-search-baselines-cancel",
    ),
    path("report/", views_suite.report_page, name="searchapp-report"),
    path("report/csv/", views_suite.report_csv, name="searchapp-report-csv"),
    path("report/json/", views_suite.report_json, name="searchapp-report-json"),
    # personal API tokens (views_tokens.py)
    path("settings/tokens/", views_tokens.token_list, name="searchapp-tokens"),
    path(
        "settings/tokens/<int:pk>/revoke/",
        views_tokens.token_revoke,
        name="searchapp-token-revoke",
    ),
]
