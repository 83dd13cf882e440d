"""``kraliki serve``: uvicorn, with the real-time connections closed as soon as a stop begins.

uvicorn, told to stop, first waits for every open connection to finish and only then runs
the ASGI lifespan's shutdown, which is where the app closes its real-time connections. A
real-time stream never finishes by itself, so without help the server would wait for ever
(an SSE response) or cut the stream without a word (a WebSocket: 1012). :class:`ApiServer`
closes them first, through the platform's hub (SSE: a ``close`` event; WebSocket: 1001),
then lets uvicorn stop as usual, within ``KRALIKI_SHUTDOWN_TIMEOUT_SECONDS`` for whatever
else is still running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

from kernel._settings import Settings

if TYPE_CHECKING:
    from kernel._platform import Platform

APP_FACTORY = "kernel._app:create_app"
WORKER_HEALTHCHECK_SECONDS = 60

logger = logging.getLogger("kraliki.serve")


class ApiServer(uvicorn.Server):
    """uvicorn's server, which closes the platform's real-time connections when it begins
    to stop, before it waits for connections to finish."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        platform = served_platform(self.config)
        if platform is not None:
            for server in self.servers:
                server.close()  # no new connection while the old ones say goodbye
            await platform.realtime.stop()
        await super().shutdown(sockets)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn raises the signal again once it has stopped, so that the process dies of
        # it (status 143 for SIGTERM). A stop that was asked for and done is a success:
        # exit 0, as the process that supervises several workers does.
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()


def served_platform(config: uvicorn.Config) -> Platform | None:
    """The platform of the app ``config`` loaded (under uvicorn's middleware), if any."""
    app: Any = getattr(config, "loaded_app", None)
    while app is not None:
        platform = getattr(getattr(app, "state", None), "platform", None)
        if platform is not None:
            return platform  # type: ignore[no-any-return]
        app = getattr(app, "app", None)
    return None


SERVED_BASE_URL_VARIABLE = "KRALIKI_SERVED_BASE_URL"


def served_base_url(host: str, port: int) -> str:
    """The URL the API answers on when bound to ``host``:``port``, as this machine reaches it
    (an any-address bind is reached on the loopback address)."""
    reachable = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    if ":" in reachable:
        reachable = f"[{reachable}]"
    return f"http://{reachable}:{port}"


def export_served_base_url(host: str, port: int) -> str:
    """Put :func:`served_base_url` in the environment (``KRALIKI_SERVED_BASE_URL``), where the
    settings of this process and of the workers it starts read it."""
    url = served_base_url(host, port)
    os.environ[SERVED_BASE_URL_VARIABLE] = url
    return url


def api_config(settings: Settings, app: Any = APP_FACTORY, **options: Any) -> uvicorn.Config:
    """The API's uvicorn configuration: ``app`` (the app factory, or an app) and ``options``
    (host, port, logging, workers...), with the graceful-stop bound from the settings."""
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        # With several workers, uvicorn kills a worker that does not answer its health
        # check within this time, and a new worker answers only once it has imported the
        # platform: its default (5 s) kills every worker again and again on a busy host.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **options,
    )


def run_api(settings: Settings, *, workers: int, **options: Any) -> None:
    """Serve the API in this process, or in ``workers`` processes under uvicorn's
    supervisor; returns when stopped (exits with uvicorn's status if it could not start)."""
    config = api_config(settings, workers=workers, **options)
    if workers == 1:
        server = ApiServer(config)
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    sock = config.bind_socket()
    with _workers_run_api_server():
        Supervisor(config, sockets=[sock]).run()


async def serve_with_metrics_port(settings: Settings, metrics_port: int, **options: Any) -> None:
    """The API and, in the same process (its metrics live there), a second listener that
    serves only ``/metrics``; it stops when the API does."""
    from kernel._app import create_app
    from kernel._observability.metrics import metrics_listener_app

    class MetricsServer(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:  # the API server handles the signals
            yield

    app = create_app(settings)
    api = ApiServer(api_config(settings, app, **options))
    # log_config None: the API's config already set up logging for the process (uvicorn's
    # access logger is process-wide, so scrapes get access lines too).
    config = uvicorn.Config(
        metrics_listener_app(app.state.platform),
        lifespan="off",
        **{**options, "port": metrics_port, "log_config": None},
    )
    metrics = MetricsServer(config)
    listener = asyncio.create_task(metrics.serve())
    try:
        await api.serve()
    finally:
        metrics.should_exit = True
        await listener


class _WorkerProcess(multiprocess.Process):
    """One worker of uvicorn's supervisor, serving with :class:`ApiServer`."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.started_at = time.monotonic()

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = ApiServer(config=self.config)
        return self._server


class Supervisor(multiprocess.Multiprocess):
    """uvicorn's supervisor of several workers, which says at WARNING why it replaces one.

    uvicorn replaces a worker that exited or did not answer its health check within
    ``timeout_worker_healthcheck`` and logs only ``Child process [...] died`` at INFO,
    without the reason; a worker replaced under load must show in the logs.
    """

    def keep_subprocess_alive(self) -> None:
        # uvicorn's own loop, with the reason of each replacement logged.
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            exited = not process.process.is_alive()
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error("API worker [%s] failed to start; stopping the server", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            _report_replaced(process, exited, self.config.timeout_worker_healthcheck)
            replacement = multiprocess.Process(self.config, self.sockets)
            replacement.start()
            self.processes[index] = replacement


def _report_replaced(process: multiprocess.Process, exited: bool, timeout: float) -> None:
    code = process.exitcode
    if not exited:
        reason = f"did not answer its health check within {timeout:g} s and was killed"
    elif code is not None and code < 0:
        reason = f"was killed by {_signal_name(-code)}"
    else:
        reason = f"exited with status {code}"
    started_at = getattr(process, "started_at", None)
    uptime = round(time.monotonic() - started_at, 1) if started_at is not None else None
    logger.warning(
        "API worker [%s] %s, %s s after it was started; a new worker replaces it",
        process.pid,
        reason,
        uptime,
        extra={"worker_pid": process.pid, "reason": reason, "exit_code": code, "uptime_s": uptime},
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@contextmanager
def _workers_run_api_server() -> Iterator[None]:
    # uvicorn's supervisor builds its worker processes from this module-level class and
    # offers no other way to choose the server they run. The supervisor lives in this
    # process (the workers are spawned with the class it used), so the swap is local to it.
    original = multiprocess.Process
    multiprocess.Process = _WorkerProcess  # type: ignore[misc]
    try:
        yield
    finally:
        multiprocess.Process = original  # type: ignore[misc]
