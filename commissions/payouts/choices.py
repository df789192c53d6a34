from django.db import models


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"


# Statements that hold their entries: a cancelled one lets them go to the next statement.
LIVE_STATUSES = (StatementStatus.DRAFT, StatementStatus.APPROVED, StatementStatus.PAID)

# `status` of the period export: one status, or every live statement.
EXPORT_STATUSES = [("approved", "approved"), ("paid", "paid"), ("draft", "draft"), ("all", "all")]
