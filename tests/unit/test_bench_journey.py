"""The journeys benchmark (bench/journey.py): its mix, its requests, its figures, and the load
generator's chains (bench/load.py's follow hook) against a local server."""

import json
import random
import threading
import time
from collections import Counter
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import groupby
from types import SimpleNamespace
from typing import ClassVar

import pytest

from bench.journey import (
    ACCOUNT_PAGES,
    EVERYDAY_MIX,
    EXPECTED_REFUSALS,
    HOLD,
    PAYMENT,
    STEPS,
    Journey,
    Workload,
    _order_id,
    alternating,
    everyday_requests,
    parse_args,
    per_page,
    planned_journey_requests,
    ratio,
    unexpected,
)
from bench.load import Answer, Phase, Request, joined, run_phase
from bench.seed import Catalogue, Fixture, Person, Visitor

CATALOGUE = Catalogue(
    hospital_ids=[1, 2, 3],
    department_ids=[11, 12],
    doctor_ids=[21, 22, 23],
    dates=[date(2026, 12, 3), date(2026, 12, 4)],
    schedules=0,
    slots=0,
)
VISITORS = [Visitor(100 + n, f"token-{n}", (200 + n,), 1) for n in range(50)]


def test_the_mix_is_70_percent_browsing_and_30_percent_account_pages():
    weights = dict(EVERYDAY_MIX)
    assert sum(weights.values()) == 100
    assert sum(weights[page] for page in ACCOUNT_PAGES) == 30
    assert len(weights) == len(EVERYDAY_MIX)  # no page twice


def test_the_mix_is_drawn_by_its_weights_and_the_same_for_the_same_seed():
    drawn = everyday_requests(20_000, CATALOGUE, VISITORS, random.Random(1))
    again = everyday_requests(20_000, CATALOGUE, VISITORS, random.Random(1))
    assert drawn == again
    assert drawn != everyday_requests(20_000, CATALOGUE, VISITORS, random.Random(2))
    counts = Counter(page for page, _ in drawn)
    for page, weight in EVERYDAY_MIX:
        assert counts[page] / 20_000 == pytest.approx(weight / 100, abs=0.015)


def test_account_pages_carry_a_visitors_token_and_browsing_none():
    drawn = everyday_requests(2000, CATALOGUE, VISITORS, random.Random(3))
    tokens = Counter()
    for page, request in drawn:
        assert request.method == "GET" and request.path.startswith("/api/v1/")
        if page in ACCOUNT_PAGES:
            assert request.path == f"/api/v1/{page}"
            tokens[request.headers["Authorization"]] += 1
        else:
            assert request.headers is None
    assert set(tokens) <= {f"Bearer token-{n}" for n in range(50)}
    assert len(tokens) > 40  # spread over the visitors, not one account


def test_pages_point_into_the_catalogue():
    paths = {page: [] for page, _ in EVERYDAY_MIX}
    for page, request in everyday_requests(3000, CATALOGUE, VISITORS, random.Random(4)):
        paths[page].append(request.path)
    assert set(paths["hospitals"]) == {"/api/v1/hospitals"}
    assert {p.split("/")[4] for p in paths["tree"]} == {"1", "2", "3"}
    assert {p.split("/")[4] for p in paths["calendar"]} == {"11", "12"}
    assert {p.rsplit("=", 1)[1] for p in paths["schedules"]} == {"2026-12-03", "2026-12-04"}
    assert {p.split("/")[4] for p in paths["doctor"]} == {"21", "22", "23"}
    assert all(p.endswith("/schedules") for p in paths["doctor schedules"])
    # The symptom 咳嗽 is searched, percent-encoded as a browser sends it.
    assert "/api/v1/search?q=%E5%92%B3%E5%97%BD" in paths["search"]


def _fixture(people=3):
    return Fixture(
        hospital_id=1,
        department_id=11,
        schedule_id=31,
        capacity=2,
        visit_date=date(2026, 12, 4),
        people=[Person(100 + n, 200 + n, f"token-{n}") for n in range(people)],
        warm_up_schedule_id=32,
        warm_up_people=[],
    )


def test_a_patients_journey_is_tree_calendar_schedules_hold_then_payment_after_a_201():
    journey = Journey(_fixture(), "wechat", "run1")
    first = journey.first()
    assert [r.path for r in first] == ["/api/v1/hospitals/1/departments"] * 3
    # Patient 1 goes through the pages; each follow-up takes the next index.
    calendar = journey.follow(1, 200, b"[]")
    assert calendar.path == "/api/v1/departments/11/calendar"
    schedules = journey.follow(3, 200, b"[]")
    assert schedules.path == "/api/v1/departments/11/schedules?date=2026-12-04"
    hold = journey.follow(4, 503, b"{}")  # an error on a page does not stop the patient
    assert (hold.method, hold.path) == ("POST", "/api/v1/orders")
    assert hold.body == {"schedule_id": 31, "patient_id": 201}
    assert hold.headers == {
        "Authorization": "Bearer token-1",
        "Idempotency-Key": "journey-run1-000001",
    }
    payment = journey.follow(5, 201, b'{"id": 987, "status": "pending_payment", "seq": 3}')
    assert (payment.method, payment.path) == ("POST", "/api/v1/orders/987/payments")
    assert payment.body == {"channel": "wechat"}
    assert payment.headers == {"Authorization": "Bearer token-1"}
    assert payment.after == 0.0  # paid at once unless a confirmation time is asked for
    assert journey.follow(6, 201, b"{}") is None  # paid: done
    assert journey.step_of == [0, 0, 0, 1, 2, 3, 4]
    assert journey.person_of == [0, 1, 2, 1, 1, 1, 1]


