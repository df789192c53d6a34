from core.routers import OptionalSlashRouter

from .views import AffiliateViewSet, BrandViewSet, DealAssignmentViewSet, DealViewSet

router = OptionalSlashRouter()
router.register("brands", BrandViewSet)
router.register("affiliates", AffiliateViewSet)
router.register("deals", DealViewSet)
router.register("deal-assignments", DealAssignmentViewSet)

urlpatterns = router.urls
