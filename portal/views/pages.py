"""The partner's everyday pages. Each view reads `request.affiliate` (set by `partner_required`) and asks
selectors for that affiliate's rows only: another affiliate's ids answer 404."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError as ApiValidationError

from affiliates.models import Brand
from commissions.choices import EntryKind, EntryStatus
from integrations.webhooks.choices import PostbackEvent
from integrations.webhooks.models import Delivery, PartnerPostback
from integrations.webhooks.postbacks import MACROS
from integrations.webhooks.services import postback_save
from tracking.choices import MISS_REASON_CHOICES
from tracking.models import TrackingLink
from tracking.selectors import partner_unattributed
from tracking.services import tracking_link_create, tracking_link_set_active

from .. import reports, selectors, services
from ..access import partner_required
from ..forms import DETAIL_LABELS, ApiKeyForm, PaymentDetailsForm, PostbackForm, RangeForm, ReportForm, TrackingLinkForm

PAGE_SIZE = 50


def _range(request, form_class=RangeForm):
    """The page's range form, bound to the range in force (the defaults filled in, so the inputs show them)."""
    form = form_class(request.GET)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        form = form_class({})
        form.is_valid()
    data = {"start": form.cleaned_data["start"].isoformat(), "end": form.cleaned_data["end"].isoformat()}
    if "group_by" in form.fields:
        data["group_by"] = form.cleaned_data["group_by"]
    bound = form_class(data)
    bound.is_valid()
    return bound


def _query(request) -> str:
    """The page's filters, without the page number, for pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _page(request, rows):
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


# --- Dashboard ------------------------------------------------------------------------------------


@partner_required
def dashboard(request):
    form = _range(request)
    start, end = form.bounds()
    board = reports.dashboard(affiliate_id=request.affiliate.pk, start=start, end=end)
    balances = selectors.partner_balance(affiliate_id=request.affiliate.pk)
    presets = []
    today = form.cleaned_data["end"]
    for days in (7, 30, 90):
        presets.append(
            {"days": days, "start": (today - dt.timedelta(days=days - 1)).isoformat(), "end": today.isoformat()}
        )
    context = {
        "form": form,
        "board": board,
        "chart": reports.chart_data(board),
        "balances": balances,
        "presets": presets,
        "previous_end": start - dt.timedelta(days=1),
        "base_currency": settings.BASE_CURRENCY,
    }
    return render(request, "portal/dashboard.html", context)


# --- Reports --------------------------------------------------------------------------------------


REPORT_COLUMNS = [
    ("clicks", "Clicks"),
    ("registrations", "Registrations"),
    ("ftds", "FTDs"),
    ("deposits", "Deposits"),
    ("deposit_amount", "Deposit amount"),
    ("revenue", "Revenue"),
]


@partner_required
def report(request):
    form = _range(request, ReportForm)
    start, end = form.bounds()
    group_by = form.cleaned_data["group_by"]
    sort = request.GET.get("sort", "label")
    rows = reports.sort_rows(
        reports.report(affiliate_id=request.affiliate.pk, start=start, end=end, group_by=group_by), sort
    )
    currencies = reports.report_currencies(rows)
    if request.GET.get("format") == "csv":
        return _report_csv(rows, currencies, form, group_by)
    totals = reports.totals_of([r.stats for r in rows])
    query = urlencode(form.data)
    headers = []
    for name, label in [
        ("label", dict(form.fields["group_by"].choices)[group_by]),
        *REPORT_COLUMNS,
        ("commission", "Commission"),
    ]:
        direction = "-" + name if sort == name else name
        state = "ascending" if sort == name else "descending" if sort == "-" + name else "none"
        headers.append({"name": name, "label": label, "sort": direction, "state": state})
    context = {
        "form": form,
        "rows": rows,
        "totals": totals,
        "currencies": currencies,
        "headers": headers,
        "query": query,
        "group_by": group_by,
        "base_currency": settings.BASE_CURRENCY,
    }
    return render(request, "portal/report.html", context)


def _report_csv(rows, currencies, form, group_by) -> HttpResponse:
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="report-{group_by}-{start}-{end}.csv"'
    writer = csv.writer(response)
    base = settings.BASE_CURRENCY
    writer.writerow(
        [group_by, "clicks", "registrations", "ftds", "deposits", f"deposit_amount_{base}", f"revenue_{base}"]
        + [f"commission_{c}" for c in currencies]
    )
    for r in rows:
        s = r.stats
        label = r.label if group_by == "link" else r.key
        writer.writerow(
            [_csv_safe(label), s.clicks, s.registrations, s.ftds, s.deposits, s.deposit_amount, s.revenue]
            + [s.commission.get(c, Decimal("0.00")) for c in currencies]
        )
    return response


def _csv_safe(value: str) -> str:
    """Sub ids are the partner's own free text: keep a spreadsheet from reading one as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- Customers ------------------------------------------------------------------------------------


