"""Away reason codes (with the built-in `missed`) and presence settings through the API."""

from __future__ import annotations

from agents_helpers import BASE, person

CODES = f"{BASE}/reason-codes"


async def test_reason_codes_are_defined_changed_and_deleted(
    kraliki_client, kraliki_make_user, owner
):
    listed = await kraliki_client.get(CODES, headers=owner.headers)
    assert listed.json() == [
        {"id": None, "code": "missed", "label": "Missed a call", "active": True, "builtin": True}
    ]
    created = await kraliki_client.post(
        CODES, headers=owner.headers, json={"code": "lunch", "label": "Lunch"}
    )
    assert created.status_code == 201, created.text
    lunch = created.json()
    assert (lunch["code"], lunch["active"], lunch["builtin"]) == ("lunch", True, False)
    for code in ("lunch", "missed"):
        taken = await kraliki_client.post(CODES, headers=owner.headers, json={"code": code})
        assert taken.status_code == 409
        assert taken.json()["type"] == "/problems/agents-reason-code-exists"
    bad = await kraliki_client.post(CODES, headers=owner.headers, json={"code": "No Spaces"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "code"]
    changed = await kraliki_client.patch(
        f"{CODES}/{lunch['id']}", headers=owner.headers, json={"label": "Lunch break"}
    )
    assert changed.json()["label"] == "Lunch break"
    agent = await person(kraliki_client, kraliki_make_user, owner, "ana", "agent")
    seen = await kraliki_client.get(CODES, headers=agent.headers)
    assert [c["code"] for c in seen.json()] == ["missed", "lunch"]
    refused = await kraliki_client.post(CODES, headers=agent.headers, json={"code": "nap"})
    assert refused.status_code == 403
    assert (
        await kraliki_client.delete(f"{CODES}/{lunch['id']}", headers=owner.headers)
    ).status_code == 204
    missing = await kraliki_client.delete(f"{CODES}/{lunch['id']}", headers=owner.headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/agents-reason-code-not-found"


async def test_presence_settings_have_defaults_and_bounds(kraliki_client, owner):
    url = f"{BASE}/settings"
    assert (await kraliki_client.get(url, headers=owner.headers)).json() == {
        "default_wrap_up_seconds": 30,
        "offer_timeout_seconds": 20,
    }
    put = await kraliki_client.put(
        url, headers=owner.headers, json={"default_wrap_up_seconds": 0, "offer_timeout_seconds": 15}
    )
    assert put.status_code == 200
    assert (await kraliki_client.get(url, headers=owner.headers)).json() == {
        "default_wrap_up_seconds": 0,
        "offer_timeout_seconds": 15,
    }
    bad = await kraliki_client.put(
        url, headers=owner.headers, json={"default_wrap_up_seconds": -1, "offer_timeout_seconds": 2}
    )
    assert bad.status_code == 422
    assert {tuple(e["loc"]) for e in bad.json()["errors"]} == {
        ("body", "default_wrap_up_seconds"),
        ("body", "offer_timeout_seconds"),
    }
