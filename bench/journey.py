"""Patients' journeys: the everyday mix of pages, and the release morning page by page.

Usage (from the repository root, with MariaDB on 127.0.0.1:3306 and Redis on 127.0.0.1:6379)::

    .venv/bin/python -m bench.journey                        # both workloads, full scale
    .venv/bin/python -m bench.journey --everyday-requests 1000 --patients 500 --capacity 20

It drops and recreates the ``booking_bench_journey`` database (flushes Redis db 7), migrates it
and seeds a city (bench/seed.py ``seed_city``): 3 hospitals with the demo's department trees, 4
doctors in each leaf department seeing patients every morning and afternoon for 7 days,
visitors' accounts with 1–3 patients and a few orders each, and the release morning: one more
doctor in the first department with ONE schedule of C numbers for tomorrow, released a minute
ago, and N patients with a token each. It serves the app with gunicorn as
bench/flash_release.py does and measures, each next to a bare ``GET /livez`` of the same count
and concurrency measured just before it (the everyday mix and the visit day in SLICES parts, each
after a /livez of its own: A B A B …):

1. **everyday**: a weighted mix of catalogue and account pages (EVERYDAY_MIX), chosen with a
   fixed seed, the account pages spread over the visitors;
2. **journey**: N patients, each its own chain of requests (the next sent when the previous is
   answered): the department tree → the department's calendar → the day's schedules → the hold →
   (after a 201) the payment's parameters, at once or after ``--confirm-seconds`` on the order's
   confirmation page (its place in flight meanwhile taken by the next patient);
3. **visit day**: the phones of a waiting room of checked-in patients polling their place in
   the queue (``GET /orders/{id}/queue``), answered from Redis.

After the journey it checks MySQL as flash_release does (no oversell, no number held twice,
every 201 one active order). Exit codes as flash_release: 1 integrity, 2 cut short by the time
limit, 3 a missed target with ``--strict``, 130 interrupted, else 0. Only 127.0.0.1 is contacted;
counts and the total time are bounded; gunicorn is always stopped.
"""

import argparse
import os
import platform
import random
import secrets
import signal
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from importlib.metadata import version
from types import SimpleNamespace
from urllib.parse import quote

import sqlalchemy as sa

from app.extensions import db
from bench import machine
from bench.flash_release import (
    BUSY_MACHINE,
    INDENT,
    Cpu,
    _bounded,
    _cpu_line,
    _cpu_shares,
    _integrity,
    _interrupt,
    _latencies,
    _ms,
    _print_check,
    _unless_interrupted,
    add_server_arguments,
    exit_code,
    run,
    server_environment,
    verify,
)
from bench.load import Request, joined, run_phase
from bench.seed import analyze, fresh_app, seed_city, seed_waiting_room
from bench.server import Gunicorn, free_port

DEFAULT_DATABASE_URL = "mysql+pymysql://root@127.0.0.1:3306/booking_bench_journey?charset=utf8mb4"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"  # the tests use 8–15

# Every workload: at least this share of the same run's bare /livez rate, and this p99; the
# visit day's polling, read from Redis, at least QUEUE_RATIO_TARGET of it.
RATIO_TARGET = 0.50
QUEUE_RATIO_TARGET = 0.70
P99_TARGET = 0.250  # seconds
# The everyday mix and the visit day run in this many parts, each right after a /livez of its
# size (alternating): a rate compared with /livez measured seconds apart would carry the
# machine's drift between them. The release morning is one burst and runs after one /livez.
SLICES = 5

# The seed of every random choice (the visitors' history, the everyday mix), so that runs compare.
SEED = 20261203

