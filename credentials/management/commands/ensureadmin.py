"""Create the first admin account with a random password, printed once (used by `make run`).

Safe to re-run: when any superuser exists it changes nothing and prints no password, ever again.
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin account (username 'admin') with a one-time random password."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000/admin/",
            help="Where the admin is served, for the message (make run passes its HOST and PORT).",
        )

    def handle(self, *args, url: str, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(f"Admin account exists; sign in at {url} with its password.")
            return
        password = secrets.token_urlsafe(18)
        User.objects.create_superuser(username="admin", email="", password=password)
        bar = "=" * 64
        self.stdout.write(
            f"{bar}\nAdmin account created. This password is shown only now:\n\n"
            f"    username: admin\n    password: {password}\n\n"
            f"Sign in at {url} and change it.\n{bar}"
        )
