"""Two approvers, two payers and two generators at the same moment, on PostgreSQL: one wins, the other gets a
clear conflict, and the money is counted once."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from commissions.choices import EntryStatus
from commissions.models import CommissionEntry
from commissions.payouts import services
from commissions.payouts.choices import StatementStatus
from commissions.payouts.models import Invoice, PayoutStatement, StatementLine
from core.problems import Problem
from integrations.webhooks.models import OutboxEvent

from .factories import EntryFactory

NOW = dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC)


def at_once(*calls) -> tuple[list, list[Problem], list[BaseException]]:
    """Run the calls in threads released together; (results, problems, other errors)."""
    barrier = threading.Barrier(len(calls))
    results, problems, errors = [], [], []

    def worker(call):
        try:
            barrier.wait()
            results.append(call())
        except Problem as problem:
            problems.append(problem)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, problems, errors


def _statement(**affiliate):
    affiliate = AffiliateFactory(payment_method="bank_transfer", **affiliate)
    brand = BrandFactory()
    for amount in ("120.00", "80.50"):
        EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal(amount))
    [statement] = services.statement_generate(affiliate=affiliate, period="2026-10", now=NOW).statements
    return statement


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_managers_approving_the_same_statement_at_once_approve_it_once():
    statement = _statement(invoice_required=True, vat_rate=Decimal("10"))
    results, problems, errors = at_once(
        *[lambda: services.statement_approve(statement=PayoutStatement.objects.get(pk=statement.pk))] * 2
    )
    assert errors == []
    assert len(results) == 1 and [p.code for p in problems] == ["statement_already_approved"]
    assert PayoutStatement.objects.get(pk=statement.pk).status == StatementStatus.APPROVED
    assert OutboxEvent.objects.filter(type="payout.approved").count() == 1
    assert Invoice.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_payers_marking_the_same_statement_paid_at_once_pay_it_once():
    statement = services.statement_approve(statement=_statement())
    results, problems, errors = at_once(
        lambda: services.statement_mark_paid(statement=statement, reference="SEPA-A"),
        lambda: services.statement_mark_paid(statement=statement, reference="SEPA-B"),
    )
    assert errors == []
    assert len(results) == 1 and [p.code for p in problems] == ["statement_already_paid"]
    paid = PayoutStatement.objects.get(pk=statement.pk)
    assert paid.payment_reference == results[0].payment_reference
    assert CommissionEntry.objects.filter(status=EntryStatus.PAID).count() == 2
    assert OutboxEvent.objects.filter(type="payout.paid").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_generators_of_the_same_period_at_once_make_one_statement_holding_each_entry_once():
    affiliate = AffiliateFactory()
    brand = BrandFactory()
    for _ in range(50):
        EntryFactory(affiliate=affiliate, brand=brand, amount=Decimal("10.01"))
    results, problems, errors = at_once(
        *[lambda: services.statement_generate(affiliate=affiliate, period="2026-10", now=NOW)] * 3
    )
    assert errors == [] and problems == []
    assert PayoutStatement.objects.count() == 1
    assert StatementLine.objects.count() == 50
    assert PayoutStatement.objects.get().total == Decimal("500.50")
    assert sum(r.created for r in results) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_an_entry_in_two_live_statements():
    from django.db import IntegrityError, transaction

    statement = _statement()
    line = statement.lines.first()
    other = PayoutStatement.objects.create(
        affiliate=statement.affiliate, scope="all", frequency="monthly", period="2026-10", currency="EUR",
        period_start=statement.period_start, period_end=statement.period_end,
    )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        StatementLine.objects.create(statement=other, entry=line.entry, kind=line.kind, amount=line.amount,
                                     currency=line.currency)  # fmt: skip
