"""Signing in to the admin: a budget of failed attempts per client address and per username.

Every password check counts against both budgets before it runs (so parallel guesses cannot overrun
them) and gives its place back when it succeeds, so only refused sign-ins use a budget up. Once either
budget is spent (more than ADMIN_LOGIN_FAILURE_BURST refusals in one ADMIN_LOGIN_FAILURE_WINDOW), the
login page refuses every attempt from that address or for that username without checking the
password, the right one included, until the window ends: per address stops one source guessing many
accounts, per username stops many sources guessing one account. The counters are the fixed windows of
authplatform/throttle.py, in Django's cache, as for failed API authentication.

The audit log gets each refused password (``admin.login_failed``) and, once per window, the first
attempt an address or username is refused for (``admin.login_throttled``): never the password, and
the attempted username only as the account it names, if it names one.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from authplatform.client_ip import IPAddress, client_ip
from authplatform.conf import platform_settings
from authplatform.throttle import WindowCount, hashed_key, window_count_add, window_count_release
from credentials.audit import Actor, audit_record
from credentials.models import AuditOutcome

SCOPE = "admin-login-failures"
FAILED = "admin.login_failed"
THROTTLED = "admin.login_throttled"


def username_key(username: str) -> str:
    # "Admin", "admin" and their Unicode look-alikes share one budget: guesses cannot be spread over
    # spellings. Hashed, because the username is whatever the client typed.
    return hashed_key(unicodedata.normalize("NFKC", username).casefold())


def describe_wait(seconds: int) -> str:
    if seconds > 90:
        return f"{math.ceil(seconds / 60)} minutes"
    return "1 second" if seconds == 1 else f"{seconds} seconds"


@dataclass
class LoginAttempt:
    """One password check, counted against the address and the username before it runs."""

    ip: IPAddress | None
    username: str
    counted: dict[str, WindowCount] = field(default_factory=dict)  # "address"/"username" -> its count
    retry_after: int | None = None  # set when a budget is spent: refuse without checking the password

    @classmethod
    def begin(cls, *, ip: IPAddress | None, username: str, now: float | None = None) -> LoginAttempt:
        attempt = cls(ip=ip, username=username)
        burst = int(platform_settings.ADMIN_LOGIN_FAILURE_BURST)
        window = int(platform_settings.ADMIN_LOGIN_FAILURE_WINDOW)
        for by, key in (("address", f"ip:{ip or 'unknown'}"), ("username", f"user:{username_key(username)}")):
            counted = window_count_add(SCOPE, key, window=window, now=now)
            if counted is None:  # cache down: not counted, not refused
                continue
            attempt.counted[by] = counted
            if counted.count > burst:
                attempt.retry_after = max(attempt.retry_after or 0, counted.retry_after)
                if counted.count == burst + 1:  # the first refusal of this window
                    attempt.audit(
                        THROTTLED, by=by, failures=burst, window_seconds=window, retry_after=counted.retry_after
                    )
        return attempt

    def succeeded(self) -> None:
        for counted in self.counted.values():
            window_count_release(counted)

    def refused(self) -> None:
        self.audit(FAILED)

    def audit(self, action: str, **details) -> None:
        target = None
        if details.get("by") != "address":  # about the account: name it, if there is one
            user_model = get_user_model()
            target = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: self.username}).first()
            if target is None:
                details["account"] = "no such user"
        audit_record(
            actor=Actor(ip=str(self.ip) if self.ip else None, via="admin", anonymous=True),
            action=action,
            target=target,
            outcome=AuditOutcome.FAILURE,
            details=details,
        )


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login form, with the budget of failed attempts (module docstring)."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed sign-in attempts from your address or for this username. "
        "Sign-in is refused until the limit resets: try again in %(wait)s.",
    }

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()  # no password to check: the form shows what is missing
        attempt = LoginAttempt.begin(ip=client_ip(self.request) if self.request else None, username=username)
        if attempt.retry_after is not None:
            raise ValidationError(
                self.error_messages["throttled"], code="throttled", params={"wait": describe_wait(attempt.retry_after)}
            )
        try:
            cleaned_data = super().clean()
        except ValidationError:
            attempt.refused()
            raise
        attempt.succeeded()
        return cleaned_data
