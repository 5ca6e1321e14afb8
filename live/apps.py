from django.apps import AppConfig


class LiveConfig(AppConfig):
    """Live delivery: the Socket.IO consumer and the fan-out that reaches it on every process."""

    name = "live"
    verbose_name = "Live delivery"

    def ready(self) -> None:
        from live import signals  # noqa: F401  (connects the receivers)
