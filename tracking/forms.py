"""Admin forms for tracking: the inputs are collected here, the rules live in `tracking.services`."""

from django import forms
from django.core.exceptions import ValidationError
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget

from affiliates.models import Affiliate

from .models import PromoCode, TrackingLink
from .services import landing_url_validate


class TrackingLinkForm(forms.ModelForm):
    # A plain text field: Django's URLField would quietly prepend a scheme to whatever was typed.
    landing_url = forms.CharField(max_length=4000, help_text="Absolute http(s) URL with a real host.")

    class Meta:
        model = TrackingLink
        fields = ["affiliate", "brand", "name", "landing_url", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # a placed link keeps its target; the admin shows it read-only
            self.fields.pop("landing_url", None)

    def clean_landing_url(self):
        try:
            return landing_url_validate(self.cleaned_data.get("landing_url"))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc


class PromoCodeForm(forms.ModelForm):
    class Meta:
        model = PromoCode
        fields = ["brand", "affiliate", "code", "is_active"]


class ReassignForm(forms.Form):
    affiliate = forms.ModelChoiceField(
        queryset=Affiliate.objects.order_by("name"), widget=UnfoldAdminSelectWidget, label="New affiliate"
    )
    reason = forms.CharField(
        max_length=500,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Required. Kept in the customer's reassignment audit.",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason
