"""Test-only endpoints of each scope, to prove `ScopePermission` lets a scope reach its own endpoints."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView


class _Echo(APIView):
    def get(self, request):
        principal = request.auth
        return Response({"scope": principal.scope, "affiliate": principal.affiliate_id, "source": principal.source_id})


class ManagementEcho(_Echo):
    pass


class PartnerEcho(_Echo):
    required_scope = "partner"


class SourceEcho(_Echo):
    required_scope = "source"


urlpatterns = [
    path("echo/management", ManagementEcho.as_view()),
    path("echo/partner", PartnerEcho.as_view()),
    path("echo/source", SourceEcho.as_view()),
]