# The everyday mix: what patients open, in percent of requests. Browsing (70 %): the home page's
# hospital list, a hospital's department tree, a department's 7-day calendar and one day's
# schedules (the booking pages, opened most), a doctor's page and the doctor's schedules, a
# search. The account (30 %): "my orders" most, then the family's patients, then the account.
EVERYDAY_MIX = (
    ("hospitals", 8),
    ("tree", 14),
    ("calendar", 14),
    ("schedules", 14),
    ("doctor", 6),
    ("doctor schedules", 6),
    ("search", 8),
    ("me", 6),
    ("patients", 8),
    ("orders", 16),
)
ACCOUNT_PAGES = frozenset({"me", "patients", "orders"})
# What patients type into the search box: symptoms, a department, a hospital, a surname.
SEARCH_QUERIES = ("咳嗽", "发烧", "腹痛", "骨科", "眼科", "京华", "王")

# The journey's steps, in order; the payment only after a 201.
STEPS = ("tree", "calendar", "schedules", "hold", "payment")
HOLD, PAYMENT = STEPS.index("hold"), STEPS.index("payment")
# Answers that are part of the journey although not 2xx.
EXPECTED_REFUSALS = frozenset({(409, "slot_sold_out")})


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.journey",
        description="Patients' journeys: the everyday mix and the release morning page by page.",
    )
    parser.add_argument("--only", choices=("everyday", "journey", "queue"), help="run one workload")
    parser.add_argument("--everyday-requests", type=_bounded(1, 100_000), default=6000)
    parser.add_argument("--everyday-concurrency", type=_bounded(1, 1000), default=100)
    parser.add_argument(
        "--visitors", type=_bounded(1, 20_000), default=1000, help="accounts of the everyday mix"
    )
    parser.add_argument(
        "--patients", type=_bounded(1, 50_000), default=5000, help="journeys of the release (N)"
    )
    parser.add_argument("--capacity", type=_bounded(1, 999), default=200, help="numbers (C)")
    parser.add_argument("--journey-concurrency", type=_bounded(1, 1000), default=200)
    parser.add_argument(
        "--confirm-seconds",
        type=_seconds_range,
        default=(0.0, 0.0),
        metavar="MIN-MAX",
        help="how long a patient who got a number spends on the order's confirmation page "
        "before paying, drawn evenly between MIN and MAX (e.g. 1-4); 0 pays at once (default)",
    )
    parser.add_argument(
        "--channel",
        choices=("wechat", "alipay"),
        default="wechat",
        help="how the journey pays: wechat calls the WeChat Pay stand-in (a gunicorn of its "
        "own); alipay signs a cashier URL without a call",
    )
    parser.add_argument("--queue-requests", type=_bounded(1, 100_000), default=6000)
    parser.add_argument("--queue-concurrency", type=_bounded(1, 1000), default=200)
    parser.add_argument(
        "--waiting", type=_bounded(1, 999), default=500, help="checked-in patients polling"
    )
    add_server_arguments(parser, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL)
    return parser.parse_args(argv)


def _seconds_range(text) -> tuple[float, float]:
    """ "1-4" → (1.0, 4.0), "2" → (2.0, 2.0): seconds, at most a minute."""
    low, _, high = text.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not seconds or MIN-MAX: {text!r}") from None
    if not 0 <= bounds[0] <= bounds[1] <= 60:
        raise argparse.ArgumentTypeError(f"not 0 ≤ MIN ≤ MAX ≤ 60: {text!r}")
    return bounds


# --- the requests (pure: the unit tests build them without a server) ---------------------------


def _bearer(token) -> dict:
    return {"Authorization": f"Bearer {token}"}