@partner_required
def customers(request):
    brand_id = request.GET.get("brand") or None
    if brand_id is not None and not str(brand_id).isdigit():
        brand_id = None
    page = _page(request, reports.partner_customers(affiliate_id=request.affiliate.pk, brand_id=brand_id))
    commissions = reports.customer_commissions(affiliate_id=request.affiliate.pk, customer_ids=[c.pk for c in page])
    rows = [
        {
            "id": reports.anonymised_id(c),
            "brand": c.brand.name,
            "country": c.country,
            "registered_at": c.registered_at,
            "status": reports.customer_status(c),
            "status_label": reports.CUSTOMER_STATUSES[reports.customer_status(c)],
            "link": c.link.name or c.link.token[:8] if c.link_id else "",
            "commission": sorted(commissions.get(c.pk, {}).items()),
        }
        for c in page
    ]
    brands = Brand.objects.filter(customers__affiliate_id=request.affiliate.pk).distinct().order_by("name")
    return render(
        request,
        "portal/customers.html",
        {"page": page, "rows": rows, "brands": brands, "brand_id": brand_id, "query": _query(request)},
    )


@partner_required
def unattributed(request):
    """The partner's own clicks, links and promo codes that an operator sent for a customer credited to nobody,
    with the reason the platform recorded: a dispute starts from these facts."""
    reason = request.GET.get("reason", "")
    if reason not in dict(MISS_REASON_CHOICES):
        reason = ""
    page = _page(request, partner_unattributed(affiliate_id=request.affiliate.pk, reason=reason))
    rows = [
        {
            "customer": reports.anonymised_id(miss.customer),
            "brand": miss.customer.brand.name,
            "occurred_at": miss.occurred_at,
            "hint": miss.get_hint_display(),
            "value": miss.value,
            "reason": miss.reason,
            "message": miss.message,
            "click": miss.click,
        }
        for miss in page
    ]
    return render(
        request,
        "portal/unattributed.html",
        {"page": page, "rows": rows, "reasons": MISS_REASON_CHOICES, "reason": reason, "query": _query(request)},
    )


# --- Tracking links -------------------------------------------------------------------------------


@partner_required
def links(request):
    affiliate = request.affiliate
    form = TrackingLinkForm(request.POST or None)
    if request.method == "POST":
        if affiliate.status != "active":
            messages.error(request, "Only an active account can create links.")
            return redirect("portal:links")
        if form.is_valid():
            try:
                link = tracking_link_create(
                    affiliate=affiliate,
                    brand=form.cleaned_data["brand"],
                    landing_url=form.cleaned_data["landing_url"],
                    name=form.cleaned_data["name"],
                    created_by=request.user,
                )
            except ValidationError as exc:
                form.add_error("landing_url", " ".join(exc.messages))
            else:
                messages.success(request, f"Link created: {link.url}")
                return redirect("portal:links")
    rows = list(selectors.partner_tracking_links(affiliate_id=affiliate.pk))
    numbers = reports.link_numbers(affiliate_id=affiliate.pk, link_ids=[link.pk for link in rows])
    codes = list(reports.partner_promo_codes(affiliate_id=affiliate.pk))
    code_customers = reports.promo_code_customers(affiliate_id=affiliate.pk, code_ids=[c.pk for c in codes])
    context = {
        "form": form,
        "links": [{"link": link, "numbers": numbers[link.pk]} for link in rows],
        "codes": [{"code": c, "customers": code_customers.get(c.pk, 0)} for c in codes],
    }
    return render(request, "portal/links.html", context, status=400 if form.errors else 200)


@partner_required
def link_detail(request, pk: int):
    link = get_object_or_404(selectors.partner_tracking_links(affiliate_id=request.affiliate.pk), pk=pk)
    form = _range(request)
    start, end = form.bounds()
    rows = [
        r for r in reports.link_stats(affiliate_id=request.affiliate.pk, start=start, end=end) if r.group == str(pk)
    ]
    numbers = reports.link_numbers(affiliate_id=request.affiliate.pk, link_ids=[pk])[pk]
    return render(
        request,
        "portal/link_detail.html",
        {"link": link, "form": form, "period": rows[0] if rows else None, "numbers": numbers},
    )


@require_POST
@partner_required
def link_toggle(request, pk: int):
    link = get_object_or_404(TrackingLink, pk=pk, affiliate_id=request.affiliate.pk)
    tracking_link_set_active(link=link, is_active=not link.is_active)
    messages.success(request, f"Link {'enabled' if link.is_active else 'paused'}: {link.name or link.token}.")
    return redirect("portal:links")


