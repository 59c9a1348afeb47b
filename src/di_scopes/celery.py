"""A scope per Celery task run: a task base class.

    from di_scopes.celery import ScopedTask

    app = Celery("jobs", task_cls=ScopedTask)       # every task of the app
    @app.task(base=ScopedTask)                      # or one task

Each run of the task, by a worker or eagerly (``task_always_eager``, ``task.apply()``), runs in a
fresh scope named ``scope_name`` (default ``"task"``). An exception that ends the run is thrown
into the scope's resources, ``celery.exceptions.Retry`` from ``self.retry()`` included (each
retry runs in a scope of its own); a run that returns ends it as a success. The running task
(``self``, whose ``request`` holds the id, retries and arguments) is the scope's
``di_scopes.TASK`` value, for ``di_scopes.ScopeValue(di_scopes.TASK)``.

Change the name in a subclass (``scope_name = "job"``). Tasks are synchronous, so the scope's
resources must be too.
"""

from __future__ import annotations

from typing import Any

from celery import Task  # type: ignore[import-untyped]

from ._integration_core import TASK, end_scope, enter_scope, integration_scope

__all__ = ["ScopedTask"]


class ScopedTask(Task):  # type: ignore[misc]
    """A Celery task whose every run is a scope; see the module documentation."""

    #: The name of the scope each run opens.
    scope_name = "task"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name, make_scope = integration_scope(self.scope_name)
        entered = enter_scope(make_scope, name, TASK, self)
        try:
            result = super().__call__(*args, **kwargs)
        except BaseException as error:
            end_scope(entered, error)
            raise
        end_scope(entered)
        return result
