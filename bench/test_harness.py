"""The harness's arithmetic and parsing (no load is generated here; timings are never tested)."""

import json

import pytest
from django.db import connection
from django.test import RequestFactory
from django.urls import Resolver404, resolve

from bench.report import (
    ScenarioOutcome,
    cpu_ratio,
    format_table,
    outcome_json,
    ratio,
    ratio_to_ceiling,
    table_rows,
    verdict,
)
from bench.scenarios import names
from bench.scenarios.events_batch import batch_body
from bench.spec import RequestSpec
from bench.views import CEILING_TABLE, ceiling, ceiling_table_sql
from bench.wrk import WrkOutputError, WrkResult, lua_string, parse_output, render_script

WRK_TEXT = """\
Running 10s test @ http://127.0.0.1:8031
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.12ms    2.31ms    1.20s    80.00%
    Req/Sec     1.58k   100.00     1.80k    70.00%
  Latency Distribution
     50%  850.00us
     75%   11.00ms
     90%   13.00ms
     99%    1.05s
  15800 requests in 10.00s, 2.10MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec:   1579.80
Transfer/sec:    215.00KB
"""

WRK_JSON = (
    'BENCH_JSON {"requests": 2000, "duration_us": 4000000, "bytes": 1, "connect": 1, "read": 0, "write": 0, '
    '"status": 5, "timeout": 0, "latency_mean_us": 12500.0, "latency_max_us": 90000, '
    '"percentiles_us": {"50": 9500, "75": 12000, "90": 15000, "99": 41250, "99.9": 80000}, '
    '"statuses": {"202": 1990, "200": 5, "429": 5}, "units": 1985000}'
)


def run(requests: int, seconds: float, *, statuses=None, non2xx: int = 0, p50=10.0, p99=20.0, units=None):
    return WrkResult(
        requests=requests,
        duration_s=seconds,
        socket_errors=0,
        non_2xx_3xx=non2xx,
        timeouts=0,
        p50_ms=p50,
        p99_ms=p99,
        statuses=statuses or {},
        units_counted=units,
    )


def test_the_scripts_json_line_is_read_over_the_text_summary():
    result = parse_output(WRK_TEXT + WRK_JSON + "\n")

    assert result.requests == 2000
    assert result.requests_per_s == 500.0
    assert (result.p50_ms, result.p99_ms, result.p999_ms) == (9.5, 41.25, 80.0)
    assert (result.socket_errors, result.non_2xx_3xx) == (1, 5)
    assert result.statuses == {202: 1990, 200: 5, 429: 5}
    assert result.units_counted == 1985000


def test_without_the_json_line_the_text_summary_is_parsed_with_its_time_units():
    result = parse_output(WRK_TEXT)

    assert result.requests == 15800
    assert result.duration_s == 10.0
    assert result.requests_per_s == 1580.0
    assert result.p50_ms == pytest.approx(0.85)
    assert result.p99_ms == 1050.0
    assert (result.socket_errors, result.timeouts, result.non_2xx_3xx) == (6, 2, 12)
    assert result.statuses == {}


def test_output_without_a_summary_is_an_error_that_shows_it():
    with pytest.raises(WrkOutputError, match="unable to connect"):
        parse_output("unable to connect to 127.0.0.1:8031 Connection refused\n")


def test_ratio_to_the_ceiling_is_the_median_of_the_per_round_ratios():
    # Other load drifts between rounds: each round's pair moves together.
    ceiling = ScenarioOutcome(name="ceiling", runs=[run(1000, 10), run(3000, 10), run(2000, 10)])
    redirect = ScenarioOutcome(
        name="redirect",
        expect_status=(302,),
        target_ratio=0.8,
        runs=[
            run(900, 10, statuses={302: 900}),
            run(2400, 10, statuses={302: 2400}),
            run(1400, 10, statuses={302: 1400}),
        ],
    )

    assert ceiling.requests_per_s == 200.0
    assert ratio_to_ceiling(redirect, ceiling) == pytest.approx(0.8)  # of 0.9, 0.8, 0.7
    assert verdict(redirect, ceiling) == "met"


def test_with_unequal_rounds_the_ratio_is_of_the_medians():
    ceiling = ScenarioOutcome(name="ceiling", runs=[run(1000, 10), run(1200, 10), run(900, 10)])
    redirect = ScenarioOutcome(name="redirect", runs=[run(850, 10)])

    assert ratio_to_ceiling(redirect, ceiling) == pytest.approx(0.85)
    assert ratio_to_ceiling(redirect, None) is None
    assert ratio(85.0, None) is None and ratio(None, 100.0) is None


def test_an_unexpected_status_is_counted_and_misses_the_target_however_fast():
    ceiling = ScenarioOutcome(name="ceiling", runs=[run(1000, 10)])
    # The endpoint answers 200 where a 302 is due: fast, but wrong.
    redirect = ScenarioOutcome(
        name="redirect", expect_status=(302,), target_ratio=0.8, runs=[run(1000, 10, statuses={200: 990, 302: 10})]
    )

    assert redirect.unexpected == 990
    assert verdict(redirect, ceiling) == "missed"


