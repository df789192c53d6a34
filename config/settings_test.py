"""Settings for the test suite: the environment's database (SQLite or PostgreSQL) and broker URL,
but tasks inline, a per-process cache and fast password hashing. Tests that need a real broker or
worker switch Celery to it themselves (marker `broker`)."""

import os

os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
os.environ.setdefault("CACHE_URL", "locmemcache://")
os.environ.setdefault("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "0")

from .settings import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
