"""Problem types of the agent_assist plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

ARTICLE_NOT_FOUND = define_problem(
    "agent-assist-article-not-found",
    "Article not found",
    404,
    "No knowledge base article of your organization has this id.",
)
ARTICLE_CHANGED = define_problem(
    "agent-assist-article-changed",
    "Article changed",
    412,
    "The article changed since you read it (`If-Match` names an older `ETag`): read it again.",
)
IMPORT_INVALID = define_problem(
    "agent-assist-import-invalid",
    "Import refused",
    422,
    "The Markdown or CSV could not be imported: `errors` lists each problem with its `line`; "
    "nothing was imported.",
)
CALL_NOT_FOUND = define_problem(
    "agent-assist-call-not-found",
    "Call not found",
    404,
    "No call of your organization has this id.",
)
SUGGESTION_NOT_FOUND = define_problem(
    "agent-assist-suggestion-not-found",
    "Suggestion not found",
    404,
    "No suggestion made to you (or to an agent you supervise) has this id.",
)
FEEDBACK_INVALID = define_problem(
    "agent-assist-feedback-invalid",
    "Feedback refused",
    422,
    "`article_id` is not one of the suggestion's articles.",
)
