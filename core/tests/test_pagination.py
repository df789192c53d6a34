"""Lists page by cursor (`?limit=&cursor=`) by default, or by number (`?page=`); both carry `results`."""

import pytest

from affiliates.tests.factories import BrandFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def brands():
    return [BrandFactory(slug=f"b{n:02d}") for n in range(7)]


def test_cursor_pages_walk_every_row_once_newest_first(mgmt, brands):
    seen, url, pages = [], "/api/v1/brands?limit=3", 0
    while url:
        body = mgmt.get(url).json()
        assert set(body) == {"next", "previous", "results"}
        seen += [row["slug"] for row in body["results"]]
        url, pages = body["next"], pages + 1

    assert pages == 3
    assert seen == [f"b{n:02d}" for n in reversed(range(7))]


def test_cursor_page_is_stable_when_rows_are_added(mgmt, brands):
    first = mgmt.get("/api/v1/brands?limit=3").json()
    BrandFactory(slug="new")

    second = mgmt.get(first["next"]).json()

    assert [row["slug"] for row in second["results"]] == ["b03", "b02", "b01"]


def test_numbered_pages_carry_a_count(mgmt, brands):
    body = mgmt.get("/api/v1/brands?page=2&limit=3").json()

    assert body["count"] == 7
    assert [row["slug"] for row in body["results"]] == ["b03", "b02", "b01"]
    assert body["previous"] and body["next"]


def test_limit_is_capped_at_500(mgmt, brands):
    assert len(mgmt.get("/api/v1/brands?limit=100000").json()["results"]) == 7


@pytest.mark.parametrize("query", ["cursor=garbage", "page=99", "page=abc"])
def test_invalid_cursor_or_page_is_a_404_problem(mgmt, brands, query):
    response = mgmt.get(f"/api/v1/brands?{query}")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
