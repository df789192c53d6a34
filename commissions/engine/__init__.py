"""The rules: from canonical events to what each ledger slot should be worth. Nothing here writes.

`compute()` reads events as plain tuples and returns `Intended` values; commissions.ledger books
them. The same function serves one customer (a task per event) and a whole month (period close,
recalculation, the benchmark), so processing event by event and rebuilding in bulk agree.

Decisions written down once:
- A CPA is judged under the terms in force on the customer's FTD day (brand time zone); its
  baseline must be met within `window_days` of registration; it is paid once per (affiliate,
  customer, deal). Its tier rank is its place among the affiliate's CPAs of that month under the
  deal, in qualification order; a reversal does not move CPAs already booked.
- RevShare is computed per affiliate, brand and month (brand time zone) under the terms in force
  on the first day of the month (or, if the deal starts later, on the first day with revenue): a
  version that starts mid-month applies from the next month, so no change is ever retroactive.
  Each brand is its own slot, so negative revenue is ring-fenced per brand: it never reduces what
  the affiliate earned at another brand.
- Test events (is_test, or from a source in test mode) produce no entries at all: test traffic
  never reaches the ledger, so it can never be approved or paid.
- A rejected affiliate's entries are booked as rejected (kept for the record, never payable); a
  pending or suspended affiliate's entries are booked and held: the hold release skips them until
  the affiliate is active again.
- A sub-affiliate override is the parent's percent (from the parent's own deal at the brand, or
  else the child's deal) of each of the child's own commissions, one level up; a chain pays each
  link its direct parent.
"""

from .compute import Scope, compute
from .reading import REFERRING, VOIDING_TYPES, Cust, Ev, load_customers, load_events, refs_of
from .rules import CpaCandidate, CpaCounter, Intended
from .terms import HUNDRED, ZERO, Deals, Fx, MissingRate, Terms, money, period_of

__all__ = [
    "HUNDRED", "REFERRING", "VOIDING_TYPES", "ZERO", "CpaCandidate", "CpaCounter", "Cust", "Deals", "Ev", "Fx",
    "Intended", "MissingRate", "Scope", "Terms", "compute", "load_customers", "load_events", "money", "period_of",
    "refs_of",
]  # fmt: skip
