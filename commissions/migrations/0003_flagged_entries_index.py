"""The partial index on flagged entries, built without blocking the ledger's writes on PostgreSQL."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.operations import AddIndex


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL (the ledger keeps taking entries while it builds); a plain
    CREATE INDEX elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("commissions", "0002_review_flags_policy_and_decide_permission"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="commissionentry",
            index=models.Index(condition=models.Q(("review_flag", True)), fields=["status"], name="commission_flagged_idx"),
        ),
    ]
