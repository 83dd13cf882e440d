"""Erasure of a contact (``kraliki_contact_erased``, a hook of the contacts plugin, which calls
does not require): the contact's numbers become its pseudonym, its calls' notes, metadata,
words and recordings go, another contact's calls and another organization's stay.

The contacts plugin is not loaded here: a stand-in declares the hook with the same signature
and the test calls it as the erasure would, in the tenant's scope with a session it commits.
"""

from __future__ import annotations

import json
import types
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from calls_helpers import ALL, provision
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    DependencyError,
    HookCallError,
    Platform,
    PluginInfo,
    __version__,
    hookimpl,
    hookspec,
    tenant_scope,
)
from plugins.calls.models import Call, WebhookReceipt
from plugins.calls.testing import FakelineProvider, fakeline_log, fakeline_plugin

ALICE = "+14155550111"
BOB = "+14155550122"
OURS = "+14155550100"
AGENT = "+14155550133"
PSEUDONYM = "erased-0123456789ab"


class ErasureSpec:
    """The contacts plugin's hook, as ``plugins/contacts/hookspecs.py`` declares it."""

    @hookspec
    def kraliki_contact_erased(
        self,
        platform: Platform,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        contact_id: uuid.UUID,
        numbers: Sequence[str],
        emails: Sequence[str],
        pseudonym: str,
    ) -> Any:
        """Remove or pseudonymise what you hold about an erased contact."""


def contacts_stand_in() -> types.SimpleNamespace:
    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(
            lambda: PluginInfo(name="contacts_stand_in", version=__version__)
        ),
        kraliki_add_hookspecs=hookimpl(lambda: ErasureSpec),
    )
    plugin.__name__ = "contacts_stand_in"
    return plugin


@pytest.fixture
def kraliki_installed_plugins(kraliki_installed_plugins):
    """Without the real contacts plugin, should it be installed: the stand-in declares its
    hook (a hook declared twice stops the platform)."""
    needing = {"contacts", "campaigns"}  # campaigns need contacts: they go too
    return [p for p in kraliki_installed_plugins if getattr(p, "entry_point", None) not in needing]


@pytest.fixture
def kraliki_extra_plugins():
    return [fakeline_plugin(), contacts_stand_in()]


@pytest.fixture
def act_as(app, kraliki_authenticate):
    """Make the next requests come from a user of that tenant."""
    return lambda tenant_id: kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant_id)


