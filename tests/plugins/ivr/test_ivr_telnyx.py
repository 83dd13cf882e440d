"""The same flow answering Telnyx's real-format webhooks (the Telnyx double signs them with
Ed25519); the platform answers with Call Control commands."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from ivr_calls import CALLER, MENU, NUMBER, SALES, flow_sessions, publish_and_route

from plugins.calls import PERMISSIONS
from plugins.calls.testing import served_platform
from plugins.telnyx.testing import TelnyxDouble, use_telnyx

CALLS_ALL = tuple(p.key for p in PERMISSIONS)


@pytest.fixture
async def telnyx() -> AsyncIterator[TelnyxDouble]:
    async with TelnyxDouble() as double:
        yield double


@pytest.fixture
async def app(kraliki_make_app, telnyx, monkeypatch):
    environment = telnyx.environment()
    async with served_platform(
        kraliki_make_app, monkeypatch, environment, background_workers=False
    ) as app:
        yield app


@pytest.fixture
async def tenant(tenant, app, telnyx) -> uuid.UUID:
    """The organization of every IVR test, calling through the double."""
    await use_telnyx(app.state.platform, tenant, telnyx, max_concurrent_calls=10)
    return tenant


def actions(telnyx: TelnyxDouble, control_id: str) -> list[str]:
    return [command.action for command in telnyx.commands(control_id)]


async def choose(telnyx: TelnyxDouble, control_id: str, digits: str) -> None:
    """The call arrives, the greeting plays, the caller keys ``digits`` in the menu, and
    the chosen node's first prompt plays."""
    await telnyx.send_event(control_id, "call.initiated")
    await telnyx.send_event(control_id, "call.answered")
    await telnyx.send_event(control_id, "call.speak.ended")
    await telnyx.send_event(control_id, "call.gather.ended", digits=digits, status="valid")
    await telnyx.send_event(control_id, "call.speak.ended")


async def test_a_caller_goes_through_the_menu_to_sales(client, tenant, telnyx, app):
    await publish_and_route(client, "telnyx")
    url = f"{app.state.public_url}/webhooks/telnyx/{tenant}/events"
    control_id = telnyx.incoming_call(CALLER, NUMBER, webhook_url=url).call_control_id

    assert (await telnyx.send_event(control_id, "call.initiated")).status == 200
    assert actions(telnyx, control_id) == ["answer"]
    await telnyx.send_event(control_id, "call.answered")
    assert actions(telnyx, control_id)[-1] == "speak"
    await telnyx.send_event(control_id, "call.speak.ended")
    gather = telnyx.commands(control_id)[-1]
    assert gather.action == "gather_using_speak"
    assert gather.body["payload"] == "For sales, press 1. For a message, press 2."

    # Silence: the flow asks again.
    await telnyx.send_event(control_id, "call.gather.ended", digits="", status="timeout")
    again = telnyx.commands(control_id)[-1]
    assert again.action == "gather_using_speak"
    assert again.body["payload"] == (
        "<speak>Sorry, I did not get that. For sales, press 1. For a message, press 2.</speak>"
    )

    await telnyx.send_event(control_id, "call.gather.ended", digits="1", status="valid")
    said = telnyx.commands(control_id)[-1]
    assert (said.action, said.body["payload"]) == ("speak", "Connecting you to sales.")
    await telnyx.send_event(control_id, "call.speak.ended")
    transfer = telnyx.commands(control_id)[-1]
    assert (transfer.action, transfer.body["to"]) == ("transfer", SALES)
    assert transfer.body["park_after_unbridge"] == "self"
    [waiting] = await flow_sessions(app.state.platform, tenant)
    assert waiting.status == "active"

    # Sales answered, they talked, sales hung up: the parked caller is hung up.
    await telnyx.end_transfer(control_id, "answered")
    assert telnyx.commands(control_id)[-1].action == "hangup"
    [kept] = await flow_sessions(app.state.platform, tenant)
    assert (kept.status, kept.outcome) == ("ended", "transferred")
    assert kept.state["path"] == ["hello:next", "menu:1", "sales:ended"]


async def test_a_busy_transfer_takes_the_busy_branch_instead_of_silence(
    client, tenant, telnyx, app
):
    document = json.loads(json.dumps(MENU))
    document["nodes"]["sales"]["exits"] = {"busy": "message"}
    await publish_and_route(client, "telnyx", document)
    telnyx.transfer_outcomes[SALES] = "busy"
    url = f"{app.state.public_url}/webhooks/telnyx/{tenant}/events"
    control_id = telnyx.incoming_call(CALLER, NUMBER, webhook_url=url).call_control_id
    await choose(telnyx, control_id, "1")
    assert telnyx.commands(control_id)[-1].action == "transfer"

    await telnyx.end_transfer(control_id)
    # The caller's leg is still up: the voicemail node's prompt plays on it.
    said = telnyx.commands(control_id)[-1]
    assert (said.action, said.body["payload"]) == ("speak", "Leave a message.")
    [kept] = await flow_sessions(app.state.platform, tenant)
    assert kept.status == "active"
    assert kept.state["path"] == ["hello:next", "menu:1", "sales:busy"]


async def test_voicemail_through_telnyx_ends_when_the_call_does(client, tenant, telnyx, app):
    await publish_and_route(client, "telnyx")
    url = f"{app.state.public_url}/webhooks/telnyx/{tenant}/events"
    control_id = telnyx.incoming_call(CALLER, NUMBER, webhook_url=url).call_control_id
    await choose(telnyx, control_id, "2")
    assert telnyx.commands(control_id)[-1].action == "record_start"
    recording = telnyx.add_recording(control_id)
    await telnyx.send_event(control_id, "call.recording.saved", recording=recording)
    # Telnyx goes on with the goodbye by itself.
    assert telnyx.commands(control_id)[-1].action == "speak"
    await telnyx.send_event(control_id, "call.speak.ended")
    assert telnyx.commands(control_id)[-1].action == "hangup"
    await telnyx.send_event(control_id, "call.hangup")
    [kept] = await flow_sessions(app.state.platform, tenant)
    assert (kept.status, kept.outcome) == ("ended", "voicemail")
