"""`GET /t/<token>`: record the click, redirect to the landing page. The hottest path: no template, no
DRF, no ORM model instances; one INSERT."""

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.http import require_safe

from .choices import ClickFlag
from .conf import setting
from .redirect import (
    REFERRER_LENGTH,
    TOKEN_RE,
    USER_AGENT_LENGTH,
    clean_text,
    clicked_recently,
    client_ip,
    is_bot,
    landing_url,
    link_for_token,
    sub_ids_from_query,
    target_url,
    visitor_country,
)
from .services import click_id_new, click_record

logger = logging.getLogger(__name__)


def _not_found() -> HttpResponse:
    return HttpResponseNotFound(b"Unknown link.\n", content_type="text/plain")


@require_safe
def track(request, token: str):
    if TOKEN_RE.fullmatch(token) is None:
        return _not_found()
    link = link_for_token(token)
    if link is None:
        return _not_found()
    if request.method == "HEAD":
        # Link checkers and prefetchers: show where the link goes, record no click.
        return _redirect(landing_url(link))
    meta = request.META
    user_agent = clean_text(meta.get("HTTP_USER_AGENT", ""), USER_AGENT_LENGTH)
    subs = sub_ids_from_query(meta.get("QUERY_STRING", ""))
    ip = client_ip(meta)
    if is_bot(user_agent):
        flag = ClickFlag.BOT
    elif not link.billable:
        # A suspended (or not yet active) affiliate's link keeps working for visitors, unbilled.
        flag = ClickFlag.AFFILIATE_INACTIVE
    else:
        flag = ClickFlag.NONE
    now = timezone.now()
    window = setting("CLICK_DUPLICATE_WINDOW_SECONDS")
    since = now - timedelta(seconds=window) if window else None
    if since is not None and ip is not None and clicked_recently(link.link_id, ip, now, since) and not flag:
        flag = ClickFlag.DUPLICATE
    click_id = click_id_new()
    try:
        click_record(
            link_id=link.link_id,
            affiliate_id=link.affiliate_id,
            brand_id=link.brand_id,
            subs=subs,
            country=visitor_country(meta, ip),
            ip=ip,
            user_agent=user_agent,
            referrer=clean_text(meta.get("HTTP_REFERER", ""), REFERRER_LENGTH),
            flag=flag,
            duplicate_since=since,
            click_id=click_id,
            now=now,
        )
    except DatabaseError:
        # The database is unreachable: the visitor still reaches the landing page, without a click id
        # (one that was never stored could attribute nobody).
        logger.exception("Click on link %s not recorded", link.link_id)
        return _redirect(landing_url(link))
    return _redirect(target_url(link, click_id, subs))


def _redirect(location: str) -> HttpResponse:
    response = HttpResponse(status=302)
    response["Location"] = location
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer-when-downgrade"
    return response
