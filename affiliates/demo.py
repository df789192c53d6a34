"""Demo programme: three brands, a dozen affiliates (with a 3-level sub-affiliate tree), deals of every kind,
a deal with two versions, brand defaults and per-affiliate overrides.

Everything is made through `affiliates.services` and looked up first, so running it again changes nothing.
`seed_demo` passes the result on to the other apps' `demo.seed(ctx)` as:

    ctx = {
        "brands": {slug: Brand},          # "lucky-casino", "atlas-fx", "summit-prop"
        "affiliates": {name: Affiliate},  # see AFFILIATES below
        "deals": {name: Deal},            # see DEALS below
        "manager": User,                  # the staff account manager
        "admin": User,                    # the superuser
    }
"""

from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from core import roles

from . import services
from .choices import AffiliateStatus, DealKind, LotRounding, PaymentMethod, RevenueBasis, TierApplication, Vertical
from .models import Affiliate, Brand, Deal, DealAssignment

User = get_user_model()

START = date(2025, 1, 1)  # the programme's first day: deals and assignments run from here, open-ended
SECOND_VERSION_FROM = date(2025, 7, 1)

ADMIN = {"username": "admin", "password": "admin", "email": "admin@example.com"}
MANAGER = {"username": "manager", "password": "manager", "email": "mia.keller@example.com"}
PARTNER = {"username": "partner", "password": "partner", "email": "partner@casinokings.example"}
FINANCE = {"username": "finance", "password": "finance", "email": "finance@example.com"}
READ_ONLY = {"username": "readonly", "password": "readonly", "email": "auditor@example.com"}
PARTNER_AFFILIATE = "Casino Kings Media"  # the portal login above belongs to this affiliate
MANAGER_GROUP = roles.MANAGER_GROUP  # "Affiliate managers": the programme's apps, not users or keys

BRANDS = [
    {
        "slug": "lucky-casino",
        "name": "Lucky Casino",
        "vertical": Vertical.CASINO,
        "currency": "EUR",
        "timezone": "Europe/Malta",
        "click_param": "btag",
        "website": "https://lucky-casino.example",
    },
    {
        "slug": "atlas-fx",
        "name": "Atlas FX",
        "vertical": Vertical.FOREX,
        "currency": "USD",
        "timezone": "Asia/Nicosia",
        "click_param": "click_id",
        "website": "https://atlas-fx.example",
    },
    {
        "slug": "summit-prop",
        "name": "Summit Prop",
        "vertical": Vertical.PROP,
        "currency": "USD",
        "timezone": "America/New_York",
        "click_param": "click_id",
        "website": "https://summit-prop.example",
    },
]

# (name, email, country, status, reason, parent name)
AFFILIATES = [
    ("Casino Kings Media", "team@casinokings.example", "DE", AffiliateStatus.ACTIVE, "", None),
    ("Slots Review Hub", "hello@slotsreviewhub.example", "AT", AffiliateStatus.ACTIVE, "", "Casino Kings Media"),
    ("Bonus Hunter Blog", "editor@bonushunter.example", "DE", AffiliateStatus.ACTIVE, "", "Slots Review Hub"),
    ("Jackpot Junction", "ads@jackpotjunction.example", "GB", AffiliateStatus.PENDING, "", "Casino Kings Media"),
    ("Bet Insider", "partners@betinsider.example", "GB", AffiliateStatus.ACTIVE, "", None),
    ("Nordic Casino Guide", "info@nordiccasino.example", "SE", AffiliateStatus.PENDING, "", None),
    ("Spin Deals", "contact@spindeals.example", "MT", AffiliateStatus.SUSPENDED,
     "Incentivised traffic sent without disclosure (audit 2025-03).", None),
    ("Quick Cash Traffic", "sales@quickcash.example", "NG", AffiliateStatus.REJECTED,
     "Sample traffic failed fraud screening.", None),
    ("FX Signals Pro", "desk@fxsignals.example", "CY", AffiliateStatus.ACTIVE, "", None),
    ("Pip Academy", "school@pipacademy.example", "AE", AffiliateStatus.ACTIVE, "", None),
    ("Funded Talk", "show@fundedtalk.example", "US", AffiliateStatus.ACTIVE, "", None),
    ("Prop Firm Compare", "data@propfirmcompare.example", "GB", AffiliateStatus.ACTIVE, "", None),
]  # fmt: skip

CASINO_QUALIFICATION = {"min_ftd": "20.00", "min_deposits": "50.00", "min_wagering": "100.00", "window_days": 30}

