"""Admin for notifications. Preference defaults (per workspace or per product space) and critical
categories are edited here; messages, inbox items, customers' own settings and idempotency records are
read-only (they change through the API)."""

from django.contrib import admin

from notifications.models import (
    CommunicationSettings,
    CriticalCategory,
    CustomerPreference,
    IdempotencyRecord,
    InAppMessage,
    InboxItem,
    PreferenceDefault,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PreferenceDefault)
class PreferenceDefaultAdmin(admin.ModelAdmin):
    """What customers get until they choose: a product space's default comes before its workspace's."""

    list_display = ["workspace", "product_space", "category", "channel", "enabled"]
    list_filter = ["channel", "enabled", "workspace"]
    search_fields = ["workspace__code", "workspace__name", "product_space__code", "category"]
    list_select_related = ["workspace", "product_space"]
    fields = ["workspace", "product_space", "category", "channel", "enabled"]


@admin.register(CriticalCategory)
class CriticalCategoryAdmin(admin.ModelAdmin):
    """Categories customers cannot mute: their choices for it are refused (400) and ignored."""

    list_display = ["category", "workspace", "product_space"]
    list_filter = ["workspace"]
    search_fields = ["workspace__code", "workspace__name", "product_space__code", "category"]
    list_select_related = ["workspace", "product_space"]


@admin.register(InAppMessage)
class InAppMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "title",
        "category",
        "product_space",
        "recipient_count",
        "stored_count",
        "suppressed_count",
        "sent_by",
        "created_at",
    ]
    list_filter = ["category"]
    search_fields = ["id", "title", "product_space__code", "workspace__code"]
    list_select_related = ["product_space"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(InboxItem)
class InboxItemAdmin(ReadOnlyAdmin):
    list_display = ["customer_id", "message", "category", "created_at", "read_at", "archived_at"]
    search_fields = ["customer_id", "message__id"]
    list_select_related = ["message"]
    raw_id_fields = ["message", "product_space"]
    show_full_result_count = False


@admin.register(CustomerPreference)
class CustomerPreferenceAdmin(ReadOnlyAdmin):
    list_display = ["customer_id", "product_space", "category", "channel", "enabled", "updated_at"]
    search_fields = ["customer_id", "product_space__code"]
    list_select_related = ["product_space"]


@admin.register(CommunicationSettings)
class CommunicationSettingsAdmin(ReadOnlyAdmin):
    list_display = ["customer_id", "product_space", "locale", "time_zone", "updated_at"]
    search_fields = ["customer_id", "product_space__code"]
    list_select_related = ["product_space"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["key", "workspace", "message", "created_at", "expires_at"]
    search_fields = ["key", "workspace__code"]
    raw_id_fields = ["message"]
