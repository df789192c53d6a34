import datetime as dt
from urllib.parse import parse_qsl, urlsplit

import pytest
import time_machine
from django.db import OperationalError
from django.test import override_settings

from affiliates.choices import AffiliateStatus
from affiliates.tests.factories import BrandFactory
from tracking import selectors
from tracking.choices import ClickFlag
from tracking.models import Click
from tracking.redirect import _recent_clicks, is_bot, link_cache_forget
from tracking.services import tracking_link_set_active
from tracking.tests.factories import TrackingLinkFactory

pytestmark = pytest.mark.django_db

clear_recent_clicks = _recent_clicks.clear

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def link():
    return TrackingLinkFactory(
        brand=BrandFactory(slug="lucky", click_param="btag"), landing_url="https://casino.example.com/welcome?lang=en"
    )


def hit(client, token, query="", **headers):
    headers.setdefault("HTTP_USER_AGENT", BROWSER)
    headers.setdefault("REMOTE_ADDR", "203.0.113.7")
    return client.get(f"/t/{token}", QUERY_STRING=query, **headers)


def test_click_is_recorded_and_redirects_with_brand_click_param_and_sub_ids(client, link):
    response = hit(client, link.token, "sub1=fb&sub3=ad%20set%2F9&other=x", HTTP_REFERER="https://news.example/")

    assert response.status_code == 302
    click = Click.objects.get()
    assert (click.link, click.affiliate, click.brand) == (link, link.affiliate, link.brand)
    assert (click.sub1, click.sub2, click.sub3) == ("fb", "", "ad set/9")
    assert click.ip == "203.0.113.7"
    assert click.user_agent == BROWSER
    assert click.referrer == "https://news.example/"
    assert click.flag == ClickFlag.NONE and click.is_billable
    assert response["Location"] == (
        f"https://casino.example.com/welcome?lang=en&btag={click.click_id}&sub1=fb&sub3=ad%20set%2F9"
    )


def test_click_ids_are_random_url_safe_and_unique(client, link):
    for n in range(5):
        hit(client, link.token, REMOTE_ADDR=f"198.51.100.{n}")

    ids = list(Click.objects.values_list("click_id", flat=True))
    assert len(set(ids)) == 5
    assert all(len(i) >= 22 and all(c.isalnum() or c in "-_" for c in i) for i in ids)


@pytest.mark.parametrize(
    ("landing", "expected_prefix", "expected_suffix"),
    [
        ("https://b.example/", "https://b.example/?click_id=", ""),
        ("https://b.example/p?a=1&b=two%20words", "https://b.example/p?a=1&b=two%20words&click_id=", ""),
        ("https://b.example/p#signup", "https://b.example/p?click_id=", "#signup"),
        ("https://b.example/p?a=1#frag?x=1", "https://b.example/p?a=1&click_id=", "#frag?x=1"),
        ("https://b.example/p?click_id=STATIC&a=1", "https://b.example/p?a=1&click_id=", ""),
        ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe?click_id=", ""),
    ],
)
def test_redirect_keeps_landing_query_and_fragment(client, landing, expected_prefix, expected_suffix):
    link = TrackingLinkFactory(landing_url=landing)

    location = hit(client, link.token)["Location"]

    click_id = Click.objects.get().click_id
    assert location == f"{expected_prefix}{click_id}{expected_suffix}"


def test_sub_ids_are_encoded_in_the_redirect(client, link):
    location = hit(client, link.token, "sub1=a%26b%3Dc&sub2=%E2%9C%93+ok&sub5=%23hash")["Location"]

    query = dict(parse_qsl(urlsplit(location).query))
    assert query["sub1"] == "a&b=c"
    assert query["sub2"] == "✓ ok"
    assert query["sub5"] == "#hash"
    assert "#" not in location.split("?", 1)[1]


def test_landing_sub_param_is_replaced_by_the_visitors(client):
    link = TrackingLinkFactory(landing_url="https://b.example/?sub1=default&x=1")

    location = hit(client, link.token, "sub1=mine")["Location"]

    assert parse_qsl(urlsplit(location).query)[0] == ("x", "1")
    assert ("sub1", "mine") in parse_qsl(urlsplit(location).query)
    assert "default" not in location


def test_raw_utf8_bytes_in_the_query_string_are_read_as_text(client, link):
    hit(client, link.token, "sub1=" + "grüße".encode().decode("latin-1") + "&sub2=\xff\xfe")

    click = Click.objects.get()
    assert (click.sub1, click.sub2) == ("grüße", "\ufffd\ufffd")


def test_malformed_sub_ids_are_cleaned(client, link):
    hit(client, link.token, "sub1=" + "a" * 5000 + "&sub2=x%00y%0D%0Az%1B&sub3=%FF%FE&sub4=1&sub4=2&sub5=%zz")

    click = Click.objects.get()
    assert click.sub1 == "a" * 255
    assert click.sub2 == "xyz"
    assert click.sub3 == "\ufffd\ufffd"
    assert click.sub4 == "1"
    assert click.sub5 == "%zz"


