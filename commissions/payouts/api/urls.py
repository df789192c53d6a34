from core.routers import OptionalSlashRouter

from .views import PayoutStatementViewSet

router = OptionalSlashRouter()
router.register("payouts", PayoutStatementViewSet)

urlpatterns = router.urls