def test_a_patient_may_read_the_confirmation_page_before_paying():
    journey = Journey(_fixture(people=1), "wechat", "c", confirm=(1.0, 4.0))
    waits = []
    for _ in range(50):
        pages = [journey.follow(len(journey.step_of) - 1, 200, b"[]") for _ in range(HOLD)]
        payment = journey.follow(len(journey.step_of) - 1, 201, b'{"id": 5}')
        assert {page.after for page in pages} == {0.0}  # only the payment waits
        waits.append(payment.after)
        journey.step_of.append(0)  # the same patient starts again
        journey.person_of.append(0)
    assert all(1.0 <= wait <= 4.0 for wait in waits) and len(set(waits)) == 50


@pytest.mark.parametrize(
    ("given", "seconds"), [(None, (0.0, 0.0)), ("1-4", (1.0, 4.0)), ("2.5", (2.5, 2.5))]
)
def test_the_confirmation_time_is_given_as_seconds_or_a_range(given, seconds):
    argv = [] if given is None else ["--confirm-seconds", given]
    assert parse_args(argv).confirm_seconds == seconds


@pytest.mark.parametrize("given", ["4-1", "-1", "61", "soon", "1-x"])
def test_a_confirmation_time_out_of_bounds_is_refused(given, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--confirm-seconds", given])
    assert "--confirm-seconds" in capsys.readouterr().err


def test_a_refused_hold_ends_the_journey():
    journey = Journey(_fixture(1), "alipay", "r")
    for index in range(HOLD):
        assert journey.follow(index, 200, b"[]") is not None
    assert journey.step_of[-1] == HOLD
    assert journey.follow(HOLD, 409, b'{"code": "slot_sold_out"}') is None
    assert len(journey.step_of) == HOLD + 1


@pytest.mark.parametrize(
    ("body", "order_id"),
    [
        (b'{"id": 42, "seq": 1}', 42),
        (b'{"amount_fen": 5000, "id":7}', 7),
        (b'{"seq": 1, "id": 1234567}', 1234567),
        (b'{"code": "x"}', None),
        (b'{"id": null}', None),
    ],
)
def test_the_order_id_is_read_from_the_holds_answer(body, order_id):
    assert _order_id(body) == order_id


def test_the_planned_journey_counts_every_page_and_one_payment_per_number():
    assert planned_journey_requests(5000, 200) == 5000 * 4 + 200
    assert planned_journey_requests(10, 200) == 10 * 5
    assert STEPS.index("payment") == PAYMENT == len(STEPS) - 1


def _answer(latency, status=200, code="", index=0):
    return Answer(latency, status, code, None, latency, index)


def _phase(name, answers, wall):
    return Phase(name, len(answers), answers, wall, True, 0.0)


def test_report_figures():
    assert ratio(600, 1200) == 0.5 and ratio(5, 0) == 0.0
    answers = [_answer(0.01, index=0), _answer(0.02, index=1), _answer(0.03, index=2)]
    grouped = per_page(answers, lambda a: "odd" if a.index % 2 else "even")
    assert list(grouped) == ["even", "odd"]
    assert [a.index for a in grouped["even"]] == [0, 2]
    mixed = [
        _answer(0.01, 200),
        _answer(0.01, 201),
        _answer(0.01, 409, "slot_sold_out"),
        _answer(0.01, 409, "slot_sold_out"),
        _answer(0.01, 500, "internal_error"),
        _answer(0.01, 0, "TimeoutError"),
    ]
    assert unexpected(mixed) == Counter(
        {(409, "slot_sold_out"): 2, (500, "internal_error"): 1, (0, "TimeoutError"): 1}
    )
    assert unexpected(mixed, EXPECTED_REFUSALS) == Counter(
        {(500, "internal_error"): 1, (0, "TimeoutError"): 1}
    )


def test_a_workload_passes_at_half_the_bare_rate_within_250_ms():
    livez = _phase("/livez", [_answer(0.01)] * 100, 0.05)  # 2000 req/s
    fast = _phase("w", [_answer(0.2)] * 100, 0.1)  # 1000 req/s, p99 200 ms
    assert [ok for _, ok in Workload("w", livez, fast, str).targets()] == [True, True, True]
    slow = _phase("w", [_answer(0.2)] * 98 + [_answer(0.3, 500, "x")] * 2, 0.11)
    texts, oks = zip(*Workload("w", livez, slow, str).targets(), strict=True)
    assert oks == (False, False, False)
    assert "909 = 45% of /livez 2000" in texts[0]
    assert "p99 300 ms" in texts[1]
    assert "(2)" in texts[2]


# --- bench/load.py's chains, against a local server -------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """Answers each request with its path; POST /orders creates order 7 (201)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    served: ClassVar[list] = []  # the paths of GETs, in the order they came

    def do_GET(self):
        self.served.append(self.path)
        self._send(200, {"path": self.path})

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._send(201, {"id": 7})

    def _send(self, status, document):
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def echo():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_each_patients_requests_go_one_after_another_and_all_are_answered(echo):
    journey = Journey(_fixture(people=30), "wechat", "t")
    sent_after = {}  # index -> when its request was asked for (after the previous answer)
    follow = journey.follow

    def recording(index, status, body):
        request = follow(index, status, body)
        if request is not None:
            sent_after[len(journey.step_of) - 1] = time.perf_counter()
        return request

    deadline = time.monotonic() + 20
    phase = run_phase(
        "t", "127.0.0.1", echo, journey.first(), 4, deadline, decode=True, follow=recording
    )
    assert phase.completed
    assert phase.count == phase.planned == 30 * len(STEPS)
    assert [a.index for a in phase.answers] == list(range(phase.count))
    assert all(a.status in (200, 201) for a in phase.answers)
    steps = Counter(journey.step_of[a.index] for a in phase.answers)
    assert steps == {step: 30 for step in range(len(STEPS))}
    # Every answer is its own request's: the pages echo their paths, holds and payments 201.
    for answer in phase.answers:
        expected = 201 if journey.step_of[answer.index] >= HOLD else 200
        assert answer.status == expected
    # A patient's steps come back in order, each answered before the next was sent.
    done = {}
    for answer in phase.answers:
        done.setdefault(journey.person_of[answer.index], []).append(
            (journey.step_of[answer.index], answer.done_at)
        )
    for steps_done in done.values():
        assert [step for step, _ in sorted(steps_done, key=lambda s: s[1])] == list(
            range(len(STEPS))
        )


def test_a_follow_up_that_waits_leaves_its_place_to_the_next_requests(echo):
    later = Request("GET", "/later", after=0.3)
    phase = run_phase(
        "t",
        "127.0.0.1",
        echo,
        [Request("GET", f"/p{n}") for n in range(3)],
        1,  # one place in flight
        time.monotonic() + 20,
        follow=lambda index, status, body: later if index == 0 else None,
    )
    assert phase.completed and phase.count == phase.planned == 4
    done_at = {answer.index: answer.done_at for answer in phase.answers}
    # /p1 and /p2 went out while the follow-up of /p0 (index 3) waited its 0.3 s.
    assert done_at[0] < done_at[1] < done_at[2] < done_at[3]
    assert done_at[3] - done_at[0] >= 0.3
    assert done_at[2] - done_at[0] < 0.3


def test_without_follow_a_phase_is_as_before(echo):
    from bench.load import Request

    requests = [Request("GET", f"/p{n}") for n in range(12)]
    phase = run_phase("t", "127.0.0.1", echo, requests, 3, time.monotonic() + 20)
    assert phase.completed and phase.planned == phase.count == 12
    assert [a.index for a in phase.answers] == list(range(12))
    assert {a.status for a in phase.answers} == {200}


def test_parts_of_a_phase_join_into_one():
    first = _phase("w", [_answer(0.01, index=0), _answer(0.02, index=1)], 0.5)
    second = _phase("w", [_answer(0.03, index=0)], 0.25)
    first.server_cpu, second.server_cpu = {"gunicorn": 1.0}, {"gunicorn": 0.5, "mariadb": 0.25}

    whole = joined("w", [first, second], [0, 2])

    assert [a.index for a in whole.answers] == [0, 1, 2]
    assert (whole.count, whole.planned, whole.wall, whole.completed) == (3, 3, 0.75, True)
    assert whole.rate == 4.0 and whole.percentile(99) == 0.03
    assert whole.server_cpu == {"gunicorn": 1.5, "mariadb": 0.25}


def test_a_workload_alternates_with_livez_part_by_part(echo):
    class _Cpu:
        server = SimpleNamespace(host="127.0.0.1", port=echo)

        def snapshot(self):
            return {}

    requests = [Request("GET", f"/page/{n}") for n in range(10)]
    _Echo.served.clear()

    livez, phase = alternating(_Cpu(), "w", requests, 3, time.monotonic() + 30, slices=3)

    runs = [(path == "/livez", list(group)) for path, group in groupby(_Echo.served, str)]
    runs = [
        (is_livez, [path for _, paths in grouped for path in paths])
        for is_livez, grouped in groupby(runs, lambda run: run[0])
    ]
    assert [(is_livez, len(paths)) for is_livez, paths in runs] == [
        (True, 3),
        (False, 3),
        (True, 4),
        (False, 4),
        (True, 3),
        (False, 3),
    ]
    assert [sorted(paths) for is_livez, paths in runs if not is_livez] == [
        [f"/page/{n}" for n in part] for part in (range(3), range(3, 7), range(7, 10))
    ]
    assert (livez.count, phase.count, livez.name, phase.name) == (10, 10, "/livez", "w")
    assert sorted(a.index for a in phase.answers) == list(range(10))
