"""Benchmark: the staff admin's statistics on a year of a large hospital's orders.

``python -m bench.admin_stats`` recreates its own database and Redis db, seeds one large
hospital (40 departments of 6 doctors, a morning and an afternoon clinic each every day of a
year) with 1,000,000 orders in bulk SQL (INSERT … SELECT over MariaDB's sequence engine) —
completed, no-shows, cancellations with their refunds, expired holds — and their WeChat Pay
and Alipay payments, made at the hours patients book; runs the statistics' rollups over every
day of the year and reports how long they took; then serves the app with gunicorn, signs a
hospital admin in and times, request after request, the dashboard, a month's statistics by
department and by doctor, the month's Excel export and its anomalies. Target: p95 ≤ 1 s each.
"""

import argparse
import contextlib
import http.cookiejar
import os
import re
import secrets
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import time as day_time

import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import DoctorTitle, HospitalLevel
from app.extensions import db
from app.models import Hospital
from app.services import staff as staff_service
from app.services import stats
from bench import machine
from bench.flash_release import run, server_environment
from bench.seed import _people, fresh_app
from bench.server import Gunicorn, free_port

TARGET_P95_SECONDS = 1.0
EXIT_INCOMPLETE, EXIT_SLOW = 2, 3
PASSWORD = "bench-Stats-2026"
CHUNK = 50_000  # orders per INSERT … SELECT
CAPACITY = 10  # numbers per clinic: 1,000,000 orders fill ~9 of each over a year
FEES = (1000, 1500, 2000, 3000, 5000)  # fen, by doctor


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="mysql+pymysql://root@127.0.0.1:3306/booking_bench_stats?charset=utf8mb4",
        help="a database this benchmark may drop and recreate",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4", help="flushed first")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="visit days, up to today")
    parser.add_argument("--departments", type=int, default=40)
    parser.add_argument("--doctors", type=int, default=6, help="per department")
    parser.add_argument("--patients", type=int, default=5000, help="accounts with a patient each")
    parser.add_argument("--requests", type=int, default=50, help="sequential requests per page")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--port", type=int, default=0, help="where gunicorn listens (0: any)")
    parser.add_argument("--time-limit", type=float, default=600, help="seconds for the whole run")
    parser.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    args = parser.parse_args(argv)
    clinics = args.days * args.departments * args.doctors * 2
    if args.orders > clinics * CAPACITY:
        parser.error(f"at most {clinics * CAPACITY} orders fit {clinics} clinics of {CAPACITY}")
    return args


# --- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Year:
    """What was seeded: the hospital, its visit days, and the rows."""

    hospital_id: int
    first: date
    last: date
    orders: int
    schedules: int
    payments: int
    refunds: int


def _sequence(count) -> str:
    """MariaDB's sequence engine: a table of the integers 0 … count − 1."""
    return f"seq_0_to_{count - 1}"


def _run(sql, **params):
    db.session.execute(sa.text(sql), params)


def seed_year(orders, days, departments, doctors, patients, today=None) -> Year:
    """One large hospital with ``departments`` × ``doctors`` doctors, a morning and an afternoon
    clinic of CAPACITY numbers each for each of the ``days`` days up to ``today``, and
    ``orders`` orders spread evenly over the clinics, with their payments and refunds, all by
    bulk INSERT … SELECT; ``patients`` accounts (a patient each) make them. Committed."""
    today = today or clock.business_date(clock.now())
    first = today - timedelta(days=days - 1)
    doctor_count = departments * doctors
    clinics = days * doctor_count * 2
    _run("SET SESSION unique_checks = 0, foreign_key_checks = 0")
    hospital = Hospital(
        name="统计压测医院",
        level=HospitalLevel.GRADE_3A,
        region="北京市",
        release_time=day_time(7, 0),
        booking_window_days=7,
        hold_minutes=15,
    )
    db.session.add(hospital)
    db.session.flush()
    people = _people(patients, "o-stats-")
    first_patient = min(person.patient_id for person in people)
    assert max(person.patient_id for person in people) == first_patient + patients - 1
    first_department = _next_id("department")
    first_doctor = _next_id("doctor")
    _run(
        f"INSERT INTO department (id, hospital_id, name, intro, location, sex_rule, symptoms,"
        f" sort_order, created_at, updated_at)"
        f" SELECT :first + seq, :hospital, CONCAT('压测科室', seq + 1), '', '', 'any', '', seq,"
        f" UTC_TIMESTAMP(), UTC_TIMESTAMP() FROM {_sequence(departments)}",
        first=first_department,
        hospital=hospital.id,
    )
    fees = ",".join(str(fee) for fee in FEES)
    _run(
        f"INSERT INTO doctor (id, department_id, name, title, specialty, intro, fee_fen,"
        f" created_at, updated_at)"
        f" SELECT :first + seq, :department + seq DIV :doctors, CONCAT('压测医生', seq + 1),"
        f" '{DoctorTitle.ATTENDING.value}', '', '', ELT(1 + seq % {len(FEES)}, {fees}),"
        f" UTC_TIMESTAMP(), UTC_TIMESTAMP() FROM {_sequence(doctor_count)}",
        first=first_doctor,
        department=first_department,
        doctors=doctors,
    )
    first_schedule = _next_id("schedule")
    # Clinic s: day s DIV (2 × doctors), doctor (s MOD (2 × doctors)) DIV 2, period s MOD 2.
    _run(
        f"INSERT INTO schedule (id, doctor_id, department_id, date, period, start_time, end_time,"
        f" capacity, fee_fen, minutes_per_patient, release_at, status, stop_reason, stopped_by,"
        f" created_at, updated_at)"
        f" SELECT :first + seq, :doctor + (seq MOD :pair) DIV 2,"
        f" :department + ((seq MOD :pair) DIV 2) DIV :doctors,"
        f" :day + INTERVAL (seq DIV :pair) DAY, IF(seq MOD 2, 'afternoon', 'morning'),"
        f" IF(seq MOD 2, '13:30', '08:00'), IF(seq MOD 2, '17:30', '12:00'), {CAPACITY},"
        f" ELT(1 + ((seq MOD :pair) DIV 2) MOD {len(FEES)}, {fees}), 24,"
        f" :day + INTERVAL (seq DIV :pair) DAY - INTERVAL 7 DAY - INTERVAL 1 HOUR,"
        f" 'open', '', '', UTC_TIMESTAMP(), UTC_TIMESTAMP() FROM {_sequence(clinics)}",
        first=first_schedule,
        doctor=first_doctor,
        department=first_department,
        doctors=doctors,
        pair=2 * doctor_count,
        day=first,
    )
    # Order n sits in clinic n MOD clinics, number n DIV clinics + 1; its fate, channel, the day
    # and hour it was made come from multiplicative hashes of n (the same in every statement).
    fate = "(n * 2654435761) MOD 1000"
    status = (
        f"CASE WHEN {fate} < 700 THEN 'completed' WHEN {fate} < 750 THEN 'no_show'"
        f" WHEN {fate} < 870 THEN 'cancelled' WHEN {fate} < 970 THEN 'expired'"
        f" ELSE 'completed' END"
    )
    _run(
        f"INSERT INTO slot (id, schedule_id, seq, state, suggested_time, updated_at)"
        f" SELECT :first + seq, :schedule + seq DIV {CAPACITY}, seq MOD {CAPACITY} + 1,"
        f" IF(n < :orders AND {fate} < 750 OR n < :orders AND {fate} >= 970, 'booked', 'free'),"
        f" ADDTIME(IF(seq DIV {CAPACITY} MOD 2, '13:30', '08:00'),"
        f" SEC_TO_TIME(24 * 60 * (seq MOD {CAPACITY}))), UTC_TIMESTAMP()"
        f" FROM (SELECT seq, (seq MOD {CAPACITY}) * :clinics + seq DIV {CAPACITY} AS n"
        f" FROM {_sequence(clinics * CAPACITY)}) AS numbers",
        first=_next_id("slot"),
        schedule=first_schedule,
        orders=orders,
        clinics=clinics,
    )
    first_slot = _next_id("slot") - clinics * CAPACITY
    first_order = _next_id("orders")
    with _indexes_built_after("orders", "payment", "refund"):
        # Made 0–6 days before the visit (China time, stored as UTC), at the hours patients book:
        # the 07:00 release most of all, then the working day and the evening.
        hours = "7,7,7,7,7,8,8,9,9,10,10,11,13,14,15,16,19,20,21,22"
        made = (
            f"s.date - INTERVAL ((n * 40503) MOD 7) DAY"
            f" + INTERVAL ELT(1 + (n * 48271) MOD 20, {hours}) HOUR"
            f" + INTERVAL ((n * 16807) MOD 60) MINUTE - INTERVAL 8 HOUR"
        )
        # In chunks: MariaDB gathers an INSERT … SELECT's rows before writing them, and a
        # million wide rows would go through a temporary table on disk.
        for low in range(0, orders, CHUNK):
            _run(
                f"INSERT INTO orders (id, account_id, patient_id, schedule_id, slot_id, doctor_id,"
                f" department_id, hospital_id, visit_date, seq, suggested_time, amount_fen, status,"
                f" active, expires_at, idempotency_key, request_fingerprint, reschedule_count,"
                f" cancelled_by, cancel_reason, closed_at, checked_in_at, skips, client_ip,"
                f" created_at, updated_at)"
                f" SELECT :first + n, p.account_id, p.id, s.id,"
                f" :slot + (n MOD :clinics) * {CAPACITY} + n DIV :clinics,"
                f" s.doctor_id, s.department_id, :hospital, s.date, n DIV :clinics + 1,"
                f" ADDTIME(s.start_time, SEC_TO_TIME(24 * 60 * (n DIV :clinics))),"
                f" s.fee_fen, {status}, NULL, {made} + INTERVAL 15 MINUTE, CONCAT('stats-', n),"
                f" REPEAT('0', 64), 0,"
                f" CASE WHEN {fate} BETWEEN 750 AND 869 THEN 'patient'"
                f" WHEN {fate} BETWEEN 870 AND 969 THEN 'system' END, '',"
                f" IF({fate} BETWEEN 750 AND 969, {made} + INTERVAL 1 HOUR, NULL),"
                f" IF({fate} < 700 OR {fate} >= 970, CAST(s.date AS DATETIME), NULL),"
                f" 0,"
                f" CONCAT('100.64.', (p.account_id MOD 1000) DIV 250, '.', p.account_id MOD 250),"
                f" {made}, {made}"
                f" FROM (SELECT seq AS n FROM {_sequence(orders)}"
                f" WHERE seq >= :low AND seq < :high) AS numbers"
                f" JOIN schedule AS s ON s.id = :schedule + n MOD :clinics"
                f" JOIN patient AS p ON p.id = :patient + n MOD :patients",
                first=first_order,
                slot=first_slot,
                clinics=clinics,
                hospital=hospital.id,
                schedule=first_schedule,
                patient=first_patient,
                patients=patients,
                low=low,
                high=min(low + CHUNK, orders),
            )
        # A payment for every order: paid (the expired holds' closed, some without ever getting the
        # means to pay); WeChat Pay four times in five.
        channel = "IF((o.id * 69621) MOD 10 < 8, 'wechat', 'alipay')"
        _run(
            f"INSERT INTO payment (id, order_id, channel, out_trade_no, amount_fen, status,"
            f" expires_at, prepay_id, pay_url, provider_trade_no, paid_at, created_at, updated_at)"
            f" SELECT o.id, o.id, {channel},"
            f" CONCAT('BK', o.id, IF({channel} = 'wechat', 'W', 'A'), 'bench'),"
            f" o.amount_fen, IF(o.status = 'expired', 'closed', 'paid'), o.expires_at,"
            f" IF({channel} = 'wechat' AND NOT (o.status = 'expired' AND o.id MOD 10 < 3),"
            f" CONCAT('wx', o.id), NULL),"
            f" IF({channel} = 'alipay' AND NOT (o.status = 'expired' AND o.id MOD 10 < 3),"
            f" 'https://openapi.alipay.com/gateway.do', NULL),"
            f" IF(o.status = 'expired', NULL, CONCAT('4200', o.id)),"
            f" IF(o.status = 'expired', NULL, o.created_at + INTERVAL 1 MINUTE),"
            f" o.created_at + INTERVAL 30 SECOND, o.created_at + INTERVAL 1 MINUTE"
            f" FROM orders AS o WHERE o.hospital_id = :hospital",
            hospital=hospital.id,
        )
        # Each cancellation refunded by the hospital's tiers (in full, or 80 %); one in a hundred
        # failed at the channel.
        _run(
            "INSERT INTO refund (payment_id, order_id, out_refund_no, amount_fen, fee_fen, reason,"
            " status, attempts, last_error, succeeded_at, created_at, updated_at)"
            " SELECT o.id, o.id, CONCAT('RF', o.id, 'bench'),"
            " IF(o.id MOD 4 = 0, o.amount_fen * 4 DIV 5, o.amount_fen),"
            " IF(o.id MOD 4 = 0, o.amount_fen - o.amount_fen * 4 DIV 5, 0), 'patient_cancel',"
            " IF(o.id MOD 100 = 0, 'failed', 'success'), 1,"
            " IF(o.id MOD 100 = 0, 'SYSTEMERROR', ''),"
            " IF(o.id MOD 100 = 0, NULL, o.closed_at + INTERVAL 1 MINUTE), o.closed_at, o.closed_at"
            " FROM orders AS o"
            " WHERE o.hospital_id = :hospital AND o.status = 'cancelled'",
            hospital=hospital.id,
        )
    db.session.commit()
    _run("SET SESSION unique_checks = 1, foreign_key_checks = 1")
    counts = {
        table: db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {table}"))
        for table in ("orders", "schedule", "payment", "refund")
    }
    db.session.commit()
    return Year(
        hospital.id,
        first,
        today,
        counts["orders"],
        counts["schedule"],
        counts["payment"],
        counts["refund"],
    )


@contextlib.contextmanager
def _indexes_built_after(*tables):
    """Drop the ``tables``' foreign keys and secondary indexes, run the body (a bulk insert), then
    add them back, each table in one ALTER TABLE: an index built from sorted rows. With a buffer
    pool smaller than the orders (MariaDB's default 128 MiB), inserting a million rows into a
    dozen indexes row by row is random I/O, many times slower. Foreign keys come back unchecked
    (the session's foreign_key_checks is off)."""
    saved = {}
    for table in tables:
        keys = sa.inspect(db.session.connection()).get_foreign_keys(table)
        indexes = {}
        for row in db.session.execute(sa.text(f"SHOW INDEX FROM {table}")).mappings():
            if row["Key_name"] != "PRIMARY":
                _, columns = indexes.setdefault(row["Key_name"], (not row["Non_unique"], []))
                columns.append((row["Seq_in_index"], row["Column_name"]))
        saved[table] = keys, indexes
        drops = [f"DROP FOREIGN KEY {key['name']}" for key in keys]
        if drops:
            _run(f"ALTER TABLE {table} {', '.join(drops)}")
        if indexes:
            _run(f"ALTER TABLE {table} {', '.join(f'DROP INDEX {name}' for name in indexes)}")
    yield
    for table, (keys, indexes) in saved.items():
        adds = [
            f"ADD {'UNIQUE ' if unique else ''}INDEX {name} "
            f"({', '.join(column for _, column in sorted(columns))})"
            for name, (unique, columns) in indexes.items()
        ]
        adds += [
            f"ADD CONSTRAINT {key['name']} FOREIGN KEY ({', '.join(key['constrained_columns'])})"
            f" REFERENCES {key['referred_table']} ({', '.join(key['referred_columns'])})"
            for key in keys
        ]
        if adds:
            _run(f"ALTER TABLE {table} {', '.join(adds)}")


