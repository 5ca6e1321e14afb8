"""last_used_at is written at most once per LAST_USED_RESOLUTION (60 s) per credential."""

from datetime import timedelta

import pytest
from django.utils import timezone

from credentials import services
from credentials.audit import CLI
from credentials.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_key():
    user = services.api_user_create(actor=CLI, email="touch@example.com")
    key, _ = services.api_key_create(actor=CLI, user=user)
    return key


def stored(key) -> object:
    return ApiKey.objects.get(pk=key.pk).last_used_at


def test_first_use_is_written_then_nothing_for_a_minute(api_key, django_assert_num_queries):
    t0 = timezone.now()
    with django_assert_num_queries(1):
        services.last_used_touch(api_key, now=t0)
    assert stored(api_key) == t0
    with django_assert_num_queries(0):  # a request within the minute costs no query at all
        services.last_used_touch(api_key, now=t0 + timedelta(seconds=59))
    assert stored(api_key) == t0

    t1 = t0 + timedelta(seconds=61)
    services.last_used_touch(api_key, now=t1)
    assert stored(api_key) == t1


def test_a_stale_copy_does_not_overwrite_a_recent_write(api_key):
    """Two processes loaded the key before either wrote: only the first write of the window lands."""
    t0 = timezone.now()
    other_process_copy = ApiKey.objects.get(pk=api_key.pk)
    services.last_used_touch(api_key, now=t0)
    services.last_used_touch(other_process_copy, now=t0 + timedelta(seconds=30))
    assert stored(api_key) == t0
