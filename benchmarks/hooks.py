"""Cost of the kernel's async hook facade against calling pluggy directly.

The facade calls implementations one at a time (to attribute errors to a plugin, isolate
notification hooks and await coroutines), which pluggy does in one tight loop. Events will
fan out through ``notify`` on every state change, so its overhead matters.

    .venv/bin/python benchmarks/hooks.py [--plugins 10] [--rounds 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import types

from harness import per_call_us, ratio

from kernel import PluginInfo, hookimpl
from kernel._plugins import PluginSource, load_plugins


def make_plugin(index: int) -> types.SimpleNamespace:
    info = PluginInfo(name=f"plugin_{index}", version="1.0")
    counter = [0]

    def startup(platform: object) -> None:
        counter[0] += 1

    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(lambda: info), kraliki_startup=hookimpl(startup)
    )
    plugin.__name__ = info.name
    return plugin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plugins", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()

    loaded = load_plugins([PluginSource(make_plugin(i)) for i in range(args.plugins)])
    pluggy_hook = loaded.manager.hook.kraliki_startup

    def baseline(rounds: int) -> None:
        for _ in range(rounds):
            pluggy_hook(platform=None)

    def facade(rounds: int) -> None:
        async def run() -> None:
            for _ in range(rounds):
                await loaded.hooks.notify("kraliki_startup", platform=None)

        asyncio.run(run())

    base = per_call_us(baseline, args.rounds)
    ours = per_call_us(facade, args.rounds)
    print(f"plugins implementing the hook: {args.plugins}")
    print(f"pluggy direct call:   {base:8.2f} us/call  ({1e6 / base:10.0f} calls/s)")
    print(f"kernel facade notify: {ours:8.2f} us/call  ({1e6 / ours:10.0f} calls/s)")
    print(f"throughput ratio facade/pluggy: {ratio(base, ours)}")


if __name__ == "__main__":
    main()
