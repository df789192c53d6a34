from core.routers import OptionalSlashRouter

from .views import AlertViewSet, ReconciliationViewSet

router = OptionalSlashRouter()
router.register("alerts", AlertViewSet)
router.register("reconciliations", ReconciliationViewSet)

urlpatterns = router.urls
