from core.routers import OptionalSlashRouter

from .audit import AuditLogViewSet

router = OptionalSlashRouter()
router.register("audit-log", AuditLogViewSet, basename="audit-log")

urlpatterns = router.urls
