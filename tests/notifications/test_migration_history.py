"""Moving live delivery out of the notifications app changed no table and no migration: a database
made before the split (app ``realtime``, migration 0001) keeps its label, tables, history and rows, and
migrates forward like any other."""

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
from notifications.models import IdempotencyRecord, InboxItem

pytestmark = pytest.mark.django_db(transaction=True)

# What a database made before the split holds for this app (its migration history and tables).
PRE_SPLIT_MIGRATIONS = {("realtime", "0001_initial")}
PRE_SPLIT_TABLES = {
    "realtime_inappmessage",
    "realtime_inboxitem",
    "realtime_preferencedefault",
    "realtime_customerpreference",
    "realtime_communicationsettings",
    "realtime_idempotencyrecord",
}


def test_the_notifications_app_keeps_the_label_tables_and_history_of_before_the_split():
    config = apps.get_app_config("realtime")
    assert config.name == "notifications"
    assert PRE_SPLIT_TABLES <= {model._meta.db_table for model in config.get_models()}
    migrations = {key for key in MigrationExecutor(connection).loader.disk_migrations if key[0] == "realtime"}
    assert PRE_SPLIT_MIGRATIONS <= migrations  # the split renamed no migration and started no new history
    assert not list(apps.get_app_config("live").get_models())  # live delivery stores nothing


@pytest.fixture
def workspace_rows():
    workspace = services.workspace_create(actor=CLI, name=f"ws-{uuid.uuid4().hex[:12]}", product_space_name="Main")
    return workspace.product_spaces.get()


def test_a_database_from_before_the_split_migrates_forward_and_keeps_its_rows(workspace_rows):
    product_space = workspace_rows
    executor = MigrationExecutor(connection)
    executor.migrate([("realtime", "0001_initial")])  # the schema the pre-split code ran on
    # Rows written the way the pre-split code wrote them: straight into the old tables.
    message_id = uuid.uuid4()
    as_db = (lambda value: value.hex) if connection.vendor == "sqlite" else (lambda value: value)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO realtime_inappmessage (id, workspace_id, product_space_id, title, body, category, "
            "action_url, data, recipient_count, stored_count, suppressed_count, sent_by, created_at) "
            "VALUES (%s, %s, %s, 'old', 'body', 'news', '', '{}', 1, 1, 0, 'cli', CURRENT_TIMESTAMP)",
            [as_db(message_id), product_space.workspace_id, product_space.pk],
        )
        cursor.execute(
            "INSERT INTO realtime_inboxitem (message_id, product_space_id, customer_id, category, created_at) "
            "VALUES (%s, %s, 'CUST-1', 'news', CURRENT_TIMESTAMP)",
            [as_db(message_id), product_space.pk],
        )
        cursor.execute(
            "INSERT INTO realtime_idempotencyrecord (workspace_id, key, request_digest, message_id, "
            "response_status, response_body, created_at, expires_at) VALUES (%s, 'key-1', %s, %s, 202, "
            "'{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            [product_space.workspace_id, "0" * 64, as_db(message_id)],
        )

    applied = {key for key in MigrationRecorder(connection).applied_migrations() if key[0] == "realtime"}
    assert applied == PRE_SPLIT_MIGRATIONS
    call_command("migrate", verbosity=0)
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # the models match the migrated tables
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    assert InboxItem.objects.get(customer_id="CUST-1").message.title == "old"
    assert IdempotencyRecord.objects.get(key="key-1").message_id == message_id
