"""Admin pages and inlines that show records nobody edits by hand: audit rows, logs, versions."""


class ReadOnlyAdminMixin:
    """No add, change or delete from the admin; put it before ModelAdmin or TabularInline in the bases.
    Inlines with it show no empty extra rows either."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
