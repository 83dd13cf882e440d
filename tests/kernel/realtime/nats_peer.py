"""Run as a subprocess by ``test_realtime_nats.py``: another worker process on the same
database, with the ``rt`` plugin and the settings of its environment (the NATS transport).

    python nats_peer.py serve PORT          # serve the API (dispatcher and relay running)
    python nats_peer.py dispatch [CRASH]    # dispatch and relay what is pending, once

``CRASH``: ``after-commit`` dies (os._exit(9), no clean-up) right after the dispatch
committed, before anything was relayed; ``after-publish`` dies after JetStream acknowledged
the events, before the relay cursor moved. ``dispatch`` prints what it relayed as JSON.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from realtime_support import rt_plugin  # noqa: E402

from kernel import Settings  # noqa: E402
from kernel._platform import build_platform  # noqa: E402


def _suite_conftest() -> Any:
    """tests/conftest.py (``make_plugin``); this folder's conftest.py shadows its name."""
    spec = importlib.util.spec_from_file_location("suite_conftest", HERE.parents[1] / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_plugin = _suite_conftest().make_plugin


def serve(port: int) -> None:
    import uvicorn

    from kernel import create_app

    app = create_app(Settings(), plugins=[rt_plugin(make_plugin)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def dispatch(crash: str | None) -> None:
    platform = build_platform(Settings(), [rt_plugin(make_plugin)])
    transport = platform.event_transport
    if crash == "after-commit":
        transport.committed = lambda *_: os._exit(9)  # type: ignore[method-assign]
    elif crash == "after-publish":
        publish = transport.relay.publish

        async def publish_then_die(events):  # type: ignore[no-untyped-def]
            await publish(events)
            os._exit(9)

        transport.relay.publish = publish_then_die
    dispatched = await platform.dispatcher.drain()
    relayed = platform.metrics.events_relayed
    print(
        json.dumps(
            {
                "dispatched": dispatched,
                "published": relayed.labels("published")._value.get(),
                "duplicate": relayed.labels("duplicate")._value.get(),
            }
        )
    )
    await platform.close_event_transport()
    await platform.database.dispose()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        asyncio.run(dispatch(sys.argv[2] if len(sys.argv) > 2 else None))
