"""Partner postbacks: macros, which events fire which postback, what is retried, when one is disabled."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core import mail
from rest_framework.exceptions import ValidationError

from affiliates.tests.factories import AffiliateFactory
from integrations.webhooks.choices import DeliveryStatus, NoticeKind
from integrations.webhooks.models import Delivery, DeliveryNotice, PartnerPostback
from integrations.webhooks.outbox import outbox_publish, outbox_sweep
from integrations.webhooks.postbacks import hash_customer_id, render_template
from integrations.webhooks.services import postback_save
from tracking.tests.factories import ClickFactory, CustomerFactory

from .factories import PartnerPostbackFactory

ALL_MACROS = (
    "https://t.example.com/pb?c={click_id}&s1={sub1}&s2={sub2}&s3={sub3}&s4={sub4}&s5={sub5}&e={event}"
    "&p={payout}&cur={currency}&id={event_id}&cust={customer_id}"
)


def conversion(affiliate, **overrides):
    data = {
        "id": 501, "type": "ftd", "status": "qualified", "customer_external_id": "P-77", "affiliate_id": affiliate.pk,
        "click_id": "AbC123xYz", "sub1": "fb campaign/1", "sub2": "", "sub3": None, "amount": "50.00",
        "currency": "EUR", "occurred_at": "2026-11-28T10:00:00+00:00",
    }  # fmt: skip
    return data | overrides


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("https://t.example.com/?cid={click_id}", {"click_id": "AbC"}, "https://t.example.com/?cid=AbC"),
        ("https://t.example.com/?s={sub1}", {"sub1": "a b&c=d/é"}, "https://t.example.com/?s=a%20b%26c%3Dd%2F%C3%A9"),
        ("https://t.example.com/?s={sub1}&t={sub2}", {}, "https://t.example.com/?s=&t="),
        ("https://T.example.com/Path?X={click_id}&keep={unknown}", {"click_id": "Q"},
         "https://T.example.com/Path?X=Q&keep={unknown}"),
        ("https://t.example.com/{event}/?p={payout}", {"event": "ftd", "payout": "200.00"},
         "https://t.example.com/ftd/?p=200.00"),
        ("https://t.example.com/?a={CLICK_ID}", {"click_id": "x"}, "https://t.example.com/?a={CLICK_ID}"),
    ],
)  # fmt: skip
def test_template_fills_known_macros_url_encoded_and_leaves_the_rest_alone(template, values, expected):
    assert render_template(template, values) == expected


@pytest.mark.django_db
def test_ftd_conversion_fires_the_ftd_postback_with_every_macro(receiver, run_on_commit):
    affiliate = AffiliateFactory()
    PartnerPostbackFactory(
        affiliate=affiliate, event="ftd", url_template=receiver.url("/pb") + "?" + ALL_MACROS.split("?")[1]
    )
    PartnerPostbackFactory(affiliate=affiliate, event="registration", url_template=receiver.url("/reg"))

    run_on_commit(outbox_publish, type="conversion.created", data=conversion(affiliate), affiliate_id=affiliate.pk)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.method == "GET"
    assert query(request.path) == {
        "c": "AbC123xYz", "s1": "fb campaign/1", "s2": "", "s3": "", "s4": "", "s5": "", "e": "ftd", "p": "",
        "cur": "EUR", "id": "501", "cust": hash_customer_id("P-77"),
    }  # fmt: skip
    assert "%20" in request.path and "%2F" in request.path
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.url.endswith(request.path.split("?")[1])


@pytest.mark.django_db
def test_conversion_without_click_hints_takes_click_and_subs_from_the_attributed_customer(receiver, run_on_commit):
    affiliate = AffiliateFactory()
    click = ClickFactory(click_id="FromTheClick", sub2="s2")
    customer = CustomerFactory(affiliate=affiliate, click=click, sub2="s2", external_id="P-5")
    PartnerPostbackFactory(
        affiliate=affiliate,
        event="registration",
        url_template=receiver.url("/reg?c={click_id}&s2={sub2}&u={customer_id}"),
    )
    data = conversion(affiliate, type="registration", customer=customer.pk, customer_external_id="P-5", click_id=None)

    run_on_commit(outbox_publish, type="conversion.created", data=data, affiliate_id=affiliate.pk)

    assert query(receiver.requests[0].path) == {"c": "FromTheClick", "s2": "s2", "u": hash_customer_id("P-5")}


@pytest.mark.django_db
def test_events_from_a_source_in_test_mode_fire_no_postback(receiver, run_on_commit):
    affiliate = AffiliateFactory()
    PartnerPostbackFactory(affiliate=affiliate, event="ftd", url_template=receiver.url("/ftd"))

    data = conversion(affiliate, is_test=True)
    run_on_commit(outbox_publish, type="conversion.created", data=data, affiliate_id=affiliate.pk)

    assert receiver.requests == []


@pytest.mark.django_db
def test_registration_fires_registration_and_a_deposit_fires_nothing(receiver, run_on_commit):
    affiliate = AffiliateFactory()
    PartnerPostbackFactory(affiliate=affiliate, event="registration", url_template=receiver.url("/reg?c={click_id}"))
    PartnerPostbackFactory(affiliate=affiliate, event="ftd", url_template=receiver.url("/ftd"))

    for kind in ("registration", "deposit"):
        data = conversion(affiliate, type=kind)
        run_on_commit(outbox_publish, type="conversion.created", data=data, affiliate_id=affiliate.pk)

    assert [r.path for r in receiver.requests] == ["/reg?c=AbC123xYz"]


@pytest.mark.django_db
def test_cpa_commission_fires_qualified_cpa_and_commission_with_payout_and_the_customers_click(receiver, run_on_commit):
    affiliate = AffiliateFactory()
    click = ClickFactory(click_id="ClickCaseSensitive", sub1="s-one")
    customer = CustomerFactory(affiliate=affiliate, click=click, sub1="s-one", external_id="P-9")
    template = "?c={click_id}&s1={sub1}&p={payout}&cur={currency}&e={event}&id={event_id}&cust={customer_id}"
    PartnerPostbackFactory(affiliate=affiliate, event="qualified_cpa", url_template=receiver.url("/cpa") + template)
    PartnerPostbackFactory(
        affiliate=affiliate, event="commission", url_template=receiver.url("/com") + template, raw_customer_ids=True
    )
    data = {"id": 88, "kind": "cpa", "amount": "200.00", "currency": "EUR", "customer_id": customer.pk}

    run_on_commit(outbox_publish, type="commission.created", data=data, affiliate_id=affiliate.pk)

    by_path = {urlsplit(r.path).path: query(r.path) for r in receiver.requests}
    assert by_path["/cpa"] == {
        "c": "ClickCaseSensitive", "s1": "s-one", "p": "200.00", "cur": "EUR", "e": "qualified_cpa", "id": "88",
        "cust": hash_customer_id("P-9"),
    }  # fmt: skip
    assert by_path["/com"]["e"] == "commission"
    assert by_path["/com"]["cust"] == "P-9"


@pytest.mark.django_db
def test_revshare_commission_fires_only_the_commission_postback(receiver, run_on_commit):
    affiliate = AffiliateFactory()
    PartnerPostbackFactory(affiliate=affiliate, event="qualified_cpa", url_template=receiver.url("/cpa"))
    PartnerPostbackFactory(affiliate=affiliate, event="commission", url_template=receiver.url("/com?p={payout}"))
    data = {"id": 89, "kind": "revshare", "amount": "-12.50", "currency": "EUR"}

    run_on_commit(outbox_publish, type="commission.created", data=data, affiliate_id=affiliate.pk)

    assert [r.path for r in receiver.requests] == ["/com?p=-12.50"]


@pytest.mark.django_db
def test_another_affiliates_conversion_fires_nothing(receiver, run_on_commit):
    mine, other = AffiliateFactory(), AffiliateFactory()
    PartnerPostbackFactory(affiliate=mine, event="ftd", url_template=receiver.url("/ftd"))

    run_on_commit(outbox_publish, type="conversion.created", data=conversion(other), affiliate_id=other.pk)

    assert receiver.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "retried"),
    [(500, True), (503, True), (408, True), (429, True), ("close", True), (404, False), (400, False), (302, False),
     (410, False), (200, False)],
)  # fmt: skip
def test_only_network_errors_timeouts_408_429_and_5xx_are_retried(receiver, run_on_commit, answer, retried):
    receiver.script = [answer]
    affiliate = AffiliateFactory()
    PartnerPostbackFactory(affiliate=affiliate, event="ftd", url_template=receiver.url("/ftd"))

    run_on_commit(outbox_publish, type="conversion.created", data=conversion(affiliate), affiliate_id=affiliate.pk)

    delivery = Delivery.objects.get()
    assert (delivery.status == DeliveryStatus.PENDING) is retried
    assert delivery.attempt_log.count() == 1
    if answer == 200:
        assert delivery.status == DeliveryStatus.SUCCEEDED
    elif not retried:
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.last_status_code == answer


@pytest.mark.django_db
def test_consecutive_failures_disable_the_postback_and_tell_partner_and_manager(receiver, run_on_commit, settings):
    from django.contrib.auth import get_user_model

    settings.POSTBACKS_DISABLE_AFTER_FAILURES = 3
    receiver.script = [404]
    manager = get_user_model().objects.create_user(username="m", email="manager@example.com", is_staff=True)
    affiliate = AffiliateFactory(email="partner@example.com", manager=manager)
    postback = PartnerPostbackFactory(affiliate=affiliate, event="ftd", url_template=receiver.url("/ftd"))

    for n in range(4):
        data = conversion(affiliate, id=n)
        run_on_commit(outbox_publish, type="conversion.created", data=data, affiliate_id=affiliate.pk)

    postback.refresh_from_db()
    assert not postback.enabled
    assert postback.consecutive_failures == 3
    assert len(receiver.requests) == 3  # the fourth was not sent
    notice = DeliveryNotice.objects.get(kind=NoticeKind.POSTBACK_DISABLED)
    assert notice.recipients == ["manager@example.com", "partner@example.com"]
    assert sorted(mail.outbox[-1].to) == ["manager@example.com", "partner@example.com"]


@pytest.mark.django_db
def test_a_success_resets_the_failure_count(receiver, run_on_commit, settings):
    settings.POSTBACKS_DISABLE_AFTER_FAILURES = 3
    receiver.script = [404, 404, 200, 404, 404]
    affiliate = AffiliateFactory()
    postback = PartnerPostbackFactory(affiliate=affiliate, event="ftd", url_template=receiver.url("/ftd"))

    for n in range(5):
        data = conversion(affiliate, id=n)
        run_on_commit(outbox_publish, type="conversion.created", data=data, affiliate_id=affiliate.pk)

    postback.refresh_from_db()
    assert postback.enabled
    assert postback.consecutive_failures == 2


@pytest.mark.django_db
def test_retried_postback_succeeds_on_the_next_attempt(receiver, run_on_commit):
    receiver.script = [503, 200]
    affiliate = AffiliateFactory()
    PartnerPostbackFactory(affiliate=affiliate, event="ftd", url_template=receiver.url("/ftd?c={click_id}"))
    run_on_commit(outbox_publish, type="conversion.created", data=conversion(affiliate), affiliate_id=affiliate.pk)
    delivery = Delivery.objects.get()

    with time_machine.travel(delivery.next_attempt_at + timedelta(minutes=1), tick=False):
        run_on_commit(outbox_sweep)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    assert receiver.requests[0].path == receiver.requests[1].path == "/ftd?c=AbC123xYz"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "template",
    ["ftp://t.example.com/?c={click_id}", "http://127.0.0.1/?c={click_id}", "https://{sub1}.example.com/",
     "http://169.254.169.254/?c={click_id}", "not a url"],
)  # fmt: skip
def test_unsafe_or_malformed_templates_are_refused_at_save_time(template, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    with pytest.raises(ValidationError):
        postback_save(affiliate=AffiliateFactory(), event="ftd", url_template=template)

    assert not PartnerPostback.objects.exists()


@pytest.mark.django_db
def test_saving_again_changes_the_template_and_a_partner_save_keeps_the_managers_raw_id_choice():
    affiliate = AffiliateFactory()
    postback_save(affiliate=affiliate, event="ftd", url_template="https://t.example.com/a", raw_customer_ids=True)

    postback = postback_save(affiliate=affiliate, event="ftd", url_template="https://t.example.com/b?c={click_id}")

    assert PartnerPostback.objects.count() == 1
    assert (postback.url_template, postback.raw_customer_ids) == ("https://t.example.com/b?c={click_id}", True)


@pytest.mark.django_db
def test_unknown_postback_event_is_refused():
    with pytest.raises(ValidationError):
        postback_save(affiliate=AffiliateFactory(), event="deposit", url_template="https://t.example.com/")
