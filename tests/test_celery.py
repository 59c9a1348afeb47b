"""di_scopes.celery.ScopedTask: a scope per task run, eagerly and under a real in-process worker."""

import contextlib
import itertools
import threading

import pytest
from celery import Celery
from dependency_injector import containers, providers
from fastapi_app import Log, Repository, tracked_resource

import di_scopes
from di_scopes import _select
from di_scopes.celery import ScopedTask

APPS = itertools.count()


def build(twin, **conf):
    log = Log()

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(tracked_resource(log, "session"))
        repository = providers.Factory(Repository, session=session)
        task = twin.ScopeValue(di_scopes.TASK)

    container = Container()
    app = Celery("tests", broker="memory://", backend="cache+memory://", task_cls=ScopedTask, set_as_current=False)
    app.conf.update(conf)

    prefix = f"t{next(APPS)}"  # every app registers its own tasks

    @app.task(name=f"{prefix}.add")
    def add(x, y):
        session = container.session()
        assert container.repository().session is session
        return [x + y, session.number, container.task().request.id is not None, _select.active().current_scope().name]

    @app.task(name=f"{prefix}.fail")
    def fail():
        container.session()
        raise LookupError("task failed")

    @app.task(name=f"{prefix}.noop")
    def noop():
        pass

    app.extensions = {"noop": noop}

    @app.task(name=f"{prefix}.flaky", bind=True, max_retries=1)
    def flaky(self):
        container.session()
        if self.request.retries == 0:
            raise self.retry(countdown=0)
        return self.request.retries

    return app, log, (add, fail, flaky)


def ended(log):
    return [(s.events, s.closes) for s in log.by_kind("session")]


def test_eager_runs(twin):
    app, log, (add, fail, flaky) = build(twin, task_always_eager=True)
    first, second = add.delay(1, 2).get(), add.apply((3, 4)).get()
    assert (first[0], first[2:]) == (3, [True, "task"])
    assert second[0] == 7 and second[1] != first[1]
    with pytest.raises(LookupError):
        fail.delay().get()
    assert ended(log) == [(["commit"], 1), (["commit"], 1), (["rollback LookupError"], 1)]
    assert _select.active().current_scope() is None


def test_eager_retry_is_thrown_in(twin):
    app, log, (_, _, flaky) = build(twin, task_always_eager=True)
    from celery.exceptions import Retry

    with pytest.raises(Retry):
        flaky.apply(throw=True).get()
    assert ended(log) == [(["rollback Retry"], 1)]


def test_called_directly_is_a_scope_too(twin):
    app, log, (add, _, _) = build(twin)
    assert add(1, 1)[0] == 2
    assert ended(log) == [(["commit"], 1)]


@contextlib.contextmanager
def worker(app):
    """A real worker in a thread of this process, on the in-memory broker."""
    from celery.contrib.testing.worker import start_worker

    stopped = threading.Event()

    def wake():
        # The worker waits for messages up to 2 s at a time, and once more after it has seen the
        # shutdown: messages end those waits.
        while not stopped.wait(0.05):
            app.extensions["noop"].delay()

    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="CRITICAL"):
            try:
                yield
            finally:
                threading.Thread(target=wake, daemon=True).start()
    finally:
        stopped.set()


@pytest.mark.slow
def test_real_worker(twin):
    app, log, (add, fail, flaky) = build(twin, broker_transport_options={"polling_interval": 0.01})
    with worker(app):
        assert add.delay(2, 3).get(timeout=20, interval=0.01)[0] == 5
        with pytest.raises(LookupError):
            fail.delay().get(timeout=20, interval=0.01)
        assert flaky.delay().get(timeout=20, interval=0.01) == 1
    assert ended(log) == [
        (["commit"], 1),
        (["rollback LookupError"], 1),
        (["rollback Retry"], 1),
        (["commit"], 1),
    ]
