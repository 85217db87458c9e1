from django.contrib import admin

from .models import ApiToken, BaselineRun, Candidate, Dataset, Search, SuiteRun, Upload


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "image_size", "num_train", "num_test", "created")
    list_filter = ("owner",)
    search_fields = ("name",)


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "name", "files", "bytes", "created")


class CandidateInline(admin.TabularInline):
    model = Candidate
    fields = ("index", "phase", "params", "test_acc", "accepted", "status")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Search)
class SearchAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "dataset", "status", "phase", "created", "finished")
    list_filter = ("status",)
    raw_id_fields = ("dataset", "best")
    inlines = [CandidateInline]


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ("id", "search", "index", "phase", "params", "test_acc", "accepted", "status")
    list_filter = ("phase", "accepted", "status")
    raw_id_fields = ("search",)


@admin.register(BaselineRun)
class BaselineRunAdmin(admin.ModelAdmin):
    list_display = ("id", "search", "name", "status", "created", "finished")
    list_filter = ("name", "status")
    raw_id_fields = ("search",)


@admin.register(SuiteRun)
class SuiteRunAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "status", "created", "finished")
    list_filter = ("status",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff may see and revoke (delete) tokens; a token itself is never stored."""

    list_display = ("id", "owner", "name", "prefix", "created", "last_used")
    list_filter = ("owner",)
    readonly_fields = ("owner", "name", "prefix", "digest", "created", "last_used")

    def has_add_permission(self, request) -> bool:
        return False
