from django.urls import path

from .views import track

app_name = "tracking"

urlpatterns = [
    path("<str:token>", track, name="track"),
]
