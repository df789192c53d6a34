from django.urls import path

from .views import CohortView, ReportView

urlpatterns = [
    path("reports", ReportView.as_view(), name="reports"),
    path("reports/cohorts", CohortView.as_view(), name="reports-cohorts"),
]