def everyday_requests(count, catalogue, visitors, rng) -> list[tuple[str, Request]]:
    """``count`` (page, Request) of the everyday mix, drawn by EVERYDAY_MIX's weights with
    ``rng``; the pages' hospitals, departments, doctors, dates and accounts drawn evenly."""
    pages = [page for page, _ in EVERYDAY_MIX]
    weights = [weight for _, weight in EVERYDAY_MIX]
    api = "/api/v1"
    requests = []
    for page in rng.choices(pages, weights, k=count):
        if page == "hospitals":
            request = Request("GET", f"{api}/hospitals")
        elif page == "tree":
            request = Request(
                "GET", f"{api}/hospitals/{rng.choice(catalogue.hospital_ids)}/departments"
            )
        elif page == "calendar":
            request = Request(
                "GET", f"{api}/departments/{rng.choice(catalogue.department_ids)}/calendar"
            )
        elif page == "schedules":
            department = rng.choice(catalogue.department_ids)
            day = rng.choice(catalogue.dates).isoformat()
            request = Request("GET", f"{api}/departments/{department}/schedules?date={day}")
        elif page == "doctor":
            request = Request("GET", f"{api}/doctors/{rng.choice(catalogue.doctor_ids)}")
        elif page == "doctor schedules":
            request = Request("GET", f"{api}/doctors/{rng.choice(catalogue.doctor_ids)}/schedules")
        elif page == "search":
            request = Request("GET", f"{api}/search?q={quote(rng.choice(SEARCH_QUERIES))}")
        else:  # an account page
            request = Request("GET", f"{api}/{page}", headers=_bearer(rng.choice(visitors).token))
        requests.append((page, request))
    return requests


class Journey:
    """The release morning as chains of requests, one per patient: ``first()`` are the
    patients' first requests, ``follow`` (bench.load's hook) gives each patient's next one, and
    ``step_of[i]`` / ``person_of[i]`` say which step and patient request ``i`` was."""

    def __init__(self, fixture, channel, run_id, confirm=(0.0, 0.0)):
        api = "/api/v1"
        department = f"{api}/departments/{fixture.department_id}"
        self.pages = [
            Request("GET", f"{api}/hospitals/{fixture.hospital_id}/departments"),
            Request("GET", f"{department}/calendar"),
            Request("GET", f"{department}/schedules?date={fixture.visit_date.isoformat()}"),
        ]
        self.people = fixture.people
        self.schedule_id = fixture.schedule_id
        self.channel = channel
        self.run_id = run_id
        self.confirm = confirm  # seconds on the confirmation page before paying: (min, max)
        self.rng = random.Random(SEED)
        self.step_of = [0] * len(self.people)
        self.person_of = list(range(len(self.people)))

    def first(self) -> list[Request]:
        return [self.pages[0]] * len(self.people)

    def _hold(self, person) -> Request:
        patient = self.people[person]
        return Request(
            "POST",
            "/api/v1/orders",
            headers={
                **_bearer(patient.token),
                "Idempotency-Key": f"journey-{self.run_id}-{person:06d}",
            },
            body={"schedule_id": self.schedule_id, "patient_id": patient.patient_id},
        )

    def _payment(self, person, body) -> Request | None:
        order_id = _order_id(body)
        if order_id is None:
            return None
        return Request(
            "POST",
            f"/api/v1/orders/{order_id}/payments",
            headers=_bearer(self.people[person].token),
            body={"channel": self.channel},
            after=self.rng.uniform(*self.confirm) if self.confirm[1] else 0.0,
        )

    def follow(self, index, status, body) -> Request | None:
        """The next request of request ``index``'s patient, once it was answered: the next page
        whatever the answer (a patient goes on reading), the payment only after a 201 hold."""
        step, person = self.step_of[index], self.person_of[index]
        if step < HOLD - 1:
            request = self.pages[step + 1]
        elif step == HOLD - 1:
            request = self._hold(person)
        elif step == HOLD and status == 201:
            request = self._payment(person, body)
        else:
            request = None
        if request is not None:  # its index is the next one: bench.load appends it
            self.step_of.append(step + 1)
            self.person_of.append(person)
        return request


def _order_id(body: bytes) -> int | None:
    """The id of a 201 hold's order, read cheaply (the hook runs on the clock)."""
    at = body.find(b'"id":')
    if at < 0:
        return None
    digits = body[at + 5 : at + 32].lstrip().split(b",", 1)[0].split(b"}", 1)[0]
    return int(digits) if digits.isdigit() else None


def queue_requests(count, waiting) -> list[Request]:
    """``count`` polls of their place by the ``waiting`` (order id, token) pairs, in turn."""
    return [
        Request("GET", f"/api/v1/orders/{order_id}/queue", headers=_bearer(token))
        for order_id, token in (waiting[n % len(waiting)] for n in range(count))
    ]


