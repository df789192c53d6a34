from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.views import healthz

api_v1 = [
    path("", include("affiliates.api.urls")),
    path("", include("tracking.api.urls")),
    path("", include("integrations.api.urls")),
    path("", include("commissions.api.urls")),
    path("", include("commissions.payouts.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/partner/v1/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("t/", include("tracking.urls")),
    path("postback/", include("integrations.urls")),
    path("portal/", include("portal.urls")),
]

if settings.BENCH_ENDPOINTS:
    from bench.views import ceiling

    urlpatterns.append(path("bench/ceiling", ceiling, name="bench-ceiling"))

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
