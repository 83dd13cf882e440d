"""Run as a subprocess by the crash test: a dispatcher that dies (os._exit) mid-batch."""

import asyncio

import ledger_plugin

from kernel import Settings
from kernel._platform import build_platform


async def main() -> None:
    platform = build_platform(Settings(), [ledger_plugin])
    await platform.dispatcher.drain()
    await platform.database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
