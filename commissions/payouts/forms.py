from django import forms

from affiliates.choices import PaymentMethod
from affiliates.models import Brand

from . import periods


class GenerateForm(forms.Form):
    period = forms.CharField(max_length=30, help_text="2026-11 (month), 2026-W45 (ISO week) or 2026-11-01..2026-11-15.")
    brand = forms.ModelChoiceField(Brand.objects.all(), required=False, help_text="Empty: every brand.")

    def clean_period(self):
        try:
            return periods.parse(self.cleaned_data["period"]).key
        except periods.PeriodError as exc:
            raise forms.ValidationError(str(exc)) from None


class MarkPaidForm(forms.Form):
    reference = forms.CharField(max_length=200, help_text="Bank or wallet transaction reference.")
    method = forms.ChoiceField(choices=[("", "The affiliate's method"), *PaymentMethod.choices], required=False)
    paid_on = forms.DateField(required=False, help_text="YYYY-MM-DD; empty: today.")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(max_digits=18, decimal_places=3, help_text="Negative to deduct.")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
