"""A loopback agent's script is checked when it is stored, against the loopback carrier's
grammar (through ``kraliki_agent_loopback_script_problems``): each problem is an `errors`
entry whose `loc` names the step as the client wrote it."""

from __future__ import annotations

from typing import Any

import pytest
from agents_helpers import BASE, create_agent


@pytest.fixture
def kraliki_extra_plugins(make_plugin):
    """An integrator's plugin that checks scripts too: its problems join loopback's."""

    def agent_loopback_script_problems(script):
        if any(step == {"answer_after": 13} for step in script):
            return [("", "the lab's phones never wait 13 seconds")]
        return []

    return [
        make_plugin(
            "lab",
            requires=["agents"],
            agent_loopback_script_problems=agent_loopback_script_problems,
        )
    ]


def loopback(script: Any) -> dict[str, Any]:
    return {"kind": "loopback", "loopback_script": script}


async def refused(client, headers, script: Any) -> list[tuple[tuple[Any, ...], str]]:
    response = await client.post(
        BASE, headers=headers, json={"display_name": "Bot", "reach": loopback(script)}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "/problems/agents-invalid-agent"
    return [(tuple(e["loc"]), e["message"]) for e in problem["errors"]]


@pytest.mark.parametrize(
    "script",
    [
        [{"answer_after": 2}, {"hangup_after": 20}],
        [{"decline_after": 3}],
        [{"step": "no_answer"}],
        ["answer"],
        [
            {"step": "wait", "seconds": 1},
            {"answer_after": 1.5},
            {"step": "say", "text": "Billing, Ana speaking."},
            {"step": "press", "digits": "1#"},
            {"hangup_after": 30},
        ],
    ],
)
async def test_a_script_the_carrier_runs_is_stored_as_given(kraliki_client, owner, script):
    agent = await create_agent(kraliki_client, owner.headers, reach=loopback(script))
    assert agent["reach"]["loopback_script"] == script


SCRIPT = ("body", "reach", "loopback_script")


@pytest.mark.parametrize(
    ("script", "loc", "message"),
    [
        ([{"answer_after": 2}, {"step": "dance"}], (*SCRIPT, 1, "step"), "unknown step 'dance'"),
        (["answer", "dance"], (*SCRIPT, 1), "unknown step 'dance'"),
        ([{"smile_after": 2}], (*SCRIPT, 0), "give the step"),
        ([{"answer_after": -2}], (*SCRIPT, 0, "answer_after"), "greater than or equal to 0"),
        (
            [{"step": "ring", "seconds": -1}, "answer"],
            (*SCRIPT, 0, "seconds"),
            "greater than or equal to 0",
        ),
        ([{"answer_after": "soon"}], (*SCRIPT, 0, "answer_after"), "valid number"),
        (["answer", {"step": "wait", "seconds": [30]}], (*SCRIPT, 1, "seconds"), "valid number"),
        ([{"answer_after": 1}, 42], (*SCRIPT, 1), "a step is an object"),
        (["answer", {"step": "press", "digits": 1}], (*SCRIPT, 1, "digits"), "valid string"),
        ([{"step": "ring", "secs": 1}, "answer"], (*SCRIPT, 0, "secs"), "Extra inputs"),
        ([{"hangup_after": 20}], SCRIPT, "needs one of answer, busy, no_answer or fail"),
        ([], SCRIPT, "at least one step"),
        ([{"decline_after": 3}, {"hangup_after": 5}], (*SCRIPT, 1), "nothing can follow busy"),
        (["answer", "hangup", {"hangup_after": 1}], (*SCRIPT, 1), "hangup must be the last"),
    ],
)
async def test_an_invalid_script_is_refused_naming_the_step(
    kraliki_client, owner, script, loc, message
):
    errors = await refused(kraliki_client, owner.headers, script)
    assert [e for e in errors if e[0] == loc and message in e[1]], errors
    assert all(e[0][:3] == SCRIPT for e in errors), errors


async def test_every_bad_step_is_listed_with_the_other_invalid_values(kraliki_client, owner):
    errors = await refused(
        kraliki_client, owner.headers, [{"step": "ring", "seconds": "x"}, {"step": "jump"}]
    )
    assert {loc for loc, _ in errors} == {(*SCRIPT, 0, "seconds"), (*SCRIPT, 1, "step")}


async def test_every_implementation_of_the_hook_is_heard(kraliki_client, owner):
    errors = await refused(kraliki_client, owner.headers, [{"answer_after": 13}])
    assert errors == [(SCRIPT, "the lab's phones never wait 13 seconds")]


async def test_a_change_of_script_is_checked_too(kraliki_client, owner):
    agent = await create_agent(kraliki_client, owner.headers, reach=loopback(["answer"]))
    url = f"{BASE}/{agent['id']}"
    bad = await kraliki_client.patch(
        url,
        headers={**owner.headers, "If-Match": '"1"'},
        json={"reach": loopback([{"answer_after": 2}, {"hangup_after": -1}])},
    )
    assert bad.status_code == 422, bad.text
    assert [e["loc"] for e in bad.json()["errors"]] == [[*SCRIPT, 1, "hangup_after"]]
    unchanged = await kraliki_client.get(url, headers=owner.headers)
    assert unchanged.json()["reach"]["loopback_script"] == ["answer"]
    good = await kraliki_client.patch(
        url,
        headers={**owner.headers, "If-Match": '"1"'},
        json={"reach": loopback([{"answer_after": 2}, {"hangup_after": 5}])},
    )
    assert good.status_code == 200, good.text
    assert good.json()["reach"]["loopback_script"] == [{"answer_after": 2}, {"hangup_after": 5}]
