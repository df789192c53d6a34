"""Affiliates API: CRUD, the status workflow (approve, suspend, reject), sub-affiliate parents, filters."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from affiliates.choices import AffiliateStatus
from affiliates.models import Affiliate, AffiliateStatusChange
from affiliates.tests.factories import AffiliateFactory

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Top Affiliates Ltd", "email": "ops@top.example", "company": "Top Ltd", "country": "MT",
    "payment_method": "bank_transfer", "payment_details": {"iban": "MT84MALT011000012345MTLCAST001S"},
    "payout_currency": "USD", "payout_threshold": "250.50",
}  # fmt: skip


def errors_of(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_create_affiliate_stores_exact_values_and_starts_pending(mgmt):
    manager = get_user_model().objects.create(username="manager", is_staff=True)  # no password: no slow hash

    response = mgmt.post("/api/v1/affiliates", {**VALID, "manager": manager.pk}, format="json")

    assert response.status_code == 201, response.content
    affiliate = Affiliate.objects.get(email="ops@top.example")
    assert affiliate.status == AffiliateStatus.PENDING
    assert affiliate.payout_threshold == Decimal("250.50")
    assert (affiliate.payout_currency, affiliate.country.code, affiliate.manager) == ("USD", "MT", manager)
    assert affiliate.payment_details == {"iban": "MT84MALT011000012345MTLCAST001S"}
    body = response.json()
    assert body["payout_threshold"] == "250.50" and body["status"] == "pending" and body["parent"] is None
    assert list(AffiliateStatusChange.objects.values_list("from_status", "to_status")) == [("", "pending")]


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"nickname": "x"}, "nickname", "Unknown field."),
        ({"status": "active"}, "status", "This field is read-only."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"country": "XX"}, "country", '"XX" is not a valid choice.'),
        ({"country": "Atlantis"}, "country", '"Atlantis" is not a valid choice.'),
        ({"payout_currency": "BTC"}, "payout_currency", "'BTC' is not an ISO 4217 currency code."),
        ({"payout_threshold": "-1.00"}, "payout_threshold", "Ensure this value is greater than or equal to 0."),
        ({"payout_threshold": "1e400"}, "payout_threshold", "Ensure that there are no more than 18 digits in total."),
        ({"payout_threshold": "NaN"}, "payout_threshold", "A valid number is required."),
        ({"payout_threshold": "Infinity"}, "payout_threshold", "A valid number is required."),
        ({"payout_threshold": "10.001"}, "payout_threshold", "Ensure that there are no more than 2 decimal places."),
        ({"payout_threshold": "100000000000.00"}, "payout_threshold",
         "Ensure this value is less than or equal to 100000000."),
        ({"payout_threshold": True}, "payout_threshold", "A valid number is required."),
        ({"payment_details": ["iban"]}, "payment_details", "Must be an object of field names to text values."),
        ({"payment_details": {"iban": {"nested": 1}}}, "payment_details",
         "Must be an object of field names to text values."),
        ({"payment_method": "cheque"}, "payment_method", '"cheque" is not a valid choice.'),
        ({"parent": 999999}, "parent", 'Invalid pk "999999" - object does not exist.'),
        ({"parent": "one"}, "parent", "Incorrect type. Expected pk value, received str."),
    ],
)  # fmt: skip
def test_bad_affiliate_input_is_refused(mgmt, change, field, message):
    errors = errors_of(mgmt.post("/api/v1/affiliates", {**VALID, **change}, format="json"))

    assert errors[field] == message
    assert not Affiliate.objects.exists()


def test_manager_must_be_staff(mgmt):
    partner_user = get_user_model().objects.create(username="partner")

    errors = errors_of(mgmt.post("/api/v1/affiliates", {**VALID, "manager": partner_user.pk}, format="json"))

    assert errors["manager"] == f'Invalid pk "{partner_user.pk}" - object does not exist.'


def test_json_number_amount_is_read_as_an_exact_decimal(mgmt):
    response = mgmt.generic(
        "POST",
        "/api/v1/affiliates",
        '{"name": "N", "email": "n@example.com", "payout_threshold": 0.1}',
        content_type="application/json",
    )

    assert response.status_code == 201
    assert Affiliate.objects.get().payout_threshold == Decimal("0.10")


def test_json_1e400_amount_is_refused(mgmt):
    response = mgmt.generic(
        "POST",
        "/api/v1/affiliates",
        '{"name": "N", "email": "n@example.com", "payout_threshold": 1e400}',
        content_type="application/json",
    )

    assert errors_of(response)["payout_threshold"] == "Ensure that there are no more than 18 digits in total."


def test_update_affiliate_sets_sub_affiliate_parent(mgmt):
    parent, child = AffiliateFactory(), AffiliateFactory()

    response = mgmt.patch(f"/api/v1/affiliates/{child.pk}", {"parent": parent.pk, "notes": "via forum"}, format="json")

    assert response.status_code == 200
    child.refresh_from_db()
    assert (child.parent, child.notes) == (parent, "via forum")


def test_affiliate_cannot_be_its_own_parent(mgmt):
    affiliate = AffiliateFactory()

    errors = errors_of(mgmt.patch(f"/api/v1/affiliates/{affiliate.pk}", {"parent": affiliate.pk}, format="json"))

    assert errors["parent"] == "An affiliate cannot be its own parent."


def test_indirect_parent_cycle_is_refused(mgmt):
    top = AffiliateFactory()
    middle = AffiliateFactory(parent=top)
    bottom = AffiliateFactory(parent=middle)

    errors = errors_of(mgmt.patch(f"/api/v1/affiliates/{top.pk}", {"parent": bottom.pk}, format="json"))

    assert errors["parent"] == "An affiliate cannot be its own (indirect) parent."
    top.refresh_from_db()
    assert top.parent is None


@pytest.mark.parametrize(
    "start, action, reason, end",
    [
        ("pending", "approve", "", "active"),
        ("suspended", "approve", "cleared", "active"),
        ("rejected", "approve", "appeal accepted", "active"),
        ("active", "suspend", "fraud review", "suspended"),
        ("pending", "reject", "no website", "rejected"),
        ("suspended", "reject", "confirmed fraud", "rejected"),
    ],
)
def test_status_actions_move_the_affiliate_and_record_why(mgmt, start, action, reason, end):
    affiliate = AffiliateFactory(status=start)

    response = mgmt.post(f"/api/v1/affiliates/{affiliate.pk}/{action}", {"reason": reason}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == end and response.json()["status_reason"] == reason
    affiliate.refresh_from_db()
    assert (affiliate.status, affiliate.status_reason) == (end, reason)
    change = AffiliateStatusChange.objects.get(affiliate=affiliate)
    assert (change.from_status, change.to_status, change.reason) == (start, end, reason)
    assert (affiliate.approved_at is not None) == (end == "active")


@pytest.mark.parametrize(
    "start, action",
    [("pending", "suspend"), ("rejected", "suspend"), ("active", "reject")],
)
def test_invalid_status_transitions_are_refused(mgmt, start, action):
    affiliate = AffiliateFactory(status=start)

    response = mgmt.post(f"/api/v1/affiliates/{affiliate.pk}/{action}", {"reason": "because"}, format="json")

    target = {"suspend": "suspended", "reject": "rejected"}[action]
    assert errors_of(response)["status"] == f"An affiliate that is {start} cannot become {target}."
    affiliate.refresh_from_db()
    assert affiliate.status == start
    assert not AffiliateStatusChange.objects.filter(affiliate=affiliate).exists()


@pytest.mark.parametrize("action, start", [("suspend", "active"), ("reject", "pending")])
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_suspend_and_reject_need_a_reason(mgmt, action, start, body):
    affiliate = AffiliateFactory(status=start)

    errors = errors_of(mgmt.post(f"/api/v1/affiliates/{affiliate.pk}/{action}", body, format="json"))

    assert "A reason is required" in errors["reason"]
    affiliate.refresh_from_db()
    assert affiliate.status == start


def test_status_action_refuses_unknown_fields_and_long_reasons(mgmt):
    affiliate = AffiliateFactory(status="active")
    url = f"/api/v1/affiliates/{affiliate.pk}/suspend"

    assert errors_of(mgmt.post(url, {"reason": "x", "status": "rejected"}, format="json"))["status"] == "Unknown field."
    assert errors_of(mgmt.post(url, {"reason": "x" * 501}, format="json"))["reason"] == (
        "Ensure this field has no more than 500 characters."
    )


def test_approving_an_active_affiliate_changes_nothing(mgmt):
    affiliate = AffiliateFactory(status="active")

    response = mgmt.post(f"/api/v1/affiliates/{affiliate.pk}/approve", {}, format="json")

    assert response.status_code == 200 and response.json()["status"] == "active"
    assert not AffiliateStatusChange.objects.filter(affiliate=affiliate).exists()


def test_status_action_on_unknown_affiliate_is_404(mgmt):
    response = mgmt.post("/api/v1/affiliates/999999/approve", {}, format="json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_filter_affiliates_by_status_and_search(mgmt):
    AffiliateFactory(name="Alpha Media", email="a@alpha.example", status="active")
    AffiliateFactory(name="Beta Traffic", email="b@beta.example", status="pending", company="Alpha Holdings")
    AffiliateFactory(name="Gamma", email="g@gamma.example", status="suspended")

    def names(query):
        response = mgmt.get(f"/api/v1/affiliates?{query}")
        assert response.status_code == 200
        return sorted(a["name"] for a in response.json()["results"])

    assert names("status=active") == ["Alpha Media"]
    assert names("status__in=pending,suspended") == ["Beta Traffic", "Gamma"]
    assert names("q=alpha") == ["Alpha Media", "Beta Traffic"]
    assert names("q=gamma.example") == ["Gamma"]
    assert names("q=alpha&status=pending") == ["Beta Traffic"]


def test_unknown_status_filter_value_is_a_400_problem(mgmt):
    response = mgmt.get("/api/v1/affiliates?status=sleeping")

    assert errors_of(response)["status"] == "Select a valid choice. sleeping is not one of the available choices."
