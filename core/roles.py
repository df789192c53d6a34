"""Staff roles as groups, created and kept up to date after every `migrate` (post_migrate, idempotent).

- **Finance**: sees everything; approves and rejects commission entries and clears review flags
  (`commissions.decide_commissionentry`); works payout statements, approves them and marks them paid
  (`payouts.approve_payout`, `payouts.mark_paid_payout`).
- **Affiliate managers**: works the programme (affiliates, deals, tracking, integrations, commissions'
  settings); may approve payout statements but never mark them paid; decides on commission entries
  only if someone grants `commissions.decide_commissionentry` (to the group or to a person).
- **Read-only**: sees every app, changes nothing.

Permissions are named by `app_label.codename`; one that does not exist (yet) is skipped and picked up by
the next migrate that creates it. A sync adds what a role needs and removes only what it must never
have, so a permission an administrator grants a group by hand survives; Read-only is kept exact.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

FINANCE_GROUP = "Finance"
MANAGER_GROUP = "Affiliate managers"
READ_ONLY_GROUP = "Read-only"

DECIDE_ENTRIES = "commissions.decide_commissionentry"
APPROVE_PAYOUT = "payouts.approve_payout"
MARK_PAID_PAYOUT = "payouts.mark_paid_payout"

# The apps an account manager works in (not users, groups, API keys or the audit log's rows).
PROGRAMME_APPS = (
    "affiliates", "tracking", "integrations", "webhooks", "monitoring", "commissions", "portal", "payouts",
)  # fmt: skip
# What Finance changes besides deciding: the payout statements and the review thresholds.
FINANCE_APPS = ("payouts",)
FINANCE_MODELS = (("commissions", "reviewpolicy"),)


def _named(names) -> Q:
    q = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".", 1)
        q |= Q(content_type__app_label=app_label, codename=codename)
    return q


def _views() -> Q:
    return Q(codename__startswith="view_")


def _models(pairs) -> Q:
    q = Q(pk__in=[])
    for app_label, model in pairs:
        q |= Q(content_type__app_label=app_label, content_type__model=model)
    return q


def role_permissions() -> dict[str, tuple[Q, Q, bool]]:
    """Per group: (what it must have, what it must never have, whether the first is exact)."""
    never_delete = Q(codename__startswith="delete_")
    return {
        FINANCE_GROUP: (
            _views()
            | _named([DECIDE_ENTRIES, APPROVE_PAYOUT, MARK_PAID_PAYOUT])
            | (Q(content_type__app_label__in=FINANCE_APPS) & ~never_delete)
            | (_models(FINANCE_MODELS) & ~never_delete),
            Q(pk__in=[]),
            False,
        ),
        MANAGER_GROUP: (
            (Q(content_type__app_label__in=PROGRAMME_APPS) & ~_named([DECIDE_ENTRIES, MARK_PAID_PAYOUT]))
            | Q(content_type__app_label="auditlog", codename__startswith="view_"),
            _named([MARK_PAID_PAYOUT]),
            False,
        ),
        READ_ONLY_GROUP: (_views(), Q(pk__in=[]), True),
    }


def roles_sync(*, using: str = "default") -> dict[str, Group]:
    """Create the role groups and bring their permissions up to date. Safe to run any number of times."""
    groups = {}
    permissions = Permission.objects.using(using)
    for name, (wanted_q, never_q, exact) in role_permissions().items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        wanted = set(permissions.filter(wanted_q).values_list("pk", flat=True))
        never = set(permissions.filter(never_q).values_list("pk", flat=True))
        held = set(group.permissions.values_list("pk", flat=True))
        target = wanted if exact else (held | wanted) - never
        if held - target:
            group.permissions.remove(*(held - target))
        if target - held:
            group.permissions.add(*(target - held))
        groups[name] = group
    return groups


def roles_sync_after_migrate(sender, using="default", **kwargs) -> None:
    """post_migrate (after `migrate`, and after a test database is flushed): once per run, for the last
    app, when every app's permissions have been created."""
    from django.apps import apps

    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender is not last:
        return
    roles_sync(using=using)
