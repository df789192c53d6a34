"""The partner API's postback routes, for the partner API (`/api/partner/v1/`) to include."""

from core.routers import OptionalSlashRouter

from .views import PartnerOwnPostbackViewSet

router = OptionalSlashRouter()
router.register("postbacks", PartnerOwnPostbackViewSet, basename="partner-postback")

urlpatterns = router.urls
