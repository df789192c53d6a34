"""The partner API, mounted at /api/partner/v1/ (partner keys only)."""

from django.urls import re_path

from core.routers import OptionalSlashRouter

from .payouts import PartnerPayoutViewSet
from .views import (
    PartnerCommissionViewSet,
    PartnerDealViewSet,
    PartnerPostbackViewSet,
    PartnerStatsView,
    PartnerTrackingLinkViewSet,
)

router = OptionalSlashRouter()
router.register("deals", PartnerDealViewSet, basename="partner-deal")
router.register("commissions", PartnerCommissionViewSet, basename="partner-commission")
router.register("payouts", PartnerPayoutViewSet, basename="partner-payout")
router.register("tracking-links", PartnerTrackingLinkViewSet, basename="partner-tracking-link")
# The webhooks app's partner postback routes (integrations/webhooks/api/partner_urls.py), registered with a
# subclass of its viewset that only adds the schema-generation guard its get_queryset lacks.
router.register("postbacks", PartnerPostbackViewSet, basename="partner-postback")

urlpatterns = [
    re_path(r"^stats/?$", PartnerStatsView.as_view(), name="partner-stats"),
    *router.urls,
]
