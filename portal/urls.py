"""The partner portal, mounted at /portal/. Log-in is the portal's own: staff log in to the admin."""

from django.urls import path

from .views import auth, pages, statements

app_name = "portal"

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("login/", auth.login_view, name="login"),
    path("login/verify/", auth.login_verify, name="login-verify"),
    path("logout/", auth.logout_view, name="logout"),
    path("signup/", auth.signup, name="signup"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", auth.PasswordResetSentView.as_view(), name="password-reset-sent"),
    path("password-reset/<uidb64>/<token>/", auth.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("password-reset/done/", auth.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("security/", auth.security, name="security"),
    path("security/two-factor/start/", auth.two_factor_start, name="two-factor-start"),
    path("security/two-factor/confirm/", auth.two_factor_confirm, name="two-factor-confirm"),
    path("security/two-factor/disable/", auth.two_factor_disable, name="two-factor-disable"),
    path("security/recovery-codes/", auth.recovery_codes, name="recovery-codes"),
    path("security/password/", auth.password_change, name="password-change"),
    path("reports/", pages.report, name="report"),
    path("customers/", pages.customers, name="customers"),
    path("customers/unattributed/", pages.unattributed, name="unattributed"),
    path("links/", pages.links, name="links"),
    path("links/<int:pk>/", pages.link_detail, name="link-detail"),
    path("links/<int:pk>/toggle/", pages.link_toggle, name="link-toggle"),
    path("deals/", pages.deals, name="deals"),
    path("commissions/", pages.commissions, name="commissions"),
    path("commissions/<int:pk>/", pages.commission_detail, name="commission-detail"),
    path("statements/", statements.statements, name="statements"),
    path("statements/<int:pk>/pdf/", statements.statement_pdf, name="statement-pdf"),
    path("postbacks/", pages.postbacks, name="postbacks"),
    path("postbacks/<int:pk>/test/", pages.postback_test, name="postback-test"),
    path("postbacks/<int:pk>/delete/", pages.postback_delete, name="postback-delete"),
    path("postbacks/deliveries/<int:pk>/", pages.delivery_detail, name="delivery-detail"),
    path("api-keys/", pages.api_keys, name="api-keys"),
    path("api-keys/<int:pk>/revoke/", pages.api_key_revoke, name="api-key-revoke"),
    path("payment/", pages.payment, name="payment"),
    path("payment/confirm/<str:token>/", pages.payment_confirm, name="payment-confirm"),
    path("sub-affiliates/", pages.subaffiliates, name="subaffiliates"),
]
