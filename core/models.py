from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class User(AbstractUser):
    """A person who signs in: an affiliate manager or finance user (staff), or a partner (portal)."""

    class Meta:
        db_table = "core_user"


class ApiKeyScope(models.TextChoices):
    MANAGEMENT = "management", "Management"
    SOURCE = "source", "Source (ingestion)"
    PARTNER = "partner", "Partner"


class ApiKey(models.Model):
    """A bearer credential. Only a lookup prefix and the SHA-256 digest of the whole key are stored."""

    name = models.CharField(max_length=120)
    scope = models.CharField(max_length=20, choices=ApiKeyScope.choices)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    affiliate = models.ForeignKey(
        "affiliates.Affiliate", null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    source = models.ForeignKey(
        "integrations.Source", null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    created_by = models.ForeignKey("core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set by a rotation: the key stops working at this time (its successor works from the start).
    expires_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="apikey_scope_subject",
                condition=(
                    models.Q(scope="management", affiliate__isnull=True, source__isnull=True)
                    | models.Q(scope="partner", affiliate__isnull=False, source__isnull=True)
                    | models.Q(scope="source", affiliate__isnull=True, source__isnull=False)
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.scope}, {self.prefix}…)"

    @property
    def is_active(self) -> bool:
        from django.utils import timezone

        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    def clean(self):
        if self.scope == ApiKeyScope.PARTNER and not self.affiliate_id:
            raise ValidationError({"affiliate": "A partner key belongs to one affiliate."})
        if self.scope == ApiKeyScope.SOURCE and not self.source_id:
            raise ValidationError({"source": "A source key belongs to one source."})
        if self.scope == ApiKeyScope.MANAGEMENT and (self.affiliate_id or self.source_id):
            raise ValidationError("A management key belongs to no affiliate or source.")


class IdempotencyRecord(models.Model):
    """The first answer to a management POST sent with an Idempotency-Key, replayed for repeats."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.key} → {self.response_status}"
