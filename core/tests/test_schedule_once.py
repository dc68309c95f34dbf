"""Scheduled jobs run once per deployment, not once per worker; named leases.

Several apps on one database stand for several gunicorn workers (or instances): each keeps
its own scheduler, and each due tick is claimed in the shared store before it runs. The
database store runs on every backend; the Redis store runs when Redis is reachable, and under
``CI=true`` it must be.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from transom import hookimpl, locks
from transom.events import Schedule
from transom.schedule import CLAIM_TTL_S, Scheduler, next_time, tick_key
from transom.testing.databases import in_ci

CRON = "0 3 * * *"
LOCAL = dt.datetime.now().astimezone().tzinfo
BEFORE = dt.datetime(2030, 1, 1, 2, 59, 0, tzinfo=LOCAL)
TICK = next_time(CRON, BEFORE)  # 2030-01-01 03:00 local time
NEXT_TICK = next_time(CRON, TICK)

REDIS_HOST = os.environ.get("TRANSOM_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TRANSOM_TEST_REDIS_PORT", "6379"))
REDIS_DB = int(os.environ.get("TRANSOM_TEST_REDIS_DB", "11"))


def plugin(name: str, **hooks: Any) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(name=name)
    for hook_name, fn in hooks.items():
        setattr(ns, hook_name, hookimpl(fn))
    return ns


class Runs:
    """What the jobs of every worker did, in one list (appended from several threads)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dt.datetime]] = []
        self.lock = threading.Lock()

    def job(self, label: str) -> Callable[[Any], None]:
        def run(context: Any) -> None:
            with self.lock:
                self.items.append((label, context.extra["time"]))
        return run


def workers(make_app: Callable[..., Any], runs: Runs, n: int = 2,
            config: dict[str, Any] | None = None,
            schedules: Callable[[Runs], list[Schedule]] | None = None) -> list[Scheduler]:
    """``n`` apps on one database, each with its own scheduler (thread off, as in tests)."""
    make = schedules or (lambda r: [Schedule(CRON, r.job("nightly"), name="nightly")])
    out = []
    for i in range(n):
        app = make_app(config, plugins=[plugin(f"jobs{i}",
                                               register_schedules=lambda cms: make(runs))])
        out.append(app.extensions["transom"].extensions["scheduler"])
    return out


def due(schedulers: list[Scheduler], at: dt.datetime) -> None:
    for s in schedulers:
        for job in s.jobs:
            job.next_at = at


def claim_rows(cms: Any) -> list[Any]:
    with cms.connect() as conn:
        return list(conn.execute(sa.select(locks.CLAIMS_TABLE)
                                 .order_by(locks.CLAIMS_TABLE.c.tick)))


# -- the database store, on every backend ------------------------------------------------------
def test_two_workers_run_a_due_tick_once(make_app: Callable[..., Any]) -> None:
    runs = Runs()
    a, b = workers(make_app, runs)
    due([a, b], TICK)
    ran = a.run_pending(TICK) + b.run_pending(TICK)
    assert ran == ["nightly"]
    assert runs.items == [("nightly", TICK)]
    # both planned their next tick; a worker lagging behind does not run it again either
    assert all(j.next_at > TICK for j in a.jobs + b.jobs)
    due([b], TICK)
    assert b.run_pending(TICK + dt.timedelta(minutes=5)) == []
    rows = claim_rows(a.cms)
    assert [(r.name, r.tick) for r in rows] == [("nightly", tick_key(TICK))]
    assert rows[0].tick.endswith("Z") and rows[0].owner == locks.process_owner()


def test_next_tick_runs_after_the_winner_is_gone(make_app: Callable[..., Any]) -> None:
    runs = Runs()
    a, b = workers(make_app, runs)
    due([a], TICK)
    assert a.run_pending(TICK) == ["nightly"]
    a.cms.close()  # the winning worker dies; b never saw that tick
    due([b], NEXT_TICK)
    assert b.run_pending(NEXT_TICK) == ["nightly"]
    assert runs.items == [("nightly", TICK), ("nightly", NEXT_TICK)]
    assert [r.tick for r in claim_rows(b.cms)] == [tick_key(TICK), tick_key(NEXT_TICK)]