def planned_journey_requests(patients, capacity) -> int:
    """Requests of a journey in which every patient gets to the hold and C of them pay."""
    return patients * (len(STEPS) - 1) + min(patients, capacity)


# --- the report's figures (pure) ---------------------------------------------------------------


def ratio(rate, base) -> float:
    return rate / base if base else 0.0


def per_page(answers, page_of) -> dict[str, list]:
    """The answers grouped by page (``page_of(answer)``), in order of first appearance."""
    grouped: dict[str, list] = {}
    for answer in answers:
        grouped.setdefault(page_of(answer), []).append(answer)
    return grouped


def unexpected(answers, expected=frozenset()) -> Counter:
    """(status, code) of the answers that were neither 2xx nor an ``expected`` refusal."""
    return Counter(
        (a.status, a.code)
        for a in answers
        if not 200 <= a.status < 300 and (a.status, a.code) not in expected
    )


@dataclass
class Workload:
    """A measured workload next to the bare /livez of the same count and concurrency."""

    name: str
    livez: object  # bench.load.Phase
    phase: object
    page_of: object  # answer -> page name
    expected: frozenset = frozenset()
    journey: object = None  # the journey's Journey (steps of its requests)
    ratio_target: float = RATIO_TARGET

    def targets(self) -> list[tuple[str, bool]]:
        share = ratio(self.phase.rate, self.livez.rate)
        p99 = self.phase.percentile(99)
        wrong = sum(unexpected(self.phase.answers, self.expected).values())
        return [
            (
                f"{self.name} req/s {self.phase.rate:.0f} = {share:.0%} of /livez "
                f"{self.livez.rate:.0f} ≥ {self.ratio_target:.0%}",
                share >= self.ratio_target,
            ),
            (f"{self.name} p99 {_ms(p99)} ≤ {_ms(P99_TARGET)}", p99 <= P99_TARGET),
            (f"{self.name}: no unexpected answers ({wrong})", wrong == 0),
        ]


# --- the run -----------------------------------------------------------------------------------


class StandInCpu(Cpu):
    """Cpu, with the WeChat Pay stand-in's gunicorn counted apart from the app's."""

    def __init__(self, server, stand_in):
        super().__init__(server)
        self.stand_in = stand_in

    def snapshot(self) -> dict[str, float]:
        shot = super().snapshot()
        if self.stand_in is not None:
            shot["stand-in"] = machine.tree_cpu(self.stand_in.process.pid)
        return shot


def measured(cpu, name, requests, concurrency, deadline, follow=None):
    server = cpu.server
    before = cpu.snapshot()
    phase = run_phase(
        name, server.host, server.port, requests, concurrency, deadline, decode=True, follow=follow
    )
    after = cpu.snapshot()
    phase.server_cpu = {key: after[key] - before[key] for key in after}
    return _unless_interrupted(phase)


def bare(cpu, count, concurrency, deadline):
    return measured(cpu, "/livez", [Request("GET", "/livez")] * count, concurrency, deadline)


def alternating(cpu, name, requests, concurrency, deadline, slices=SLICES):
    """``requests`` sent in ``slices`` consecutive parts, each right after a bare /livez of its
    own size: (the /livez parts as one phase, the parts as one phase). The machine's speed
    drifts within seconds, so the two rates compared are measured at the same moments."""
    bounds = [round(len(requests) * k / slices) for k in range(slices + 1)]
    starts = bounds[:-1]
    livez, parts = [], []
    for start, end in zip(starts, bounds[1:], strict=True):
        livez.append(bare(cpu, end - start, concurrency, deadline))
        parts.append(measured(cpu, name, requests[start:end], concurrency, deadline))
    return joined("/livez", livez, starts), joined(name, parts, starts)


