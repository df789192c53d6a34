from django.urls import include, path

from core.routers import OptionalSlashRouter

from .views import EventViewSet, FxRateViewSet, InboundEventViewSet, SourceViewSet

router = OptionalSlashRouter()
router.register("sources", SourceViewSet)
router.register("events", EventViewSet)
router.register("inbound-events", InboundEventViewSet)
router.register("fx-rates", FxRateViewSet)

urlpatterns: list = list(router.urls)
urlpatterns += [path("", include("integrations.monitoring.api.urls"))]
urlpatterns += [path("", include("integrations.webhooks.api.urls"))]
