from core.routers import OptionalSlashRouter

from .views import CustomerViewSet, TrackingLinkViewSet

router = OptionalSlashRouter()
router.register("tracking-links", TrackingLinkViewSet)
router.register("customers", CustomerViewSet)

urlpatterns = router.urls
