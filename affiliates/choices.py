from django.db import models


class Vertical(models.TextChoices):
    CASINO = "casino", "Casino"
    SPORTSBOOK = "sportsbook", "Sportsbook"
    FOREX = "forex", "Forex / CFD"
    PROP = "prop", "Prop trading"


class AffiliateStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    REJECTED = "rejected", "Rejected"


# Which status changes a manager may make; anything else is refused with a clear error.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    AffiliateStatus.PENDING: {AffiliateStatus.ACTIVE, AffiliateStatus.REJECTED},
    AffiliateStatus.ACTIVE: {AffiliateStatus.SUSPENDED},
    AffiliateStatus.SUSPENDED: {AffiliateStatus.ACTIVE, AffiliateStatus.REJECTED},
    AffiliateStatus.REJECTED: {AffiliateStatus.ACTIVE},
}


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", "Bank transfer (IBAN/SWIFT)"
    SKRILL = "skrill", "Skrill"
    NETELLER = "neteller", "Neteller"
    PAYPAL = "paypal", "PayPal"
    CRYPTO = "crypto", "Crypto (USDT/BTC)"
    OTHER = "other", "Other"


class PayoutFrequency(models.TextChoices):
    MONTHLY = "monthly", "Monthly (calendar month, brand time zone)"
    WEEKLY = "weekly", "Weekly (ISO week, Monday to Sunday)"
    CUSTOM = "custom", "Custom (periods generated on demand)"


class PayoutScope(models.TextChoices):
    PER_BRAND = "per_brand", "One statement per brand"
    ALL_BRANDS = "all_brands", "One statement across brands"


class DealKind(models.TextChoices):
    CPA = "cpa", "CPA"
    REVSHARE = "revshare", "RevShare"
    HYBRID = "hybrid", "Hybrid (CPA + RevShare)"
    CPL = "cpl", "CPL"
    REBATE = "rebate", "Forex rebate"
    PROP = "prop", "Prop trading"


class RevenueBasis(models.TextChoices):
    NGR = "ngr", "Net gaming revenue (as sent)"
    NET_REVENUE = "net_revenue", "Net revenue (brand formula from components)"


class TierApplication(models.TextChoices):
    FROM_REACHED = "from_reached", "From the moment the tier is reached"
    WHOLE_PERIOD = "whole_period", "To the whole period (adjustment at period close)"


class LotRounding(models.TextChoices):
    DOWN = "down", "Round down (0.49 → 0.4 at step 0.1)"
    HALF_EVEN = "half_even", "Round half to even"
    NONE = "none", "No rounding (count exact fractional lots)"
