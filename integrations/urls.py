from django.urls import path

from .views import postback

app_name = "integrations"
urlpatterns = [path("<slug:slug>/", postback, name="postback"), path("<slug:slug>", postback)]
