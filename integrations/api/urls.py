from django.urls import include, path

urlpatterns: list = []
urlpatterns += [path("", include("integrations.monitoring.api.urls"))]
