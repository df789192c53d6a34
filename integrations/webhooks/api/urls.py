from core.routers import OptionalSlashRouter

from .views import DeliveryViewSet, PartnerPostbackViewSet, WebhookEndpointViewSet

router = OptionalSlashRouter()
router.register("webhook-endpoints", WebhookEndpointViewSet)
router.register("webhook-deliveries", DeliveryViewSet)
router.register("partner-postbacks", PartnerPostbackViewSet)

urlpatterns = router.urls
