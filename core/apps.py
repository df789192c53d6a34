from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"

    def ready(self):
        from . import audit, roles
        from .audit_admin import link_audit_history

        audit.register_audited_models()
        link_audit_history()
        post_migrate.connect(roles.roles_sync_after_migrate, dispatch_uid="core.roles.sync")