# --- Deals ----------------------------------------------------------------------------------------


@partner_required
def deals(request):
    from affiliates.services import deal_version_terms

    rows = []
    for assignment in selectors.partner_deal_assignments(affiliate_id=request.affiliate.pk).order_by(
        "brand__name", "-valid_from"
    ):
        history = []
        for version, effective_to in selectors.version_periods(list(assignment.deal.versions.all())):
            terms = {**deal_version_terms(version), **assignment.overrides}
            history.append({"version": version, "to": effective_to, "summary": reports.deal_summary(terms)})
        rows.append({"assignment": assignment, "current": history[-1] if history else None, "history": history[::-1]})
    return render(request, "portal/deals.html", {"rows": rows})


# --- Commissions ----------------------------------------------------------------------------------


@partner_required
def commissions(request):
    status = request.GET.get("status") or None
    kind = request.GET.get("kind") or None
    status = status if status in EntryStatus.values else None
    kind = kind if kind in EntryKind.values else None
    rows = selectors.partner_commissions(affiliate_id=request.affiliate.pk, status=status, kind=kind).select_related(
        "brand", "customer", "source_affiliate", "deal_version"
    )
    page = _page(request, rows.order_by("-occurred_at", "-pk"))
    context = {
        "page": page,
        "entries": [_entry(e, request.affiliate.pk) for e in page],
        "balances": selectors.partner_balance(affiliate_id=request.affiliate.pk),
        "statuses": EntryStatus.choices,
        "kinds": EntryKind.choices,
        "status": status,
        "kind": kind,
        "query": _query(request),
    }
    return render(request, "portal/commissions.html", context)


def _entry(entry, affiliate_id: int) -> dict:
    own_customer = entry.customer is not None and entry.customer.affiliate_id == affiliate_id
    return {
        "entry": entry,
        # A sub-affiliate override names the child, never the child's customer.
        "customer": reports.anonymised_id(entry.customer) if own_customer else "",
        "source": entry.source_affiliate.name if entry.source_affiliate_id else "",
    }


@partner_required
def commission_detail(request, pk: int):
    entry = get_object_or_404(
        selectors.partner_commissions(affiliate_id=request.affiliate.pk).select_related(
            "brand", "customer", "source_affiliate", "deal_version", "reverses"
        ),
        pk=pk,
    )
    reversals = selectors.partner_commissions(affiliate_id=request.affiliate.pk).filter(reverses=entry)
    return render(
        request,
        "portal/commission_detail.html",
        {"row": _entry(entry, request.affiliate.pk), "reversals": list(reversals)},
    )


# --- Postbacks ------------------------------------------------------------------------------------


@partner_required
def postbacks(request):
    affiliate = request.affiliate
    form = PostbackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            postback_save(
                affiliate=affiliate,
                event=form.cleaned_data["event"],
                url_template=form.cleaned_data["url_template"].strip(),
                enabled=form.cleaned_data["enabled"],
            )
        except ApiValidationError as exc:
            form.add_error("url_template", services._errors(exc))
        else:
            messages.success(
                request, f"The {dict(PostbackEvent.choices)[form.cleaned_data['event']]} postback is saved."
            )
            return redirect("portal:postbacks")
    saved = list(PartnerPostback.objects.filter(affiliate=affiliate).order_by("event"))
    deliveries = (
        Delivery.objects.filter(postback__affiliate=affiliate)
        .select_related("postback", "event")
        .prefetch_related("attempt_log")
        .order_by("-pk")[:50]
    )
    context = {
        "form": form,
        "postbacks": [
            {
                "postback": p,
                "form": PostbackForm(
                    initial={"event": p.event, "url_template": p.url_template, "enabled": p.enabled}, prefix=f"pb{p.pk}"
                ),
            }
            for p in saved
        ],
        "deliveries": deliveries,
        "macros": MACROS,
    }
    return render(request, "portal/postbacks.html", context, status=400 if form.errors else 200)


@require_POST
@partner_required
def postback_test(request, pk: int):
    postback = get_object_or_404(PartnerPostback, pk=pk, affiliate_id=request.affiliate.pk)
    try:
        delivery = services.postback_send_test(postback=postback)
    except services.PortalError as exc:
        messages.error(request, str(exc))
    else:
        delivery.refresh_from_db()
        if delivery.status == "succeeded":
            messages.success(request, f"Test postback delivered: your tracker answered {delivery.last_status_code}.")
        elif delivery.status == "failed" or delivery.last_error:
            messages.error(request, f"Test postback failed: {delivery.last_error or delivery.last_status_code}.")
        else:
            messages.info(request, "Test postback queued: its result appears in the delivery log below.")
    return redirect(reverse("portal:postbacks") + "#deliveries")


