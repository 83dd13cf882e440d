"""The ``summary`` task's offline answer: deterministic and local, reading the same prompt a
model reads (transcript lines and the tenant's disposition codes), through the gateway."""

from __future__ import annotations

import pytest

from kernel import tenant_scope
from kernel.testing import create_tenant
from plugins.ai import complete
from plugins.summaries import CallSummary
from plugins.summaries.offline import summary_of
from plugins.summaries.prompt import Code, Line, build_prompt, parse_prompt

CALL = [
    Line("customer", "Hello."),
    Line("customer", "I'm calling because my router keeps dropping the connection."),
    Line("agent", "I'm sorry about that. Which router model do you have?"),
    Line("customer", "The blue router from last year. The connection drops every evening."),
    Line("agent", "I'll send you a new router tomorrow. The router should fix the connection."),
    Line("customer", "Great, thank you, that's all."),
]


def test_the_prompt_round_trips():
    codes = [Code("hardware-replacement", "Device replaced"), Code("sales")]
    lines, parsed_codes = parse_prompt(build_prompt(CALL, codes))
    assert lines == CALL
    assert parsed_codes == codes
    assert parse_prompt(build_prompt([], [])) == ([], [])


def test_a_call_is_summarised_extractively():
    found = summary_of(CALL, [Code("hardware-replacement", "Device replaced"), Code("sales")])
    assert found.reason == "I'm calling because my router keeps dropping the connection."
    assert found.outcome == "resolved"
    assert found.follow_ups == ["Send the customer a new router tomorrow"]
    assert found.suggested_disposition is None  # "replaced" is not said, nor "sales"
    # The three sentences that share the call's most frequent words, in the order said.
    assert found.summary == (
        "Customer: I'm calling because my router keeps dropping the connection. "
        "Agent: Which router model do you have? "
        "Agent: The router should fix the connection."
    )
    assert summary_of(CALL, []) == summary_of(CALL, [])  # deterministic


@pytest.mark.parametrize(
    ("said", "outcome"),
    [
        ("Let me transfer you to my supervisor.", "escalated"),
        ("I will escalate this to the billing team.", "escalated"),
        ("We'll call you back on Monday.", "callback"),
        ("Sorry, I'm unable to change that.", "unresolved"),
        ("Great, it works now.", "resolved"),
        ("The weather is nice.", "unknown"),
    ],
)
def test_the_outcome_comes_from_cue_phrases(said, outcome):
    lines = [Line("customer", "I have a question."), Line("agent", said)]
    assert summary_of(lines, []).outcome == outcome


def test_the_disposition_is_the_code_sharing_most_words():
    codes = [Code("sales-lead"), Code("billing_refund", "Money returned"), Code("tech-support")]
    lines = [
        Line("customer", "I want a refund of the double billing on my invoice."),
        Line("agent", "The refund is on its way; your billing is fixed."),
    ]
    assert summary_of(lines, codes).suggested_disposition == "billing_refund"
    assert summary_of(lines, [Code("sales-lead")]).suggested_disposition is None


def test_the_customers_promises_are_theirs():
    lines = [
        Line("customer", "My card was declined."),
        Line("customer", "I'll call my bank this afternoon."),
        Line("agent", "Let me check the payment again."),
    ]
    assert summary_of(lines, []).follow_ups == [
        "Customer to call my bank this afternoon",
        "Check the payment again",
    ]


def test_an_empty_transcript_has_an_empty_summary():
    assert summary_of([], []) == CallSummary(
        summary="", reason="", outcome="unknown", suggested_disposition=None, follow_ups=[]
    )


async def test_the_gateway_answers_the_summary_task_offline(kraliki_platform):
    tenant_id = await create_tenant(kraliki_platform, "offline")
    with tenant_scope(tenant_id):
        answer = await complete(
            kraliki_platform,
            plugin="summaries",
            task="summary",
            prompt=build_prompt(CALL, [Code("router-replaced")]),
            output=CallSummary,
        )
    assert answer.provider == "offline"
    assert answer.parsed == summary_of(CALL, [Code("router-replaced")])
    assert answer.parsed is not None
    assert answer.parsed.suggested_disposition == "router-replaced"