def _next_id(table) -> int:
    """The id the next row of ``table`` gets (the seed gives its rows ids from here)."""
    return int(db.session.scalar(sa.text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")))


def rollup_year(year: Year, deadline=None) -> tuple[float, int]:
    """Run the statistics' rollups for every day of ``year`` (the visit days, and the days the
    orders and payments were made: up to a week earlier); (seconds, days done)."""
    started = time.monotonic()
    done = 0
    day = year.first - timedelta(days=7)
    while day <= year.last:
        if deadline is not None and time.monotonic() > deadline:
            break
        if day >= year.first:
            stats.rollup_day(day)
        stats.rollup_anomalies(day)
        done += 1
        day += timedelta(days=1)
    return time.monotonic() - started, done


# --- measuring ---------------------------------------------------------------------------------


def pages(year: Year) -> list[tuple[str, str]]:
    """(name, path) of what a hospital admin opens: the dashboard, last month's statistics by
    department and by doctor, that month's Excel export by doctor, its anomalies."""
    month = (year.last.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat()
    return [
        ("dashboard", "/admin/"),
        ("stats month/department", f"/admin/stats?period=month&start={month}&by=department"),
        ("stats month/doctor", f"/admin/stats?period=month&start={month}&by=doctor"),
        ("stats 12 months/total", f"/admin/stats?period=month&start={month}&periods=12&by=total"),
        ("export month/doctor .xlsx", f"/admin/stats.xlsx?period=month&start={month}&by=doctor"),
        ("anomalies month", f"/admin/stats/anomalies?period=month&start={month}"),
    ]


@dataclass(frozen=True)
class Timing:
    name: str
    count: int
    p50: float
    p95: float
    worst: float
    failures: int


def _quantile(sorted_seconds, fraction) -> float:
    index = min(len(sorted_seconds) - 1, max(0, round(fraction * len(sorted_seconds)) - 1))
    return sorted_seconds[index]


def measure(get, year: Year, requests: int, deadline=None) -> list[Timing]:
    """Time ``requests`` sequential GETs of each page (after one untimed): ``get(path)`` gives
    the answer's status."""
    timings = []
    for name, path in pages(year):
        get(path)
        seconds, failures = [], 0
        for _ in range(requests):
            if deadline is not None and time.monotonic() > deadline:
                break
            started = time.perf_counter()
            status = get(path)
            seconds.append(time.perf_counter() - started)
            failures += status != 200
        seconds.sort()
        if seconds:
            timings.append(
                Timing(
                    name,
                    len(seconds),
                    _quantile(seconds, 0.5),
                    _quantile(seconds, 0.95),
                    seconds[-1],
                    failures,
                )
            )
    return timings


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A staff member's browser over HTTP: cookies kept, the login's CSRF token read."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path) -> int:
        try:
            with self.opener.open(self.base_url + path, timeout=30) as answer:
                answer.read()
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def login(self, username, password):
        with self.opener.open(self.base_url + "/admin/login", timeout=30) as answer:
            token = _CSRF.search(answer.read().decode()).group(1)
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrf_token": token}
        ).encode()
        with self.opener.open(self.base_url + "/admin/login", data=body, timeout=30) as answer:
            answer.read()
        if self.get("/admin/") != 200:
            raise RuntimeError("the hospital admin could not sign in")


def report(about, year, seed_seconds, rollup, timings, args) -> bool:
    """Print the machine, the seed, the rollup and each page's timing; whether every target
    was met."""
    print(
        f"\nmachine: {about['cpu']}, {about['cores']} cores, {about['memory']:.0f} GiB; "
        f"MariaDB {about['mariadb']}; gunicorn {args.workers} workers × {args.threads} threads"
    )
    print(
        f"seeded {year.orders:,} orders ({year.payments:,} payments, {year.refunds:,} refunds) "
        f"on {year.schedules:,} clinics, {year.first} … {year.last}, in {seed_seconds:.1f} s"
    )
    rollup_seconds, days = rollup
    print(
        f"rollups of {days} days in {rollup_seconds:.1f} s "
        f"({1000 * rollup_seconds / max(days, 1):.0f} ms a day: visit-day figures, hours, "
        f"payments and bursts)"
    )
    met = True
    print(f"\n{'page':<28}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  target p95 ≤ 1 s")
    for timing in timings:
        ok = timing.p95 <= TARGET_P95_SECONDS and timing.failures == 0
        met &= ok
        failed = f" ({timing.failures} not 200)" if timing.failures else ""
        print(
            f"{timing.name:<28}{timing.count:>5}{timing.p50 * 1000:>9.0f}"
            f"{timing.p95 * 1000:>9.0f}{timing.worst * 1000:>9.0f}  "
            f"{'met' if ok else 'NOT MET'}{failed}"
        )
    return met


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    deadline = started + args.time_limit
    port = args.port or free_port()
    environment = server_environment(args, port)
    os.environ.update(environment)
    print(f"preparing {args.database_url.split('@')[-1]} and {args.redis_url} …", flush=True)
    app, _ = fresh_app(args.database_url, args.redis_url)
    username = "stats-admin-" + secrets.token_hex(3)
    with app.app_context():
        print(f"seeding {args.orders:,} orders over {args.days} days …", flush=True)
        seeding = time.monotonic()
        year = seed_year(args.orders, args.days, args.departments, args.doctors, args.patients)
        seed_seconds = time.monotonic() - seeding
        print(f"seeded in {seed_seconds:.1f} s; rolling up every day …", flush=True)
        rollup = rollup_year(year, deadline)
        staff_service.create_staff(
            username, PASSWORD, "hospital_admin", hospital_id=year.hospital_id
        )
        about = {
            "cpu": machine.cpu_model(),
            "cores": os.cpu_count(),
            "memory": machine.memory_gib(),
            "mariadb": db.session.scalar(sa.text("SELECT VERSION()")),
        }
        db.session.remove()
    log_path = os.path.join(tempfile.gettempdir(), f"bench-gunicorn-{port}.log")
    server = Gunicorn(port, args.workers, args.threads, {**os.environ}, log_path)
    print(f"serving on {server.url} (gunicorn log: {log_path}) …", flush=True)
    with server:
        server.wait_ready(max(1.0, min(60.0, deadline - time.monotonic())))
        browser = Browser(server.url)
        browser.login(username, PASSWORD)
        timings = measure(browser.get, year, args.requests, deadline)
    met = report(about, year, seed_seconds, rollup, timings, args)
    total = time.monotonic() - started
    print(f"\ntotal {total:.1f} s")
    complete = len(timings) == len(pages(year)) and all(t.count == args.requests for t in timings)
    if not complete or rollup[1] < args.days:
        print("cut short by --time-limit")
        return EXIT_INCOMPLETE
    if args.strict and not met:
        return EXIT_SLOW
    return 0


if __name__ == "__main__":
    run(main)