def test_events_per_second_come_from_the_accepted_count_in_the_answers():
    batch = ScenarioOutcome(
        name="events_batch",
        units_per_request=1000,
        unit="events",
        expect_status=(202,),
        units_in_body=True,
        target_units_per_s=10_000,
        runs=[parse_output(WRK_JSON)],
    )

    assert batch.units_per_s == 1985000 / 4
    assert batch.unexpected == 10
    assert verdict(batch, None) == "missed"  # 10 answers were not 202


def test_without_body_counts_units_are_requests_with_an_expected_status_times_the_batch():
    batch = ScenarioOutcome(
        name="events_batch", units_per_request=1000, expect_status=(202,), runs=[run(30, 2, non2xx=10)]
    )

    assert batch.units_per_s == 10_000.0


def test_a_run_that_completed_nothing_has_no_latency_rather_than_zero():
    batch = ScenarioOutcome(name="events_batch", runs=[run(0, 3, p50=0.0, p99=0.0)])

    assert batch.median("p99_ms") is None
    assert table_rows([batch])[0][2:4] == ("-", "-")


def test_cpu_ratio_is_the_ceilings_cost_over_the_scenarios():
    assert cpu_ratio(2.0, 1.5) == 0.75
    assert cpu_ratio(None, 1.5) is None and cpu_ratio(0.0, 1.5) is None


def test_the_table_shows_ratio_latency_errors_and_unavailable_scenarios():
    ceiling = ScenarioOutcome(
        name="ceiling", runs=[run(1000, 10, p50=9.0, p99=31.5)], app_cpu_ms=[1.0], db_cpu_ms=[0.5]
    )
    redirect = ScenarioOutcome(
        name="redirect",
        expect_status=(302,),
        target_ratio=0.8,
        runs=[run(700, 10, statuses={302: 700}, p50=12.25, p99=48.0)],
        app_cpu_ms=[1.5],
        db_cpu_ms=[0.5],
    )
    postback = ScenarioOutcome(name="postback", unavailable="404: endpoint not there yet")

    rows = table_rows([ceiling, redirect, postback])

    assert rows[0][:8] == ("ceiling", "100", "9.00", "31.50", "0", "0", "0", "100%")
    assert rows[1][:10] == ("redirect", "70.0", "12.25", "48.00", "0", "0", "0", "70%", "2.00", "75%")
    assert rows[1][-1] == ">=80% ceiling: missed"
    assert rows[2][1] == "unavailable" and rows[2][-1] == "404: endpoint not there yet"
    assert "unavailable" in format_table([ceiling, redirect, postback])
    assert outcome_json(redirect, ceiling)["ratio_to_ceiling"] == pytest.approx(0.7)


def test_lua_strings_escape_quotes_backslashes_and_non_ascii():
    assert lua_string('a"b\\c') == '"a\\"b\\\\c"'
    assert lua_string("é\n") == '"\\195\\169\\010"'


def test_the_script_splits_templates_at_the_unique_id_placeholder():
    spec = RequestSpec(path="/postback/s/?event_id=pb-{uid}&customer_id=c-{uid}", headers={"X-A": "1"})

    script = render_script(spec, nonce="n1")

    assert 'local path_parts = {"/postback/s/?event_id=pb-", "&customer_id=c-", ""}' in script
    assert "local body_parts = nil" in script
    assert 'wrk.headers["X-A"] = "1"' in script


def test_a_batch_body_gives_every_event_its_own_id_per_request():
    spec = RequestSpec(path="/api/v1/events", method="POST", body=batch_body(6, token="tok"))

    _, body = spec.render("r1")
    _, other = spec.render("r2")

    ids = [e["event_id"] for e in json.loads(body)["events"]]
    assert ids == ["r1-0", "r1-1", "r1-2", "r1-3", "r1-4", "r1-5"]
    assert not set(ids) & {e["event_id"] for e in json.loads(other)["events"]}


def test_the_ceiling_comes_first_among_the_scenarios():
    assert names()[0] == "ceiling"
    assert {"redirect", "postback", "events_batch"} <= set(names())


def test_the_ceiling_is_not_mounted_unless_bench_endpoints_is_set():
    with pytest.raises(Resolver404):
        resolve("/bench/ceiling")


@pytest.mark.django_db
def test_the_ceiling_view_inserts_one_row_and_answers_ok():
    with connection.cursor() as cursor:
        cursor.execute(ceiling_table_sql(connection.vendor))

    response = ceiling(RequestFactory().get("/bench/ceiling"))

    assert (response.status_code, response.content) == (200, b"ok")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT path FROM {CEILING_TABLE}")
        assert cursor.fetchall() == [("/bench/ceiling",)]
