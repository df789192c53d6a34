from django.urls import path

from .views import PostbackView, postback

app_name = "integrations"
urlpatterns = [
    path("<slug:slug>/", PostbackView.as_view(), name="postback"),
    path("<slug:slug>", postback),  # the same endpoint without the slash (described once in the schema)
]
