"""The outbox: the one way the platform announces a change to the outside world.

Call `outbox_publish` inside the transaction that makes the change: the announcement commits or
rolls back with it. Delivery to operator webhook endpoints and partner postbacks happens later,
from the outbox, by the `delivery` queue.
"""


def outbox_publish(*, type: str, data: dict, affiliate_id: int | None = None, brand_id: int | None = None) -> None:
    """Record that `type` happened with `data` (JSON-safe: ids, strings, decimal strings)."""
    # Delivery arrives with the webhooks issue; until then announcements are not recorded.
    return None
