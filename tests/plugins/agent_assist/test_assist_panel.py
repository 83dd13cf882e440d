"""The Assist panel as the agent page finds it: named in ``panels.json`` with the event
pattern it follows, its module and style served publicly with a strict policy; a panel's
patterns are checked like any subscription's."""

from __future__ import annotations

import pytest

from plugins.agents import AgentPagePanel


async def test_the_panel_is_listed_with_its_pattern_and_served(client):
    listed = await client.get("/api/v1/agents/page/panels.json")
    assert listed.status_code == 200
    [assist] = [p for p in listed.json()["panels"] if p["id"] == "agent-assist"]
    assert assist == {
        "id": "agent-assist",
        "title": "Assist",
        "script": "agent-assist/page/assist-panel.js",
        "patterns": ["agent_assist.suggestion.created"],
    }
    # The campaigns panel follows no events of its own.
    [preview] = [p for p in listed.json()["panels"] if p["id"] == "campaigns-preview"]
    assert preview["patterns"] == []
    for name, kind in (("assist-panel.js", "text/javascript"), ("assist-panel.css", "text/css")):
        served = await client.get(f"/api/v1/agent-assist/page/{name}")
        assert served.status_code == 200
        assert served.headers["content-type"].startswith(kind)
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in served.headers["content-security-policy"]
    script = (await client.get("/api/v1/agent-assist/page/assist-panel.js")).text
    assert "export function mount(card, page)" in script
    assert "agent-assist/suggestions/" in script


def test_a_panel_pattern_must_be_an_event_pattern():
    with pytest.raises(ValueError, match="not an event pattern"):
        AgentPagePanel("x", "X", "x/page/x.js", patterns=("Bad Pattern!",))
    assert AgentPagePanel("x", "X", "x/page/x.js", patterns=("calls.*",)).patterns == ("calls.*",)
