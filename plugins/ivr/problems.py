"""Problem types of the IVR plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

FLOW_NOT_FOUND = define_problem(
    "ivr-flow-not-found", "Flow not found", 404, "No call flow of your organization has this id."
)
VERSION_NOT_FOUND = define_problem(
    "ivr-version-not-found", "Version not found", 404, "The flow has no version with this number."
)
TEST_NOT_FOUND = define_problem(
    "ivr-test-not-found", "Test not found", 404, "The flow has no saved test with this id."
)
SAMPLE_NOT_FOUND = define_problem(
    "ivr-sample-not-found", "Sample not found", 404, "No sample flow has this name."
)
FLOW_INVALID = define_problem(
    "ivr-flow-invalid",
    "Flow invalid",
    422,
    "The flow cannot be published or run as it is; `issues` lists each problem with its "
    "`code`, `node`, `field` and `message`.",
)
FLOW_EXISTS = define_problem(
    "ivr-flow-exists", "Flow exists", 409, "The organization already has a flow of this name."
)
FLOW_NOT_PUBLISHED = define_problem(
    "ivr-flow-not-published",
    "Flow not published",
    409,
    "The flow has no published version yet (publish its draft first).",
)
FLOW_IN_USE = define_problem(
    "ivr-flow-in-use",
    "Flow in use",
    409,
    "Phone numbers route to this flow, other flows run it as a sub-flow, or calls are in it "
    "(`used_by`); point them elsewhere (or let the calls end) first.",
)
DRAFT_CHANGED = define_problem(
    "ivr-draft-changed",
    "Draft changed",
    412,
    "The draft changed since you read it (`If-Match` names an older revision); read it "
    "again and reapply your change.",
)
TESTS_FAILED = define_problem(
    "ivr-tests-failed",
    "Tests failed",
    409,
    "The organization requires passing tests to publish, and some of the flow's saved tests "
    "fail against the draft (`failed`), or it has none.",
)
TEST_INVALID = define_problem(
    "ivr-test-invalid",
    "Test invalid",
    422,
    "The test's script or expectations cannot be understood; `detail` says where.",
)
