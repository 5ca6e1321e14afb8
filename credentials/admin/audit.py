"""The audit log: readable in the admin, never editable."""

from django.contrib import admin

from credentials.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the log is append-only."""

    list_display = ("at", "actor_label", "via", "action", "outcome", "target_label", "ip")
    list_filter = ("action", "outcome", "via")
    date_hierarchy = "at"
    search_fields = ("actor_label", "action", "target_label", "target_id")
    fields = readonly_fields = ("at", "actor", "actor_label", "via", "ip", "action", "outcome", "target_type",
                                "target_id", "target_label", "details")
    list_per_page = 100

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