@pytest.mark.parametrize(
    "query",
    [
        "&".join(f"p{n}={n}" for n in range(5000)),
        "sub1=%",
        "%%%%&&&===",
        "sub1=%C3%28&sub2=%E0%80%AF",
        "sub1&sub2=&=x",
        "x" * 100_000,
    ],
)
def test_absurd_query_strings_never_crash_the_redirect(client, link, query):
    response = hit(client, link.token, query)

    assert response.status_code == 302
    assert Click.objects.count() == 1


def test_unknown_token_is_404_and_records_nothing(client, link):
    for token in ("nope", "x" * 40, "bad%20token", link.token.upper() if link.token.upper() != link.token else "Q"):
        response = client.get(f"/t/{token}")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/plain")
    assert not Click.objects.exists()


def test_disabled_link_is_404(client, link):
    hit(client, link.token)
    tracking_link_set_active(link=link, is_active=False)

    assert hit(client, link.token).status_code == 404
    assert Click.objects.count() == 1


def test_link_disabled_elsewhere_takes_effect_when_the_cache_expires(client, link):
    with time_machine.travel(NOW, tick=False) as clock:
        hit(client, link.token)
        type(link).objects.filter(pk=link.pk).update(is_active=False)  # another process disables it
        assert hit(client, link.token, REMOTE_ADDR="198.51.100.1").status_code == 302  # still cached here
        clock.shift(dt.timedelta(seconds=31))
        assert hit(client, link.token, REMOTE_ADDR="198.51.100.2").status_code == 404


def test_head_shows_the_landing_page_without_recording_a_click(client, link):
    response = client.head(f"/t/{link.token}", HTTP_USER_AGENT=BROWSER)

    assert response.status_code == 302
    assert response["Location"] == "https://casino.example.com/welcome?lang=en"
    assert not Click.objects.exists()


def test_visitor_still_reaches_the_landing_page_when_the_click_cannot_be_stored(client, link, monkeypatch):
    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("tracking.views.click_record", down)

    response = hit(client, link.token, "sub1=x")

    assert response.status_code == 302
    assert response["Location"] == "https://casino.example.com/welcome?lang=en"


def test_post_is_not_allowed(client, link):
    assert client.post(f"/t/{link.token}").status_code == 405


def test_suspended_affiliate_link_redirects_but_click_is_not_billable(client):
    link = TrackingLinkFactory(affiliate__status=AffiliateStatus.SUSPENDED)

    assert hit(client, link.token).status_code == 302

    click = Click.objects.get()
    assert click.flag == ClickFlag.AFFILIATE_INACTIVE
    assert not click.is_billable


def test_same_ip_and_link_within_window_is_duplicate(client, link):
    with time_machine.travel(NOW, tick=False) as clock:
        hit(client, link.token)
        clock.shift(dt.timedelta(seconds=59))
        hit(client, link.token)
        hit(client, link.token, REMOTE_ADDR="203.0.113.8")
        clock.shift(dt.timedelta(seconds=61))
        hit(client, link.token)

    flags = list(Click.objects.order_by("created_at", "pk").values_list("flag", "is_billable"))
    assert flags == [("", True), ("duplicate", False), ("", True), ("", True)]


def test_repeat_reaching_another_worker_is_flagged_by_the_database(client, link):
    with time_machine.travel(NOW, tick=False) as clock:
        hit(client, link.token)
        clear_recent_clicks()  # the next request lands on a process that has not seen this visitor
        clock.shift(dt.timedelta(seconds=30))
        hit(client, link.token)
        clear_recent_clicks()
        clock.shift(dt.timedelta(seconds=61))
        hit(client, link.token)

    flags = list(Click.objects.order_by("created_at", "pk").values_list("flag", "is_billable"))
    assert flags == [("", True), ("duplicate", False), ("", True)]


@override_settings(CLICK_DUPLICATE_WINDOW_SECONDS=5)
def test_duplicate_window_is_a_setting(client, link):
    with time_machine.travel(NOW, tick=False) as clock:
        hit(client, link.token)
        clock.shift(dt.timedelta(seconds=6))
        hit(client, link.token)

    assert not Click.objects.filter(flag=ClickFlag.DUPLICATE).exists()


def test_same_ip_on_another_link_is_not_duplicate(client, link):
    other = TrackingLinkFactory(affiliate=link.affiliate, brand=link.brand)
    hit(client, link.token)
    hit(client, other.token)

    assert not Click.objects.filter(flag=ClickFlag.DUPLICATE).exists()


