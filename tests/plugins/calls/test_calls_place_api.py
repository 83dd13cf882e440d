"""``place_call`` and ``CallRequest`` from the public API, as another plugin (queues placing
an agent leg) uses them: E.164 numbers and SIP URIs as destinations, anything else a 422."""

from __future__ import annotations

import pytest

from kernel import ProblemError, tenant_scope
from plugins.calls import CallRequest, CallStatus, Conference, is_sip_uri, place_call
from plugins.calls.testing import fakeline_log


@pytest.mark.parametrize(
    "uri",
    [
        "sip:agent-7@pbx.example.com",
        "sip:agent.7@pbx.example.com:5061",
        "sip:+14155550100@10.0.0.7",
        "sip:a@b",
    ],
)
def test_sip_uris(uri):
    assert is_sip_uri(uri)


@pytest.mark.parametrize(
    "value",
    [
        "sip:@pbx.example.com",
        "sip:agent@",
        "sip:agent@pbx.example.com:0",
        "sip:agent@pbx.example.com:70000",
        "sip:agent@-pbx.example.com",
        "sip:agent@pbx..example.com",
        "sip:agent:secret@pbx.example.com",
        "sip:agent@pbx.example.com;transport=tls",
        "sips:agent@pbx.example.com",
        "SIP:agent@pbx.example.com",
        "agent@pbx.example.com",
        "+14155550100",
        "sip:" + "a" * 64 + "@" + "b" * 250,
    ],
)
def test_not_sip_uris(value):
    assert not is_sip_uri(value)


async def place(platform, tenant, **fields):
    fields.setdefault("from_number", "+14155550199")
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            return await place_call(platform, session, CallRequest(**fields))


async def test_a_call_is_placed_to_a_sip_uri(platform, tenant, client):
    room = Conference(name="queue-42", start_on_enter=True, end_on_exit=True)
    call = await place(
        platform,
        tenant,
        to_number="sip:agent-7@pbx.example.com:5061",
        instructions=[room],
        placed_by="queues",
        metadata={"queue_item": "42"},
    )
    assert call.status == CallStatus.INITIATED.value
    [placed] = fakeline_log(platform).placed
    assert placed.to_number == "sip:agent-7@pbx.example.com:5061"
    detail = (await client.get(f"/api/v1/calls/{call.id}")).json()
    assert detail["to"] == "sip:agent-7@pbx.example.com:5061"
    assert detail["metadata"] == {"queue_item": "42"}


async def test_a_call_is_placed_to_a_number(platform, tenant):
    call = await place(platform, tenant, to_number="+14155550100")
    assert call.provider_call_id is not None
    assert fakeline_log(platform).placed[0].to_number == "+14155550100"


@pytest.mark.parametrize("to", ["4155550100", "+1 415 555 0100", "sip:agent", "tel:+1415"])
async def test_anything_else_is_refused_before_a_call_exists(platform, tenant, client, to):
    with pytest.raises(ProblemError) as caught:
        await place(platform, tenant, to_number=to)
    assert caught.value.problem.slug == "calls-invalid-number"
    assert caught.value.extensions == {"field": "to"}
    assert fakeline_log(platform).placed == []
    assert (await client.get("/api/v1/calls")).json()["items"] == []


async def test_the_http_api_still_takes_numbers_only(client, tenant):
    response = await client.post(
        "/api/v1/calls", json={"to": "sip:agent@pbx.example.com", "from": "+14155550199"}
    )
    assert response.status_code == 422
