"""Create the first admin account with a random password, printed once (used by `make run`).

Safe to re-run: when any superuser exists it changes nothing and prints no password, ever again.
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin account (username 'admin') with a one-time random password."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("Admin account exists; sign in at /admin/ with its password.")
            return
        password = secrets.token_urlsafe(18)
        User.objects.create_superuser(username="admin", email="", password=password)
        bar = "=" * 64
        self.stdout.write(
            f"{bar}\nAdmin account created. This password is shown only now:\n\n"
            f"    username: admin\n    password: {password}\n\n"
            f"Sign in at http://127.0.0.1:8000/admin/ and change it.\n{bar}"
        )
