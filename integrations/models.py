from django.db import models


class SourceKind(models.TextChoices):
    CRM = "crm", "CRM"
    TRADING_PLATFORM = "trading_platform", "Trading platform (MT4/MT5/cTrader)"
    GAMING_BACKEND = "gaming_backend", "Gaming backend"
    PROP_SHOP = "prop_shop", "Prop challenge shop"
    OTHER = "other", "Other"


class Source(models.Model):
    """An operator system that sends events for a brand (a CRM, a trading platform, a gaming backend).
    It has its own source-scope keys and a mapping from its dialect to canonical events."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    brand = models.ForeignKey("affiliates.Brand", on_delete=models.PROTECT, related_name="sources")
    kind = models.CharField(max_length=30, choices=SourceKind.choices, default=SourceKind.OTHER)
    preset = models.CharField(max_length=60, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    test_mode = models.BooleanField(
        default=False, help_text="Staging integration: events are processed and visible, but pay no commission."
    )
    is_active = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=6000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
