"""When the app shuts down, real-time clients are told to go elsewhere (1001) before the
database goes away; nothing new is accepted meanwhile."""

from __future__ import annotations

from realtime_support import closed_with, running_site, subscribe

from kernel import create_app
from kernel._migrations import upgrade
from kernel._platform import resolve_plugins

SHUTTING_DOWN = "server shutting down"


async def test_shutdown_closes_every_stream_with_1001(kraliki_database, kraliki_extra_plugins):
    settings = kraliki_database.settings(realtime_heartbeat_seconds=0.5)
    await upgrade(settings, resolve_plugins(settings, kraliki_extra_plugins))
    app = create_app(settings, plugins=kraliki_extra_plugins)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    running = True

    async def started_app(**_settings):
        return app

    try:
        async with (
            running_site(started_app) as site,
            site.ws("alpha-agent") as ws,
            site.sse("beta-agent", ["*"]) as stream,
        ):
            await subscribe(ws, ["*"])
            await stream.next()  # ready
            running = False
            await lifespan.__aexit__(None, None, None)
            code, messages = await closed_with(ws)
            assert code == 1001
            assert messages[-1] == {"type": "error", "code": 1001, "message": SHUTTING_DOWN}
            frames = await stream.until_end()
            assert frames[-1]["event"] == "close"
            assert frames[-1]["data"]["code"] == 1001
            async with site.ws("alpha-agent") as late:
                code, _ = await closed_with(late)
            assert code == 1001
    finally:
        if running:
            await lifespan.__aexit__(None, None, None)