@pytest.mark.parametrize(
    "user_agent",
    [
        "",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "AdsBot-Google (+http://www.google.com/adsbot.html)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.32.3",
        "Go-http-client/1.1",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; YandexBot/3.0)",
        "Twitterbot/1.0",
        "Mozilla/5.0 (compatible; SemrushBot/7~bl)",
        "Scrapy/2.11 (+https://scrapy.org)",
    ],
)
def test_bot_user_agents_are_flagged_and_not_billable(client, link, user_agent):
    hit(client, link.token, HTTP_USER_AGENT=user_agent)

    click = Click.objects.get()
    assert (click.flag, click.is_billable) == (ClickFlag.BOT, False)


@pytest.mark.parametrize(
    "user_agent",
    [
        BROWSER,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Mobile",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0",
    ],
)
def test_browsers_are_not_bots(user_agent):
    assert not is_bot(user_agent)


def test_country_comes_from_the_configured_header(client, link):
    hit(client, link.token, HTTP_CF_IPCOUNTRY="de")
    hit(client, link.token, HTTP_CF_IPCOUNTRY="XX", REMOTE_ADDR="198.51.100.1")
    hit(client, link.token, HTTP_CF_IPCOUNTRY="T1", REMOTE_ADDR="198.51.100.2")
    with override_settings(GEOIP_COUNTRY_HEADER="X-Country"):
        hit(client, link.token, HTTP_X_COUNTRY="AT", HTTP_CF_IPCOUNTRY="FR", REMOTE_ADDR="198.51.100.3")

    assert list(Click.objects.order_by("pk").values_list("country", flat=True)) == ["DE", "", "", "AT"]


def test_geoip_database_is_used_when_the_header_is_absent(client, link, monkeypatch):
    class Reader:
        def metadata(self):
            return type("Meta", (), {"database_type": "GeoLite2-Country"})()

        def country(self, ip):
            if ip.startswith("10."):
                raise ValueError("private address")
            return type("R", (), {"country": type("C", (), {"iso_code": "SE"})()})()

    monkeypatch.setattr("tracking.redirect._geoip", lambda: Reader())
    with override_settings(GEOIP_DB_PATH="/srv/geo.mmdb"):
        hit(client, link.token, REMOTE_ADDR="198.51.100.1")
        hit(client, link.token, REMOTE_ADDR="198.51.100.2", HTTP_CF_IPCOUNTRY="NO")
        hit(client, link.token, REMOTE_ADDR="10.0.0.3")

    assert list(Click.objects.order_by("pk").values_list("country", flat=True)) == ["SE", "NO", ""]


@override_settings(GEOIP_DB_PATH="/nonexistent/GeoLite2-Country.mmdb")
def test_unreadable_geoip_database_leaves_country_empty(client, link):
    assert hit(client, link.token).status_code == 302

    assert Click.objects.get().country == ""


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(client, link):
    hit(client, link.token, HTTP_X_FORWARDED_FOR="1.2.3.4", REMOTE_ADDR="10.0.0.1")
    with override_settings(TRUSTED_PROXY=1):
        hit(client, link.token, HTTP_X_FORWARDED_FOR="9.9.9.9, 5.6.7.8", REMOTE_ADDR="10.0.0.1")
        hit(client, link.token, HTTP_X_FORWARDED_FOR="not-an-ip", REMOTE_ADDR="10.0.0.1")

    assert list(Click.objects.order_by("pk").values_list("ip", flat=True)) == ["10.0.0.1", "5.6.7.8", None]


def test_long_and_control_character_headers_are_cleaned(client, link):
    hit(
        client,
        link.token,
        HTTP_USER_AGENT=BROWSER + "\x00" + "x" * 1000,
        HTTP_REFERER="https://r.example/" + "y" * 5000,
    )

    click = Click.objects.get()
    assert len(click.user_agent) == 500 and "\x00" not in click.user_agent
    assert len(click.referrer) == 1000


def test_billable_counts_exclude_bots_duplicates_and_inactive(client, link):
    with time_machine.travel(NOW, tick=False):
        hit(client, link.token)
        hit(client, link.token)  # duplicate
        hit(client, link.token, REMOTE_ADDR="198.51.100.9", HTTP_USER_AGENT="curl/8.0")  # bot
        hit(client, link.token, REMOTE_ADDR="198.51.100.10")
    suspended = TrackingLinkFactory(brand=link.brand, affiliate__status=AffiliateStatus.SUSPENDED)
    link_cache_forget()
    with time_machine.travel(NOW, tick=False):
        hit(client, suspended.token)

    counts = selectors.click_counts(
        brand=link.brand, start=NOW - dt.timedelta(hours=1), end=NOW + dt.timedelta(hours=1)
    )
    assert counts == {"clicks": 5, "billable": 2, "duplicate": 1, "bot": 1, "affiliate_inactive": 1}
    mine = selectors.click_counts(
        affiliate=link.affiliate, start=NOW - dt.timedelta(hours=1), end=NOW + dt.timedelta(hours=1)
    )
    assert (mine["clicks"], mine["billable"]) == (4, 2)
