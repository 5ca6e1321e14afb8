"""The audit log: readable in the admin, never editable."""

from django.contrib import admin
from django.utils import timezone

from credentials.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the log is append-only."""

    # Channel and address are on each event's page and in the filters.
    list_display = ("when", "actor_label", "action", "outcome", "target_label")
    list_filter = ("action", "outcome", "via")
    date_hierarchy = "at"
    search_fields = ("actor_label", "action", "target_label", "target_id")
    fields = readonly_fields = ("at", "actor", "actor_label", "via", "ip", "action", "outcome", "target_type",
                                "target_id", "target_label", "details")
    list_per_page = 100

    @admin.display(description="at", ordering="at")
    def when(self, obj) -> str:
        return timezone.localtime(obj.at).strftime("%Y-%m-%d %H:%M:%S")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
