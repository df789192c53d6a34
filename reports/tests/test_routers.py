"""REPORTS_DATABASE_URL: reads of reports go to the replica, writes and everything else to the primary."""

from reports.models import DailyRollup, RollupDirty, RollupState
from reports.routers import ReportsReplicaRouter
from tracking.models import Click


def test_report_reads_go_to_the_replica_and_writes_to_the_primary():
    router = ReportsReplicaRouter()
    assert router.db_for_read(DailyRollup) == "reports"
    assert router.db_for_read(Click) is None  # the default: the primary
    assert router.db_for_read(RollupDirty) is None and router.db_for_read(RollupState) is None  # the upkeep's
    assert router.db_for_write(DailyRollup) == "default"
    assert router.allow_migrate("default", "reports") and not router.allow_migrate("reports", "reports")


def test_without_a_replica_reports_read_the_primary(settings):
    from reports.selectors import read_alias

    assert "reports" not in settings.DATABASES
    assert read_alias() == "default"