def test_ticks_are_keyed_by_their_scheduled_time() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    assert tick_key(dt.datetime(2030, 1, 1, 4, 0, tzinfo=paris)) == "2030-01-01T03:00:00Z"
    assert tick_key(dt.datetime(2030, 1, 1, 3, 0, tzinfo=dt.UTC)) == "2030-01-01T03:00:00Z"


def test_concurrent_claims_have_one_winner(make_app: Callable[..., Any]) -> None:
    apps = [make_app().extensions["transom"] for _ in range(2)]
    threads_per_app = 4
    barrier = threading.Barrier(len(apps) * threads_per_app)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def contend(cms: Any) -> None:
        try:
            barrier.wait(5)
            won = locks.claim(cms, "race", tick_key(TICK), 60)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(won)

    threads = [threading.Thread(target=contend, args=(cms,))
               for cms in apps for _ in range(threads_per_app)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []
    assert sorted(results) == [False] * (len(threads) - 1) + [True]
    assert len(claim_rows(apps[0])) == 1
    # the next tick is a new claim
    assert locks.claim(apps[1], "race", tick_key(NEXT_TICK), 60)


def test_concurrent_workers_run_the_job_once(make_app: Callable[..., Any]) -> None:
    runs = Runs()
    schedulers = workers(make_app, runs, n=3)
    due(schedulers, TICK)
    barrier = threading.Barrier(len(schedulers))

    def tick(s: Scheduler) -> None:
        barrier.wait(5)
        s.run_pending(TICK)

    threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert runs.items == [("nightly", TICK)]


def test_scheduler_threads_of_two_workers_share_each_tick(
        make_app: Callable[..., Any]) -> None:
    """The real threads, every second, for about two seconds: no tick runs twice."""
    runs = Runs()
    enough = threading.Event()

    def every_second(r: Runs) -> list[Schedule]:
        job = r.job("tick")

        def run(context: Any) -> None:
            job(context)
            if len(r.items) >= 2:
                enough.set()
        return [Schedule("* * * * * *", run, name="tick")]

    # started once both are bootstrapped, as `transom start` forks workers after bootstrap
    a, b = workers(make_app, runs, schedules=every_second)
    for s in (a, b):
        s.start()
    assert a.running and b.running
    assert enough.wait(4)
    a.stop()
    b.stop()
    times = [t for _, t in runs.items]
    assert len(times) == len(set(times)) >= 2


def test_same_named_jobs_are_claimed_apart(make_app: Callable[..., Any]) -> None:
    runs = Runs()

    def two(r: Runs) -> list[Schedule]:  # both default to the handler's __qualname__
        return [Schedule(CRON, r.job("first")), Schedule(CRON, r.job("second"))]

    a, b = workers(make_app, runs, schedules=two)
    assert [j.claim_name for j in a.jobs] == ["Runs.job.<locals>.run",
                                              "Runs.job.<locals>.run#2"]
    due([a, b], TICK)
    a.run_pending(TICK)
    b.run_pending(TICK)
    assert sorted(label for label, _ in runs.items) == ["first", "second"]


def test_tables_come_from_a_migration_and_stay_out_of_the_schema(
        make_app: Callable[..., Any], admin_headers: dict[str, str]) -> None:
    app = make_app()
    cms = app.extensions["transom"]
    with cms.connect() as conn:
        versions = {r[0] for r in conn.execute(sa.text("SELECT version FROM "
                                                       "directus_migrations"))}
        assert set(locks.TABLES) <= set(sa.inspect(conn).get_table_names())
    assert locks.MIGRATION.version in versions
    for name in locks.TABLES:
        assert cms.schema.get(name) is None
    resp = app.test_client().get("/collections", headers=admin_headers)
    assert resp.status_code == 200
    assert not {c["collection"] for c in resp.get_json()["data"]} & set(locks.TABLES)


@pytest.mark.backends("sqlite")
def test_without_bootstrap_the_tables_are_made_on_first_use(
        make_app: Callable[..., Any]) -> None:
    runs = Runs()
    (a,) = workers(lambda config, plugins: make_app(config, plugins=plugins, bootstrap=False),
                   runs, n=1)
    due([a], TICK)
    assert a.run_pending(TICK) == ["nightly"]
    assert len(claim_rows(a.cms)) == 1


@pytest.mark.backends("sqlite")
def test_an_unreachable_store_skips_the_tick(make_app: Callable[..., Any],
                                             caplog: pytest.LogCaptureFixture) -> None:
    runs = Runs()
    (worker,) = workers(make_app, runs, n=1)

    def down(name: str, key: str, ttl: float) -> bool:
        raise ConnectionError("store down")

    s = Scheduler(worker.cms, [Schedule(CRON, runs.job("nightly"), name="nightly")],
                  now=BEFORE, claim=down)
    with caplog.at_level("ERROR", logger="transom.schedule"):
        assert s.run_pending(TICK) == []
    assert runs.items == []
    assert "could not claim scheduled job nightly" in caplog.text
    assert s.jobs[0].next_at > TICK  # planned again: the next tick is tried


@pytest.mark.backends("sqlite")
def test_old_claims_are_pruned_by_a_winner(make_app: Callable[..., Any]) -> None:
    cms = make_app().extensions["transom"]
    old = dt.datetime(2020, 1, 1)
    store = locks.get_store(cms)
    store.ensure_tables()
    with cms.begin() as conn:
        conn.execute(locks.CLAIMS_TABLE.insert(), [
            {"name": "nightly", "tick": "2020-01-01T03:00:00Z", "owner": "gone", "claimed_at": old},
            {"name": "other", "tick": "2020-01-01T03:00:00Z", "owner": "gone", "claimed_at": old},
        ])
    assert locks.claim(cms, "nightly", tick_key(TICK), CLAIM_TTL_S)
    assert {(r.name, r.tick) for r in claim_rows(cms)} == {
        ("nightly", tick_key(TICK)), ("other", "2020-01-01T03:00:00Z")}


# -- leases --------------------------------------------------------------------------------
def check_lease_takeover(cms_a: Any, cms_b: Any) -> None:
    name = f"leader-{uuid.uuid4().hex[:6]}"
    a = locks.lease(cms_a, name, ttl_s=0.6)
    b = locks.lease(cms_b, name, ttl_s=0.6)
    assert a.acquire() and a.held
    assert not b.acquire() and not b.held
    time.sleep(0.35)
    assert a.renew()  # renewing pushes the expiry on
    time.sleep(0.35)
    assert not b.acquire()  # 0.7 s after a first took it, but only 0.35 s after its renewal
    b.release()  # not the holder: changes nothing
    assert not b.acquire()
    time.sleep(0.7)  # a stops renewing (its worker died)
    assert b.acquire()  # taken over
    assert not a.acquire() and not a.held
    b.release()
    assert a.acquire()  # released: free at once
    a.release()


def test_lease_takeover_after_the_holder_stops_renewing(
        make_app: Callable[..., Any]) -> None:
    check_lease_takeover(make_app().extensions["transom"], make_app().extensions["transom"])


def test_concurrent_lease_acquires_have_one_winner(make_app: Callable[..., Any]) -> None:
    apps = [make_app().extensions["transom"] for _ in range(2)]
    leases = [locks.lease(cms, "dispatcher", ttl_s=30) for cms in apps for _ in range(3)]
    barrier = threading.Barrier(len(leases))
    results: list[bool] = []
    lock = threading.Lock()

    def contend(lease: locks.Lease) -> None:
        barrier.wait(5)
        won = lease.acquire()
        with lock:
            results.append(won)

    threads = [threading.Thread(target=contend, args=(lz,)) for lz in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results) == [False] * (len(leases) - 1) + [True]
    assert sum(lz.held for lz in leases) == 1


def test_memory_store_is_per_process() -> None:
    store = locks.MemoryStore()
    assert store.claim("j", "k", "me", 60) and not store.claim("j", "k", "you", 60)
    assert store.acquire("l", "me", 60) and not store.acquire("l", "you", 60)
    store.release("l", "you")
    assert not store.acquire("l", "you", 60)
    store.release("l", "me")
    assert store.acquire("l", "you", 60)


# -- the Redis store -----------------------------------------------------------------------
def _redis_problem() -> str | None:
    try:
        import redis
    except ImportError:
        return "the redis package is not installed"
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_HOST}:{REDIS_PORT} unreachable: {exc}"
    return None


