"""Call control over REST: each action checks state and capability (409), reaches the
provider with a fresh command id, and is recorded in the timeline and as an event."""

from __future__ import annotations

import pytest

from plugins.calls.provider import Action
from plugins.calls.testing import fakeline_log


@pytest.fixture
async def live_call(place, send):
    call = await place()
    await send([{"type": "progress", "call": call["provider_call_id"], "status": "in-progress"}])
    return call


async def test_actions_on_a_live_call(client, live_call, platform):
    url = f"/api/v1/calls/{live_call['id']}"
    steps = [
        ("hold", None, {"on_hold": True}),
        ("unhold", None, {"on_hold": False}),
        ("mute", None, {"muted": True}),
        ("unmute", None, {"muted": False}),
        ("dtmf", {"digits": "12#"}, {}),
        ("recording/start", None, {"recording": "recording"}),
        ("recording/pause", None, {"recording": "paused"}),
        ("recording/resume", None, {"recording": "recording"}),
        ("recording/stop", None, {"recording": None}),
        ("transfer", {"to": "+1 415 555 0142"}, {}),
    ]
    for path, body, expected in steps:
        response = await client.post(f"{url}/{path}", json=body)
        assert response.status_code == 200, (path, response.text)
        for key, value in expected.items():
            assert response.json()[key] == value, path
    controls = fakeline_log(platform).controls
    assert [c.action for c in controls] == [
        Action.HOLD,
        Action.UNHOLD,
        Action.MUTE,
        Action.UNMUTE,
        Action.SEND_DTMF,
        Action.START_RECORDING,
        Action.PAUSE_RECORDING,
        Action.RESUME_RECORDING,
        Action.STOP_RECORDING,
        Action.TRANSFER,
    ]
    assert controls[4].digits == "12#"
    assert controls[-1].target == "+14155550142"
    assert len({c.command_id for c in controls}) == len(controls)  # one per request
    timeline = (await client.get(url)).json()["timeline"]
    actions = [e["detail"]["action"] for e in timeline if e["kind"] == "action"]
    assert actions[:2] == ["hold", "unhold"]
    assert "12#" not in str(timeline)  # only a count: digits may be sensitive


async def test_state_conflicts_are_409(client, place, live_call, send):
    url = f"/api/v1/calls/{live_call['id']}"
    assert (await client.post(f"{url}/unhold")).status_code == 409
    assert (await client.post(f"{url}/recording/pause")).status_code == 409
    assert (await client.post(f"{url}/hold")).status_code == 200
    conflict = await client.post(f"{url}/hold")
    assert conflict.status_code == 409
    assert conflict.json()["type"].endswith("/calls-call-state-conflict")
    ringing = await place()
    response = await client.post(f"/api/v1/calls/{ringing['id']}/mute")
    assert response.status_code == 409
    assert response.json()["call_status"] == "initiated"
    await send([{"type": "progress", "call": live_call["provider_call_id"], "status": "completed"}])
    ended = await client.post(f"{url}/hangup")
    assert ended.status_code == 409
    assert "completed" in ended.json()["detail"]


async def test_hangup_reaches_the_provider_and_the_webhook_ends_the_call(
    client, live_call, send, platform
):
    url = f"/api/v1/calls/{live_call['id']}"
    response = await client.post(f"{url}/hangup")
    assert response.status_code == 200
    assert fakeline_log(platform).controls[-1].action is Action.HANGUP
    assert response.json()["status"] == "in-progress"  # the provider says when it ended
    await send([{"type": "progress", "call": live_call["provider_call_id"], "status": "completed"}])
    assert (await client.get(url)).json()["status"] == "completed"


async def test_missing_capability_is_409(
    kraliki_make_app, kraliki_authenticate, kraliki_installed_plugins
):
    from calls_helpers import ALL, provision

    from kernel.testing import app_client
    from plugins.calls.provider import Capability
    from plugins.calls.testing import fakeline_plugin, fakeline_webhook

    app = await kraliki_make_app(
        plugins=[
            *kraliki_installed_plugins,
            fakeline_plugin(capabilities=frozenset({Capability.HOLD})),
        ],
        background_workers=False,
    )
    tenant = await provision(app.state.platform, "acme")
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant)
    async with app_client(app) as client:
        call = (
            await client.post("/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"})
        ).json()
        await fakeline_webhook(
            client,
            tenant,
            "fakeline-signing-secret",
            [{"type": "progress", "call": call["provider_call_id"], "status": "in-progress"}],
        )
        response = await client.post(f"/api/v1/calls/{call['id']}/mute")
        assert response.status_code == 409
        assert response.json()["capability"] == "mute"
        assert (await client.post(f"/api/v1/calls/{call['id']}/hold")).status_code == 200
