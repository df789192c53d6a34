"""An affiliate's payout settings through the management API and the admin form."""

import pytest
from django.urls import reverse

from affiliates.tests.factories import AffiliateFactory

pytestmark = pytest.mark.django_db


def test_payout_settings_are_read_and_updated_through_the_affiliates_api(mgmt):
    affiliate = AffiliateFactory()
    url = f"/api/v1/affiliates/{affiliate.pk}"
    row = mgmt.get(url).json()
    assert (row["payout_frequency"], row["payout_scope"], row["vat_rate"], row["invoice_required"]) == (
        "monthly", "per_brand", "0.00", False,
    )  # fmt: skip
    changed = mgmt.patch(url, {"payout_frequency": "weekly", "payout_scope": "all_brands", "vat_number": "MT1",
                               "vat_rate": "18.00", "invoice_required": True}, format="json")  # fmt: skip
    assert changed.status_code == 200, changed.json()
    affiliate.refresh_from_db()
    assert (affiliate.payout_frequency, affiliate.payout_scope, str(affiliate.vat_rate)) == (
        "weekly", "all_brands", "18.00",
    )  # fmt: skip


@pytest.mark.parametrize(("body", "field"), [
    ({"vat_rate": "101"}, "vat_rate"), ({"vat_rate": "-1"}, "vat_rate"), ({"payout_frequency": "daily"},
                                                                           "payout_frequency"),
    ({"payout_scope": "galaxy"}, "payout_scope"),
])  # fmt: skip
def test_bad_payout_settings_are_refused_with_the_field(mgmt, body, field):
    affiliate = AffiliateFactory()
    response = mgmt.patch(f"/api/v1/affiliates/{affiliate.pk}", body, format="json")
    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}


def test_the_affiliate_admin_form_shows_the_payout_settings(admin_client):
    affiliate = AffiliateFactory()
    page = admin_client.get(reverse("admin:affiliates_affiliate_change", args=[affiliate.pk])).content.decode()
    for name in ("payout_frequency", "payout_scope", "invoice_required", "vat_number", "vat_rate"):
        assert f'name="{name}"' in page