@pytest.fixture
def redis_config() -> Iterator[dict[str, Any]]:
    """A Redis store in a namespace of its own, removed after the test."""
    problem = _redis_problem()
    if problem is not None:
        if in_ci():
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)
    import redis

    namespace = f"transom-test-{uuid.uuid4().hex[:8]}"
    yield {"SYNCHRONIZATION_STORE": "redis", "SYNCHRONIZATION_NAMESPACE": namespace,
           "REDIS": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"}
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    keys = list(client.scan_iter(f"{namespace}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def _redis_client() -> Any:
    import redis

    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)


@pytest.mark.backends("sqlite")
def test_redis_store_runs_a_tick_once(make_app: Callable[..., Any],
                                      redis_config: dict[str, Any]) -> None:
    runs = Runs()
    a, b = workers(make_app, runs, config=redis_config)
    assert isinstance(locks.get_store(a.cms), locks.RedisStore)
    due([a, b], TICK)
    assert a.run_pending(TICK) + b.run_pending(TICK) == ["nightly"]
    due([b], NEXT_TICK)  # a is gone; b takes the next tick
    assert b.run_pending(NEXT_TICK) == ["nightly"]
    assert runs.items == [("nightly", TICK), ("nightly", NEXT_TICK)]
    client = _redis_client()
    try:
        key = f"{redis_config['SYNCHRONIZATION_NAMESPACE']}:claim:nightly:{tick_key(TICK)}"
        assert client.get(key) == locks.process_owner().encode()
        assert CLAIM_TTL_S - 60 < client.pttl(key) / 1000 <= CLAIM_TTL_S
    finally:
        client.close()
    assert claim_rows(a.cms) == []  # nothing went to the database


@pytest.mark.backends("sqlite")
def test_redis_concurrent_claims_have_one_winner(make_app: Callable[..., Any],
                                                 redis_config: dict[str, Any]) -> None:
    apps = [make_app(redis_config).extensions["transom"] for _ in range(2)]
    barrier = threading.Barrier(8)
    results: list[bool] = []
    lock = threading.Lock()

    def contend(cms: Any) -> None:
        barrier.wait(5)
        won = locks.claim(cms, "race", tick_key(TICK), 60)
        with lock:
            results.append(won)

    threads = [threading.Thread(target=contend, args=(apps[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results) == [False] * 7 + [True]


@pytest.mark.backends("sqlite")
def test_redis_lease_takeover(make_app: Callable[..., Any],
                              redis_config: dict[str, Any]) -> None:
    check_lease_takeover(make_app(redis_config).extensions["transom"],
                         make_app(redis_config).extensions["transom"])


@pytest.mark.backends("sqlite")
def test_redis_from_host_settings(make_app: Callable[..., Any],
                                  redis_config: dict[str, Any]) -> None:
    config = {**redis_config, "REDIS": "", "REDIS_HOST": REDIS_HOST,
              "REDIS_PORT": str(REDIS_PORT), "REDIS_DB": str(REDIS_DB)}
    cms = make_app(config).extensions["transom"]
    assert locks.redis_url(cms.config) == f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    assert locks.claim(cms, "nightly", tick_key(TICK), 5)
    assert not locks.claim(cms, "nightly", tick_key(TICK), 5)


def test_redis_url_forms() -> None:
    assert locks.redis_url({}) is None
    assert locks.redis_url({"REDIS": "redis://r:6380/2"}) == "redis://r:6380/2"
    assert locks.redis_url({"REDIS_HOST": "r", "REDIS_PASSWORD": "p@ss",
                            "REDIS_DB": 3}) == "redis://:p%40ss@r:6379/3"
    assert locks.redis_url({"REDIS_HOST": "r", "REDIS_USERNAME": "u", "REDIS_PASSWORD": "p",
                            "REDIS_PORT": 7000}) == "redis://u:p@r:7000/0"
    assert locks.redis_url({"REDIS": "redis://r:6380/2", "REDIS_ENABLED": False}) is None


@pytest.mark.backends("sqlite")
def test_redis_store_without_a_url_stops_the_start(make_app: Callable[..., Any]) -> None:
    from transom.errors import StartupError

    with pytest.raises(StartupError, match="SYNCHRONIZATION_STORE=redis needs REDIS"):
        make_app({"SYNCHRONIZATION_STORE": "redis"}, bootstrap=False)
    with pytest.raises(StartupError, match="REDIS_ENABLED not false"):
        make_app({"SYNCHRONIZATION_STORE": "redis", "REDIS": "redis://127.0.0.1:6379/0",
                  "REDIS_ENABLED": "false"}, bootstrap=False)
