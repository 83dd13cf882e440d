"""The pluggy markers of the ``kraliki`` project (private; re-exported by ``kernel``)."""

import pluggy

PROJECT_NAME = "kraliki"
ENTRY_POINT_GROUP = "kraliki.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
