from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    # The label the app had before live delivery moved out: its tables (realtime_*), migration history
    # and admin permissions keep their names, so an existing database needs no migration.
    label = "realtime"
    verbose_name = "Notifications"
