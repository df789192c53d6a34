from rest_framework import viewsets

from ..filters import AlertFilter
from ..models import Alert
from .serializers import AlertSerializer


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Integration alerts, open and resolved (`?open=true` for the open ones)."""

    queryset = Alert.objects.select_related("source")
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
