from django.contrib import admin
from django.contrib.admin import sites
from unfold.apps import BasicAppConfig


class AdminSiteConfig(BasicAppConfig):
    """django-unfold (app label "unfold"), with this platform's admin site as `admin.site`.

    unfold's own default app config installs its UnfoldAdminSite the same way; this one installs the
    subclass that adds the two-factor login. It is listed before django.contrib.admin, so every
    `admin.register` in the apps' admin modules registers on this site."""

    def ready(self):
        from .admin_site import PlatformAdminSite

        site = PlatformAdminSite()
        admin.site = site
        sites.site = site