async def erase(platform: Platform, tenant_id: uuid.UUID, numbers: Sequence[str]) -> None:
    """What the contacts plugin's erasure does: every plugin's part, then one commit."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.hooks.collect(
                "kraliki_contact_erased",
                platform=platform,
                session=session,
                tenant_id=tenant_id,
                contact_id=uuid.uuid4(),
                numbers=list(numbers),
                emails=["alice@example.com"],
                pseudonym=PSEUDONYM,
            )
            await session.commit()


async def talked(send, call: dict[str, Any], words: str, recording: str) -> None:
    """The call is answered, recorded and transcribed; then it ends."""
    sid = call["provider_call_id"]
    await send(
        [
            {"type": "progress", "call": sid, "status": "in-progress"},
            {"type": "recording", "call": sid, "recording": recording, "status": "in-progress"},
            {"type": "transcript", "call": sid, "text": words, "speaker": "caller"},
            {
                "type": "recording",
                "call": sid,
                "recording": recording,
                "status": "completed",
                "duration": 12,
                "media": f"https://media.example/{recording}",
            },
        ]
    )


async def ended(send, call: dict[str, Any]) -> None:
    sid = call["provider_call_id"]
    response = await send([{"type": "progress", "call": sid, "status": "completed"}])
    assert response.status_code == 200, response.text


async def inbound_from(send, number: str, sid: str, **options: Any) -> None:
    event = {
        "type": "progress",
        "call": sid,
        "status": "ringing",
        "direction": "inbound",
        "from": number,
        "to": OURS,
    }
    response = await send([event], **options)
    assert response.status_code == 200, response.text


async def receipts_text(platform: Platform, tenant_id: uuid.UUID) -> str:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            rows = await session.scalars(select(WebhookReceipt))
            return json.dumps([[r.payload, r.events, r.error, r.answer_body] for r in rows])


async def test_erasure_of_a_contact_in_calls(client, place, send, platform, tenant, act_as):
    to_alice = await place(to=ALICE, tags=["vip"], metadata={"crm": "A-17", "phone": ALICE})
    await talked(send, to_alice, "my card number is 4242", "RE-ALICE")
    detail_url = f"/api/v1/calls/{to_alice['id']}"
    patched = await client.patch(
        detail_url, json={"notes": "Alice wants a refund", "disposition": "refund"}
    )
    assert patched.status_code == 200
    transferred = await client.post(f"{detail_url}/transfer", json={"to": AGENT})
    assert transferred.status_code == 200, transferred.text
    await ended(send, to_alice)
    await inbound_from(send, ALICE, "TL-IN-ALICE")

    leg = await place(to=AGENT)  # the leg the transfer made, carrying Alice's conversation
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            await session.execute(
                update(Call)
                .where(Call.id == uuid.UUID(leg["id"]))
                .values(parent_call_id=uuid.UUID(to_alice["id"]))
            )
            await session.commit()
    await talked(send, leg, "Alice again, about 4242", "RE-LEG")
    await client.patch(f"/api/v1/calls/{leg['id']}", json={"notes": "leg notes"})

    to_bob = await place(to=BOB)
    await talked(send, to_bob, "Bob speaking", "RE-BOB")
    await client.patch(f"/api/v1/calls/{to_bob['id']}", json={"notes": "Bob notes"})
    to_bob_transfer = await client.post(
        f"/api/v1/calls/{to_bob['id']}/transfer", json={"to": ALICE}
    )
    assert to_bob_transfer.status_code == 200, to_bob_transfer.text

    globex = await provision(platform, "globex")
    await inbound_from(send, ALICE, "TL-GLOBEX", tenant_id=globex)

    await erase(platform, tenant, [ALICE])

    detail = (await client.get(detail_url)).json()
    assert detail["to"] == PSEUDONYM
    assert detail["from"] == "+14155550199"  # the organization's own number stays
    assert detail["notes"] == ""
    assert detail["metadata"] == {}
    assert detail["disposition"] == "refund"  # outcomes stay for the statistics
    assert detail["tags"] == ["vip"]
    assert detail["status"] == "completed"
    assert detail["transcript"] == []
    [recording] = detail["recordings"]
    assert recording["status"] == "deleted"
    assert recording["deleted_at"] is not None
    kinds = [entry["kind"] for entry in detail["timeline"]]
    assert "erased" in kinds
    assert any(e.get("detail", {}).get("target") == AGENT for e in detail["timeline"])
    text = json.dumps(detail)
    assert ALICE not in text
    # What Alice said, not bare digits: a timestamp (23:42:42) or an id may hold "4242".
    assert "card number is 4242" not in text
    assert "about 4242" not in text
    assert "refund" in text  # the disposition
    audio = await client.get(f"{detail_url}/recordings/{recording['id']}/audio")
    assert audio.status_code == 404
    assert sorted(fakeline_log(platform).deleted) == ["RE-ALICE", "RE-LEG"]

    inbound = (await client.get("/api/v1/calls", params={"number": ALICE})).json()
    assert inbound["items"] == []
    [from_alice] = [
        c for c in (await client.get("/api/v1/calls")).json()["items"] if c["from"] == PSEUDONYM
    ]
    assert from_alice["to"] == OURS
    assert from_alice["direction"] == "inbound"

    leg_detail = (await client.get(f"/api/v1/calls/{leg['id']}")).json()
    assert leg_detail["to"] == AGENT
    assert leg_detail["notes"] == ""
    assert leg_detail["transcript"] == []
    assert leg_detail["recordings"][0]["status"] == "deleted"

    bob = (await client.get(f"/api/v1/calls/{to_bob['id']}")).json()
    assert bob["to"] == BOB
    assert bob["notes"] == "Bob notes"
    assert [s["text"] for s in bob["transcript"]] == ["Bob speaking"]
    assert bob["recordings"][0]["status"] == "completed"
    [transfer] = [e for e in bob["timeline"] if e["detail"].get("action") == "transfer"]
    assert transfer["detail"]["target"] == PSEUDONYM  # Bob's call named Alice's number
    assert "erased" not in [entry["kind"] for entry in bob["timeline"]]

    kept = await receipts_text(platform, tenant)
    assert ALICE not in kept
    assert ALICE[1:] not in kept
    assert "card number is 4242" not in kept
    assert "about 4242" not in kept
    assert "Bob speaking" in kept  # Bob's webhooks are kept whole

    assert ALICE in await receipts_text(platform, globex)
    act_as(globex)
    [theirs] = (await client.get("/api/v1/calls", params={"number": ALICE})).json()["items"]
    assert theirs["from"] == ALICE

    # Run again (a retried erasure): nothing more changes, the provider is not asked again.
    act_as(tenant)
    await erase(platform, tenant, [ALICE])
    again = (await client.get(detail_url)).json()
    assert again == detail
    assert sorted(fakeline_log(platform).deleted) == ["RE-ALICE", "RE-LEG"]


async def test_a_recording_the_provider_cannot_delete_fails_the_erasure_whole(
    client, place, send, platform, tenant, monkeypatch
):
    """The erasure is retried rather than done without the audio gone at the provider."""
    call = await place(to=ALICE)
    await talked(send, call, "hello", "RE-1")
    await client.patch(f"/api/v1/calls/{call['id']}", json={"notes": "keep until done"})

    async def unreachable(self, recording):
        raise DependencyError("fakeline", "timed out")

    monkeypatch.setattr(FakelineProvider, "delete_recording", unreachable)
    with pytest.raises(HookCallError) as raised:
        await erase(platform, tenant, [ALICE])
    assert isinstance(raised.value.__cause__, DependencyError)
    untouched = (await client.get(f"/api/v1/calls/{call['id']}")).json()
    assert untouched["to"] == ALICE
    assert untouched["notes"] == "keep until done"
    assert untouched["transcript"] != []

    monkeypatch.undo()
    await erase(platform, tenant, [ALICE])
    done = (await client.get(f"/api/v1/calls/{call['id']}")).json()
    assert done["to"] == PSEUDONYM
    assert done["recordings"][0]["status"] == "deleted"
    assert fakeline_log(platform).deleted == ["RE-1"]


async def test_an_erasure_with_no_calls_changes_nothing(client, place, platform, tenant):
    call = await place(to=BOB)
    await erase(platform, tenant, [ALICE, "+442071838750"])
    await erase(platform, tenant, [])
    assert (await client.get(f"/api/v1/calls/{call['id']}")).json()["to"] == BOB
