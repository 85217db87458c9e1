from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.home, name="searchapp-home"),
    path("datasets/", views.dataset_list, name="searchapp-datasets"),
    path("datasets/new/", views.dataset_new, name="searchapp-dataset-new"),
    path("datasets/<int:pk>/", views.dataset_detail, name="searchapp-dataset"),
    re_path(
        r"^datasets/(?P<pk>\d+)/thumbs/(?P<name>\d+_\d+)\.png$",
        views.dataset_thumb,
        name="searchapp-dataset-thumb",
    ),
    path("searches/", views.search_list, name="searchapp-searches"),
    path("searches/new/", views.search_new, name="searchapp-search-new"),
    path("searches/<int:pk>/", views.search_detail, name="searchapp-search"),
    path("searches/<int:pk>/cancel/", views.search_cancel, name="searchapp-search-cancel"),
    re_path(
        r"^searches/(?P<pk>\d+)/download/(?P<fmt>pt|onnx)/$",
        views.search_download,
        name="searchapp-download",
    ),
]