def run_everyday(cpu, city, args, deadline) -> Workload:
    mix = everyday_requests(
        args.everyday_requests, city.catalogue, city.visitors, random.Random(SEED)
    )
    print(f"the everyday mix, in {SLICES} parts after a /livez each …", flush=True)
    pages = [page for page, _ in mix]
    livez, phase = alternating(
        cpu, "everyday", [request for _, request in mix], args.everyday_concurrency, deadline
    )
    return Workload("everyday", livez, phase, lambda answer: pages[answer.index])


def run_journey(cpu, city, args, deadline) -> Workload:
    journey = Journey(city.fixture, args.channel, secrets.token_hex(4), args.confirm_seconds)
    planned = planned_journey_requests(len(journey.people), args.capacity)
    livez = bare(cpu, planned, args.journey_concurrency, deadline)
    print(f"/livez    {livez.rate:.0f} req/s; {len(journey.people)} journeys …", flush=True)
    phase = measured(
        cpu, "journey", journey.first(), args.journey_concurrency, deadline, follow=journey.follow
    )
    return Workload(
        "journey",
        livez,
        phase,
        lambda answer: STEPS[journey.step_of[answer.index]],
        EXPECTED_REFUSALS,
        journey,
    )


def run_queue(cpu, waiting, args, deadline) -> Workload:
    requests = queue_requests(args.queue_requests, waiting)
    print(f"{len(waiting)} phones polling, in {SLICES} parts after a /livez each …", flush=True)
    livez, phase = alternating(cpu, "visit day", requests, args.queue_concurrency, deadline)
    return Workload(
        "visit day", livez, phase, lambda answer: "queue", ratio_target=QUEUE_RATIO_TARGET
    )


def warm_up(server, city, args, deadline, waiting=()):
    """A little of everything before measuring, as on a server that has been up a while: /livez,
    an everyday mix of its own, and the warm-up patients' journeys to a schedule of their own
    (each worker compiles the hold's statements and loads the payment keys the first time)."""
    fixture = city.fixture
    concurrency = max(args.everyday_concurrency, args.journey_concurrency)
    count = 2 * concurrency
    requests = [Request("GET", "/livez")] * count
    requests += [
        request
        for _, request in everyday_requests(
            count, city.catalogue, city.visitors, random.Random(SEED + 1)
        )
    ]
    if waiting:  # every phone has asked once, as on a visit day under way
        requests += queue_requests(len(waiting), waiting)
    warm = replace(fixture, people=fixture.warm_up_people, schedule_id=fixture.warm_up_schedule_id)
    journey = Journey(warm, args.channel, "warm-" + secrets.token_hex(4))
    host, port = server.host, server.port
    phases = [run_phase("warm-up", host, port, requests, concurrency, deadline)]
    phases.append(
        run_phase(
            "warm-up", host, port, journey.first(), concurrency, deadline, follow=journey.follow
        )
    )
    return _unless_interrupted(phases)


# --- the report --------------------------------------------------------------------------------


def _print_workload(workload: Workload, concurrency):
    livez, phase = workload.livez, workload.phase
    print()
    print(f"--- {workload.name} (concurrency {concurrency}) ---")
    for label, measured_phase in (("/livez", livez), (workload.name, phase)):
        if not measured_phase.answers:
            print(f"{label:<14}no answers (time limit)")
            continue
        print(
            f"{label:<14}{measured_phase.count} req in {measured_phase.wall:.2f} s = "
            f"{measured_phase.rate:.0f} req/s"
            + (
                f" = {ratio(phase.rate, livez.rate):.0%} of /livez"
                if measured_phase is phase
                else ""
            )
        )
        print(f"{INDENT}{_latencies(measured_phase)}")
        print(f"{INDENT}{_cpu_line(measured_phase)}")
    if not phase.answers:
        return
    base_p99 = livez.percentile(99) if livez.answers else 0.0
    print(f"{INDENT}per page: count · p50 · p99 (× /livez p99)")
    for page, answers in per_page(phase.answers, workload.page_of).items():
        p99 = phase.percentile(99, answers)
        print(
            f"{INDENT}  {page:<17}{len(answers):>6} · {_ms(phase.percentile(50, answers)):>7} · "
            f"{_ms(p99):>7} ({ratio(p99, base_p99):.1f}×)"
        )
    wrong = unexpected(phase.answers)  # every answer not 2xx
    listed = ", ".join(f"{s} {c or '-'}: {n}" for (s, c), n in sorted(wrong.items()))
    print(f"{INDENT}not 2xx: {sum(wrong.values())}{f' — {listed}' if wrong else ''}")


