"""Moving live delivery out of the notifications app changed no table and no migration: a database
made before the split (app ``realtime``) is the database of today, with nothing to migrate."""

from __future__ import annotations

import uuid

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from credentials import services
from credentials.audit import CLI
from notifications.models import InboxItem

pytestmark = pytest.mark.django_db(transaction=True)

# What a database made before the split holds for this app (its migration history and tables).
PRE_SPLIT_MIGRATIONS = {("realtime", "0001_initial")}
PRE_SPLIT_TABLES = {
    "realtime_inappmessage", "realtime_inboxitem", "realtime_preferencedefault", "realtime_customerpreference",
    "realtime_communicationsettings", "realtime_idempotencyrecord",
}


def test_the_notifications_app_keeps_the_label_tables_and_history_of_before_the_split():
    config = apps.get_app_config("realtime")
    assert config.name == "notifications"
    assert {model._meta.db_table for model in config.get_models()} == PRE_SPLIT_TABLES
    migrations = {key for key in MigrationExecutor(connection).loader.disk_migrations if key[0] == "realtime"}
    assert migrations == PRE_SPLIT_MIGRATIONS
    assert not list(apps.get_app_config("live").get_models())  # live delivery stores nothing


@pytest.fixture
def workspace_rows():
    workspace = services.workspace_create(actor=CLI, name=f"ws-{uuid.uuid4().hex[:12]}", product_space_name="Main")
    return workspace.product_spaces.get()


def test_a_database_from_before_the_split_migrates_with_nothing_to_do_and_keeps_its_rows(workspace_rows):
    product_space = workspace_rows
    # A row written the way the pre-split code wrote it: straight into the old table.
    message_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO realtime_inappmessage (id, workspace_id, product_space_id, title, body, category, "
            "action_url, data, recipient_count, stored_count, suppressed_count, sent_by, created_at) "
            "VALUES (%s, %s, %s, 'old', 'body', 'news', '', '{}', 1, 1, 0, 'cli', CURRENT_TIMESTAMP)",
            [message_id.hex if connection.vendor == "sqlite" else message_id, product_space.workspace_id,
             product_space.pk],
        )
    item = InboxItem.objects.create(message_id=message_id, product_space=product_space, customer_id="CUST-1",
                                    category="news")

    applied = {key for key in MigrationRecorder(connection).applied_migrations() if key[0] == "realtime"}
    assert applied == PRE_SPLIT_MIGRATIONS
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    call_command("migrate", verbosity=0)  # a no-op on the old database...
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # ...and the models match its tables
    assert InboxItem.objects.get(id=item.id).message.title == "old"
