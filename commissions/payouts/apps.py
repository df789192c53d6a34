from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "commissions.payouts"
    label = "payouts"
    verbose_name = "Payouts"

    def ready(self):
        from auditlog.registry import auditlog

        from .models import Invoice, PayoutAdjustment, PayoutStatement

        # Statements (status, payment reference, cancel reason), their adjustments (amount and reason) and
        # invoices: every change is in the audit log, with who made it. Lines are written with their statement.
        auditlog.register(PayoutStatement)
        auditlog.register(PayoutAdjustment)
        auditlog.register(Invoice)
