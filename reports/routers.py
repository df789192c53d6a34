"""Reads of reports go to the replica named `reports` when REPORTS_DATABASE_URL sets one."""

REPLICA = "reports"


READ_FROM_REPLICA = {"dailyrollup", "cohortrollup", "report"}


class ReportsReplicaRouter:
    """Report rollups are read from the replica; every write, and every other read (the upkeep's marks and
    state among them), uses the primary. The report selectors also name the replica for the raw rows they
    read (`reports.selectors.read_alias`)."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label == "reports" and model._meta.model_name in READ_FROM_REPLICA:
            return REPLICA
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"
