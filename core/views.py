"""`GET /healthz`: database, broker and worker lag. 503 when the database is unreachable."""

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from .health import broker_status, worker_lag_seconds
from .problems import problem_response


@never_cache
def healthz(request):
    if request.method not in ("GET", "HEAD"):
        response = problem_response(405, "method_not_allowed", f"Method {request.method} is not allowed here.")
        response["Allow"] = "GET, HEAD"
        return response
    started = time.perf_counter()
    checks: dict[str, dict] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:  # any driver error means "down" here
        checks["database"] = {"status": "down", "error": exc.__class__.__name__}
    checks["broker"] = broker_status()
    checks["worker"] = worker_lag_seconds()
    healthy = checks["database"]["status"] == "ok"
    body = {
        "status": "ok" if healthy else "down",
        "checks": checks,
        "eager_tasks": bool(settings.CELERY_TASK_ALWAYS_EAGER),
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return JsonResponse(body, status=200 if healthy else 503)