# brand slug → the terms of its deals (names are unique across the demo, so ctx can key deals by name)
DEALS = {
    "lucky-casino": [
        {
            "name": "Casino CPA Europe", "kind": DealKind.CPA, "currency": "EUR", "hold_days": 30,
            "cpa_amount": "150.00", "country_amounts": {"DE": "200.00", "AT": "180.00", "GB": "175.00"},
            "qualification": CASINO_QUALIFICATION, "cpa_monthly_cap": 500,
            "tiers": [{"min_ftds": 10, "cpa_amount": "200.00"}, {"min_ftds": 25, "cpa_amount": "250.00"}],
        },
        {
            "name": "Casino RevShare 30", "kind": DealKind.REVSHARE, "currency": "EUR", "hold_days": 0,
            "revshare_percent": "30", "revenue_basis": RevenueBasis.NGR, "negative_carryover": True,
            "tiers": [{"min_revenue": "10000", "revshare_percent": "35"},
                      {"min_revenue": "50000", "revshare_percent": "40"}],
            "tier_application": TierApplication.WHOLE_PERIOD, "subaffiliate_percent": "5",
        },
        {
            "name": "Casino RevShare 25 No Carryover", "kind": DealKind.REVSHARE, "currency": "EUR",
            "revshare_percent": "25", "revenue_basis": RevenueBasis.NET_REVENUE, "negative_carryover": False,
        },
        {
            "name": "Casino Hybrid DACH", "kind": DealKind.HYBRID, "currency": "EUR", "hold_days": 30,
            "countries": ["DE", "AT", "CH"], "cpa_amount": "100.00", "qualification": CASINO_QUALIFICATION,
            "revshare_percent": "20", "negative_carryover": False, "subaffiliate_percent": "5",
        },
        {
            "name": "Casino CPL Registrations", "kind": DealKind.CPL, "currency": "EUR", "cpl_amount": "8.00",
            "cpa_daily_cap": 200,
        },
    ],
    "atlas-fx": [
        {
            "name": "FX Rebate Standard", "kind": DealKind.REBATE, "currency": "USD", "hold_days": 7,
            "rebate_per_lot": "5.00", "lot_step": "0.01", "lot_rounding": LotRounding.DOWN,
            "rebate_groups": [
                {"name": "Majors", "instruments": ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD"], "per_lot": "8.00"},
                {"name": "Metals", "instruments": ["XAUUSD", "XAGUSD"], "per_lot": "12.00"},
                {"name": "Indices", "instruments": ["US30", "NAS100", "GER40"], "per_lot": "3.00", "lot_factor": "0.1"},
            ],
            "tiers": [{"min_ftds": 20, "rebate_per_lot": "7.00"}],
            "subaffiliate_percent": "10",
        },
        {
            "name": "FX CPA Verified Traders", "kind": DealKind.CPA, "currency": "USD", "hold_days": 14,
            "cpa_amount": "400.00",
            "qualification": {"min_ftd": "200.00", "min_lots": "2", "window_days": 60},
        },
    ],
    "summit-prop": [
        {
            "name": "Prop Challenge Share", "kind": DealKind.PROP, "currency": "USD", "hold_days": 14,
            "prop_percent": "15", "prop_pass_amount": "25.00", "prop_funded_amount": "50.00",
            "prop_include_resets": False, "subaffiliate_percent": "5",
        },
        {
            "name": "Prop Fee Share 20", "kind": DealKind.PROP, "currency": "USD", "prop_percent": "20",
            "prop_include_resets": True,
        },
    ],
}  # fmt: skip

# The deal that gets a second version, and what changes in it.
VERSIONED_DEAL = ("lucky-casino", "Casino CPA Europe")
SECOND_VERSION = {"cpa_amount": "175.00", "country_amounts": {"DE": "225.00", "AT": "180.00", "GB": "175.00"}}
SECOND_VERSION_NOTE = "Base CPA 150 → 175 EUR and DE 200 → 225 EUR from July"

# (brand slug, deal name, affiliate name or None for the brand default, overrides)
ASSIGNMENTS = [
    ("lucky-casino", "Casino RevShare 30", None, {}),
    ("lucky-casino", "Casino Hybrid DACH", "Casino Kings Media", {"cpa_amount": "120.00"}),
    ("lucky-casino", "Casino RevShare 25 No Carryover", "Slots Review Hub", {}),
    ("lucky-casino", "Casino CPA Europe", "Bet Insider", {"cpa_amount": "160.00", "hold_days": 14}),
    ("lucky-casino", "Casino CPL Registrations", "Nordic Casino Guide", {}),
    ("atlas-fx", "FX Rebate Standard", None, {}),
    ("atlas-fx", "FX CPA Verified Traders", "FX Signals Pro", {"cpa_amount": "450.00"}),
    ("atlas-fx", "FX Rebate Standard", "Pip Academy", {"rebate_per_lot": "6.00"}),
    ("summit-prop", "Prop Challenge Share", None, {}),
    ("summit-prop", "Prop Fee Share 20", "Funded Talk", {"prop_percent": "22"}),
]

PAYMENT = {
    "DE": (PaymentMethod.BANK_TRANSFER, {"iban": "DE89370400440532013000", "swift": "COBADEFFXXX"}),
    "GB": (PaymentMethod.BANK_TRANSFER, {"iban": "GB29NWBK60161331926819", "swift": "NWBKGB2L"}),
    "CY": (PaymentMethod.SKRILL, {"email": "payouts@fxsignals.example"}),
    "AE": (PaymentMethod.CRYPTO, {"network": "TRC20", "address": "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}),
    "US": (PaymentMethod.PAYPAL, {"email": "payouts@fundedtalk.example"}),
}
DEFAULT_PAYMENT = (PaymentMethod.BANK_TRANSFER, {"iban": "MT84MALT011000012345MTLCAST001S", "swift": "MALTMTMT"})


def _user(*, username: str, password: str, email: str, staff: bool, superuser: bool = False, **names) -> User:
    user, _ = User.objects.get_or_create(username=username, defaults={"email": email, **names})
    changed = []
    for field, value in (("is_staff", staff), ("is_superuser", superuser), ("is_active", True)):
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if not user.check_password(password):
        user.set_password(password)
        changed.append("password")
    if changed:
        user.save()
    return user


def seed_users() -> dict:
    admin = _user(**ADMIN, staff=True, superuser=True)
    manager = _user(**MANAGER, staff=True, first_name="Mia", last_name="Keller")
    groups = roles.roles_sync()  # the role groups and their permissions (core.roles)
    manager.groups.add(groups[MANAGER_GROUP])
    finance = _user(**FINANCE, staff=True, first_name="Finn", last_name="Larsen")
    finance.groups.add(groups[roles.FINANCE_GROUP])
    readonly = _user(**READ_ONLY, staff=True, first_name="Rita", last_name="Olsen")
    readonly.groups.add(groups[roles.READ_ONLY_GROUP])
    partner = _user(**PARTNER, staff=False, first_name="Kai", last_name="Brandt")
    return {"admin": admin, "manager": manager, "finance": finance, "readonly": readonly, "partner": partner}


def seed_brands() -> dict[str, Brand]:
    brands = {}
    for spec in BRANDS:
        brand = Brand.objects.filter(slug=spec["slug"]).first()
        if brand is None:
            brand = Brand(**spec)
            brand.full_clean()
            brand.save()
        brands[spec["slug"]] = brand
    return brands


def seed_affiliates(*, manager, partner, by) -> dict[str, Affiliate]:
    affiliates: dict[str, Affiliate] = {}
    for name, email, country, status, reason, parent in AFFILIATES:
        affiliate = Affiliate.objects.filter(email=email).first()
        if affiliate is None:
            method, details = PAYMENT.get(country, DEFAULT_PAYMENT)
            affiliate = services.affiliate_create(
                by=by,
                name=name,
                email=email,
                company=f"{name} Ltd",
                website=f"https://{email.split('@')[1]}",
                country=country,
                manager=manager,
                parent=affiliates[parent] if parent else None,
                payment_method=method,
                payment_details=details,
                payout_currency="USD" if country in ("US", "AE", "CY") else "EUR",
                payout_threshold=Decimal("100.00"),
                user=partner if name == PARTNER_AFFILIATE else None,
            )
            if status in (AffiliateStatus.ACTIVE, AffiliateStatus.SUSPENDED):
                services.affiliate_approve(affiliate=affiliate, by=by)
            if status == AffiliateStatus.SUSPENDED:
                services.affiliate_suspend(affiliate=affiliate, reason=reason, by=by)
            if status == AffiliateStatus.REJECTED:
                services.affiliate_reject(affiliate=affiliate, reason=reason, by=by)
            affiliate.refresh_from_db()
        affiliates[name] = affiliate
    return affiliates


def seed_deals(*, brands: dict[str, Brand], by) -> dict[str, Deal]:
    deals: dict[str, Deal] = {}
    for slug, specs in DEALS.items():
        for terms in specs:
            deal = Deal.objects.filter(brand=brands[slug], name=terms["name"]).first()
            if deal is None:
                deal = services.deal_create(brand=brands[slug], terms=terms, by=by, effective_from=START)
            deals[terms["name"]] = deal
    slug, name = VERSIONED_DEAL
    deal = deals[name]
    if deal.current_version == 1:
        services.deal_update(
            deal=deal, terms=SECOND_VERSION, by=by, effective_from=SECOND_VERSION_FROM, note=SECOND_VERSION_NOTE
        )
        deal.refresh_from_db()
    return deals


def seed_assignments(*, brands, affiliates, deals, by) -> list[DealAssignment]:
    made = []
    for _brand, deal_name, affiliate_name, overrides in ASSIGNMENTS:
        affiliate = affiliates[affiliate_name] if affiliate_name else None
        deal = deals[deal_name]
        existing = DealAssignment.objects.filter(deal=deal, affiliate=affiliate, valid_from=START).first()
        if existing is None:
            existing = services.deal_assignment_create(
                deal=deal, affiliate=affiliate, valid_from=START, overrides=overrides, note="demo", by=by
            )
        made.append(existing)
    return made


def seed() -> dict:
    """Create (or find) the demo programme and return the context the other apps' demos build on."""
    with transaction.atomic():
        users = seed_users()
        brands = seed_brands()
        affiliates = seed_affiliates(manager=users["manager"], partner=users["partner"], by=users["manager"])
        deals = seed_deals(brands=brands, by=users["manager"])
        seed_assignments(brands=brands, affiliates=affiliates, deals=deals, by=users["manager"])
    return {
        "brands": brands,
        "affiliates": affiliates,
        "deals": deals,
        "manager": users["manager"],
        "admin": users["admin"],
        "partner": users["partner"],
    }
