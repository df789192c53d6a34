"""Reports as tables: the same columns for the API's CSV, the admin's CSV and the admin's table."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .selectors import CohortRow, ReportRow

REPORT_COLUMNS = ["group", "label", "clicks", "registrations", "ftds", "deposits", "deposit_amount", "revenue"]
AGES = (7, 30, 90)


def _currencies(rows: Iterable, pick) -> list[str]:
    return sorted({c for row in rows for c in pick(row)})


def report_table(rows: list[ReportRow], *, base_currency: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the measures, then one commission column per currency."""
    currencies = _currencies(rows, lambda r: r.commission)
    header = [
        *REPORT_COLUMNS[:6],
        f"deposit_amount_{base_currency}",
        f"revenue_{base_currency}",
        *(f"commission_{c}" for c in currencies),
    ]
    body = []
    for row in rows:
        body.append(
            [row.group, row.label, str(row.clicks), str(row.registrations), str(row.ftds), str(row.deposits),
             str(row.deposit_amount), str(row.revenue), *(str(row.commission.get(c, "")) for c in currencies)]
        )  # fmt: skip
    return header, body


def cohort_table(rows: list[CohortRow], *, base_currency: str) -> tuple[list[str], list[list[str]]]:
    currencies = _currencies(rows, lambda r: {c for n in AGES for c in r.commission.get(n, {})})
    header = ["month", "customers"]
    for n in AGES:
        header += [f"ftds_d{n}", f"ftd_rate_d{n}", f"revenue_d{n}_{base_currency}"]
        header += [f"commission_d{n}_{c}" for c in currencies]
        header += [f"matured_d{n}"]
    body = []
    for row in rows:
        line = [row.month.strftime("%Y-%m"), str(row.customers)]
        for n in AGES:
            line += [str(row.ftds[n]), str(row.ftd_rate(n)), str(row.revenue[n])]
            line += [str(row.commission[n].get(c, "")) for c in currencies]
            line += ["yes" if row.matured[n] else "no"]
        body.append(line)
    return header, body


def as_csv(header: list[str], body: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for line in body:
        # A cell a spreadsheet would read as a formula (a sub id is partner-supplied text) is quoted as text.
        writer.writerow([f"'{cell}" if cell[:1] in ("=", "+", "-", "@") and not _number(cell) else cell
                         for cell in line])  # fmt: skip
    return out.getvalue()


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
