from core.routers import OptionalSlashRouter

from .views import CommissionEntryViewSet

router = OptionalSlashRouter()
router.register("commissions", CommissionEntryViewSet)

urlpatterns = router.urls
