"""Reads of reports go to the replica named `reports` when REPORTS_DATABASE_URL sets one."""

REPLICA = "reports"


class ReportsReplicaRouter:
    """Report rollups are read from the replica; every write, and every other read, uses the primary."""

    def db_for_read(self, model, **hints):
        return REPLICA if model._meta.app_label == "reports" else None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"
