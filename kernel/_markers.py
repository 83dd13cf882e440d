"""The pluggy markers of the ``kraliki`` project (private; re-exported by ``kernel``)."""

import pluggy

PROJECT_NAME = "kraliki"
ENTRY_POINT_GROUP = "kraliki.plugins"
CORE_ENTRY_POINT_GROUP = "kraliki.core"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
