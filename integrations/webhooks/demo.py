"""Demo data: an operator CRM endpoint and a partner's postbacks, both switched off.

They point at example.com: the demo never sends anything out of the machine until a manager enters a real URL
and enables them (Webhooks → endpoints, partner postbacks), and "Send test event" shows the delivery log.
"""

from django.db import transaction

from .choices import PostbackEvent
from .models import PartnerPostback, WebhookEndpoint
from .services import endpoint_create, postback_save

CRM_URL = "https://crm.example.com/webhooks/affiliate-platform"
CRM_EVENTS = [
    "affiliate.created", "affiliate.status_changed", "affiliate.payment_details_changed", "deal.changed",
    "deal.assigned", "commission.approved", "payout.approved", "payout.paid",
]  # fmt: skip
POSTBACK_TEMPLATES = {
    PostbackEvent.REGISTRATION: "https://tracker.example.com/postback?clickid={click_id}&goal=reg&sub1={sub1}",
    PostbackEvent.FTD: "https://tracker.example.com/postback?clickid={click_id}&goal=ftd&txid={event_id}",
    PostbackEvent.QUALIFIED_CPA: (
        "https://tracker.example.com/postback?clickid={click_id}&goal=cpa&payout={payout}&currency={currency}"
    ),
}


def seed(ctx: dict) -> list[str]:
    with transaction.atomic():
        if not WebhookEndpoint.objects.filter(url=CRM_URL).exists():
            endpoint_create(url=CRM_URL, event_types=CRM_EVENTS, description="Operator CRM (demo)", enabled=False)
        affiliate = next(iter(ctx["affiliates"].values()), None)
        if affiliate is not None:
            for event, template in POSTBACK_TEMPLATES.items():
                if not PartnerPostback.objects.filter(affiliate=affiliate, event=event).exists():
                    postback_save(affiliate=affiliate, event=event, url_template=template, enabled=False)
    return [
        f"{WebhookEndpoint.objects.count()} webhook endpoints, {PartnerPostback.objects.count()} partner postbacks "
        "(switched off: enable them with real URLs)"
    ]