@require_POST
@partner_required
def postback_delete(request, pk: int):
    postback = get_object_or_404(PartnerPostback, pk=pk, affiliate_id=request.affiliate.pk)
    postback.delete()
    messages.success(request, "Postback deleted.")
    return redirect("portal:postbacks")


@partner_required
def delivery_detail(request, pk: int):
    delivery = get_object_or_404(
        Delivery.objects.select_related("postback", "event").prefetch_related("attempt_log"),
        pk=pk,
        postback__affiliate_id=request.affiliate.pk,
    )
    return render(request, "portal/delivery_detail.html", {"delivery": delivery})


# --- API keys -------------------------------------------------------------------------------------


@partner_required
def api_keys(request):
    affiliate = request.affiliate
    form = ApiKeyForm(request.POST or None)
    raw = None
    if request.method == "POST":
        if affiliate.status != "active":
            messages.error(request, "Only an active account can create API keys.")
            return redirect("portal:api-keys")
        if form.is_valid():
            try:
                _, raw = services.partner_key_create(
                    affiliate=affiliate, name=form.cleaned_data["name"], by=request.user
                )
            except services.PortalError as exc:
                form.add_error("name", str(exc))
            else:
                form = ApiKeyForm()
    keys = services.active_partner_keys(affiliate).order_by("-created_at")
    response = render(
        request,
        "portal/api_keys.html",
        {"form": form, "keys": keys, "raw": raw, "api_base": f"{settings.PUBLIC_BASE_URL}/api/partner/v1/"},
        status=400 if form.errors else 200,
    )
    if raw:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@partner_required
def api_key_revoke(request, pk: int):
    from core.models import ApiKey

    try:
        key = services.partner_key_revoke(affiliate=request.affiliate, key_id=pk)
    except ApiKey.DoesNotExist as exc:
        raise Http404 from exc
    messages.success(request, f"Key {key.prefix}… revoked: it stops working within {settings.API_KEY_CACHE_SECONDS} s.")
    return redirect("portal:api-keys")


# --- Payment details ------------------------------------------------------------------------------


@partner_required
def payment(request):
    affiliate = request.affiliate
    initial = {"payment_method": affiliate.payment_method, **(affiliate.payment_details or {})}
    form = PaymentDetailsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.payment_change_request(
                affiliate=affiliate,
                user=request.user,
                payment_method=form.cleaned_data["payment_method"],
                payment_details=form.details(),
            )
        except services.PortalError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"We sent a confirmation link to {affiliate.email}. The new details apply once you open it "
                f"(within {settings.PORTAL_PAYMENT_CONFIRM_HOURS} hours).",
            )
            return redirect("portal:payment")
    details = [(DETAIL_LABELS.get(k, k), v) for k, v in (affiliate.payment_details or {}).items()]
    return render(
        request,
        "portal/payment.html",
        {"form": form, "affiliate": affiliate, "details": details},
        status=400 if form.errors else 200,
    )


@partner_required
def payment_confirm(request, token: str):
    """GET shows what the link would change; POST applies it (a link preview in a mail client changes nothing)."""
    affiliate = request.affiliate
    try:
        change = services.payment_change_read(token)
        if change.affiliate_id != affiliate.pk:
            raise services.PortalError("This confirmation link belongs to another account.")
    except services.PortalError as exc:
        messages.error(request, str(exc))
        return redirect("portal:payment")
    if request.method == "POST":
        try:
            services.payment_change_confirm(token=token, affiliate=affiliate, user=request.user)
        except services.PortalError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Your new payment details are saved.")
        return redirect("portal:payment")
    details = [(DETAIL_LABELS.get(k, k), v) for k, v in change.payment_details.items()]
    from affiliates.choices import PaymentMethod

    return render(
        request,
        "portal/payment_confirm.html",
        {"method": PaymentMethod(change.payment_method).label, "details": details, "token": token},
    )


# --- Sub-affiliates -------------------------------------------------------------------------------


@partner_required
def subaffiliates(request):
    affiliate = request.affiliate
    rows, override_total = reports.subaffiliate_summary(affiliate_id=affiliate.pk)
    link = None
    if affiliate.status == "active":
        link = services.absolute(reverse("portal:signup") + "?ref=" + services.subaffiliate_ref(affiliate=affiliate))
    return render(
        request,
        "portal/subaffiliates.html",
        {"rows": rows, "override_total": sorted(override_total.items()), "signup_link": link},
    )