def _print_release(workload: Workload, journey: Journey):
    answers = workload.phase.answers
    holds = [a for a in answers if journey.step_of[a.index] == HOLD]
    payments = [a for a in answers if journey.step_of[a.index] == PAYMENT]
    held = sum(1 for a in holds if a.status == 201)
    sold_out = sum(1 for a in holds if (a.status, a.code) == (409, "slot_sold_out"))
    paid = sum(1 for a in payments if a.status == 201)
    reached = Counter(journey.step_of[a.index] for a in answers)
    print(
        f"{INDENT}patients at each step: "
        + " → ".join(f"{STEPS[step]} {reached[step]}" for step in range(len(STEPS)))
    )
    print(
        f"{INDENT}holds 201: {held} · 409 slot_sold_out: {sold_out} · other: "
        f"{len(holds) - held - sold_out} · payments 201: {paid} of {len(payments)}"
    )
    return holds


def report(args, about, prepare, city, warm, workloads, check) -> tuple[bool, bool, bool]:
    """Print the report; return (integrity ok, targets met, complete)."""
    catalogue = city.catalogue
    print()
    print("=== patients' journeys benchmark (bench/journey.py) ===")
    print(f"machine   {about['cpu']}, {about['cores']} cores, {about['memory']:.1f} GiB RAM")
    print(
        f"          Linux {platform.release()} · Python {platform.python_version()} · "
        f"MariaDB {about['mariadb']} · Redis {about['redis']} · "
        f"gunicorn {version('gunicorn')} · client: epoll"
    )
    worker = "sync" if args.threads == 1 else f"gthread × {args.threads} threads"
    if args.threads > 1:
        worker += f", keep-alive {args.keep_alive} s"
    low, high = args.confirm_seconds
    confirm = f"{low:g}–{high:g} s" if high > low else f"{high:g} s"
    print(
        f"settings  gunicorn {args.workers} workers ({worker}) · payment channel {args.channel}"
        f" after {confirm} on the confirmation page · seed {SEED} · time limit {args.time_limit} s"
    )
    print(
        f"prepare   {prepare:.1f} s: {len(catalogue.hospital_ids)} hospitals · "
        f"{len(catalogue.department_ids)} departments with doctors · "
        f"{len(catalogue.doctor_ids)} doctors · {catalogue.schedules} schedules · "
        f"{catalogue.slots} slots · {len(city.visitors)} visitors with "
        f"{sum(len(v.patient_ids) for v in city.visitors)} patients and "
        f"{sum(v.orders for v in city.visitors)} orders · {len(city.fixture.people)} "
        f"release patients, C={city.fixture.capacity}"
    )
    print(f"warm-up   {sum(p.count for p in warm)} requests in {sum(p.wall for p in warm):.1f} s")
    phases = [*warm, *(p for w in workloads.values() for p in (w.livez, w.phase))]
    for phase in phases:
        if not phase.completed:
            print(f"!! {phase.name}: cut short by the time limit ({phase.count}/{phase.planned})")
    for phase in phases[len(warm) :]:
        other = _cpu_shares(phase)[1]["other"] if phase.answers else 0.0
        if other > BUSY_MACHINE:
            print(
                f"!! {phase.name}: other processes used {other:.0%} of a core meanwhile "
                "(another test run?): its figures are low; run again on a quiet machine"
            )
    targets = []
    if "everyday" in workloads:
        _print_workload(workloads["everyday"], args.everyday_concurrency)
        targets += workloads["everyday"].targets()
    if "queue" in workloads:
        _print_workload(workloads["queue"], args.queue_concurrency)
        targets += workloads["queue"].targets()
    integrity = True
    if "journey" in workloads:
        workload, journey = workloads["journey"], workloads["journey"].journey
        _print_workload(workload, args.journey_concurrency)
        _print_release(workload, journey)
        _print_check(check)
        integrity = _integrity(check, workload.phase.completed)
        targets.insert(
            0, ("zero oversell, zero duplicate seqs, every 201 one active order", integrity)
        )
        targets += workload.targets()
    complete = all(phase.completed for phase in phases)
    print()
    print("targets")
    for text, ok in [*targets, ("finished within the time limit", complete)]:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return integrity, all(ok for _, ok in targets), complete


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    deadline = started + args.time_limit
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    port = args.port or free_port()
    environment = server_environment(args, port)
    os.environ.update(environment)  # the preparing app seals and signs as gunicorn will

    print(f"preparing {args.database_url.split('@')[-1]} and {args.redis_url} …", flush=True)
    app, store = fresh_app(args.database_url, args.redis_url)
    warm_up_people = min(args.patients, args.journey_concurrency, 999)
    with app.app_context():
        city = seed_city(
            args.capacity, args.patients, warm_up_people, args.visitors, random.Random(SEED)
        )
        waiting = seed_waiting_room(args.waiting)
        analyze()
        about = {
            "cpu": machine.cpu_model(),
            "cores": os.cpu_count(),
            "memory": machine.memory_gib(),
            "mariadb": db.session.scalar(sa.text("SELECT VERSION()")),
            "redis": store.info("server")["redis_version"],
        }
        db.session.remove()
    prepare = time.monotonic() - started

    log_dir = tempfile.gettempdir()
    server_env = {**os.environ}
    stand_in = None
    if args.channel == "wechat":
        # WeChat Pay is another service: its stand-in runs in a gunicorn of its own. Served by
        # the app itself, a payment's thread would wait for a thread of the same pool, and with
        # every thread in a payment none would be left to answer (until the 10 s timeout).
        stand_in_port = free_port()
        stand_in = Gunicorn(
            stand_in_port,
            1,
            8,
            {**os.environ, "PORT": str(stand_in_port)},
            os.path.join(log_dir, f"bench-wechatpay-{stand_in_port}.log"),
        )
        server_env["WECHATPAY_API_BASE"] = f"{stand_in.url}/sandbox/wechatpay"
    log_path = os.path.join(log_dir, f"bench-gunicorn-{port}.log")
    server = Gunicorn(
        port, args.workers, args.threads, server_env, log_path, keep_alive=args.keep_alive
    )
    print(f"serving on {server.url} (gunicorn log: {log_path}) …", flush=True)
    workloads = {}
    check = None
    try:
        if stand_in is not None:
            stand_in.start()
        with server:
            ready = max(1.0, min(60.0, deadline - time.monotonic()))
            server.wait_ready(ready)
            if stand_in is not None:
                stand_in.wait_ready(ready)
            cpu = StandInCpu(server, stand_in)
            warm = warm_up(server, city, args, deadline, waiting)
            print(f"warm-up   {sum(p.count for p in warm)} requests", flush=True)
            if args.only in (None, "everyday"):
                workloads["everyday"] = run_everyday(cpu, city, args, deadline)
            if args.only in (None, "queue"):
                workloads["queue"] = run_queue(cpu, waiting, args, deadline)
            if args.only in (None, "journey"):
                workloads["journey"] = run_journey(cpu, city, args, deadline)
    finally:
        if stand_in is not None:
            stand_in.stop()
    if "journey" in workloads:
        workload = workloads["journey"]
        holds = [a for a in workload.phase.answers if workload.journey.step_of[a.index] == HOLD]
        check = verify(app, city.fixture, SimpleNamespace(answers=holds))
    integrity, fast, complete = report(args, about, prepare, city, warm, workloads, check)
    return exit_code(args, started, integrity, fast, complete)


if __name__ == "__main__":
    run(main)
