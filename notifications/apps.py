from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    # The label the app had before live delivery moved out: its tables (realtime_*), migration history
    # and admin permissions keep their names, so an existing database needs no migration.
    label = "realtime"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Live delivery (live/) never imports this app: what a connecting socket is given (its unread
        # count, what it missed) is read here and handed to it through this registration.
        from live.recovery import connect_state_source
        from notifications.recovery import connect_state_read

        connect_state_source.register(connect_state_read)

        # Snoozes wake and items expire on time in every server process (notifications/clock.py).
        from authplatform import background
        from notifications.clock import inbox_clock

        background.register("the inbox clock", inbox_clock.start)
