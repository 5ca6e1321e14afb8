from django.apps import AppConfig


class AuthplatformConfig(AppConfig):
    name = "authplatform"
    verbose_name = "Platform"
