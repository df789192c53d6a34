from django.urls import include, path

urlpatterns: list = []
urlpatterns += [path("", include("integrations.monitoring.api.urls"))]
urlpatterns += [path("", include("integrations.webhooks.api.urls"))]
