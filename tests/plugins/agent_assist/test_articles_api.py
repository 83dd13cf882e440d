"""The knowledge base through HTTP: write, read, change with ``If-Match``, delete, list a
page at a time, search (PostgreSQL's full-text search there, a plain word search on
SQLite), import Markdown and CSV (all or nothing, problems by line); who may do what; another
organization sees none of it."""

from __future__ import annotations

from assist_helpers import ARTICLES, import_kb, ok


async def test_an_article_is_written_read_changed_and_deleted(client, owner):
    h = owner.headers
    body = {"title": "Opening hours", "body": "We are open 8 to 18 on weekdays.", "tags": ["info"]}
    created = await client.post(ARTICLES, headers=h, json=body)
    article = await ok(created, 201)
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"{ARTICLES}/{article['id']}"
    assert (article["title"], article["tags"], article["source"]) == (
        "Opening hours",
        ["info"],
        "api",
    )
    one = await client.get(f"{ARTICLES}/{article['id']}", headers=h)
    assert (await ok(one))["body"] == body["body"]

    stale = {**h, "If-Match": '"3"'}
    refused = await client.patch(f"{ARTICLES}/{article['id']}", headers=stale, json={"body": "x"})
    assert refused.status_code == 412
    assert refused.json()["type"].endswith("/agent-assist-article-changed")

    fresh = {**h, "If-Match": '"1"'}
    changed = await client.patch(
        f"{ARTICLES}/{article['id']}", headers=fresh, json={"tags": ["info", "hours", "info"]}
    )
    assert (await ok(changed))["tags"] == ["info", "hours"]
    assert changed.headers["ETag"] == '"2"'

    assert (await client.delete(f"{ARTICLES}/{article['id']}", headers=fresh)).status_code == 412
    gone = await client.delete(f"{ARTICLES}/{article['id']}", headers={**h, "If-Match": '"2"'})
    assert gone.status_code == 204
    missing = await client.get(f"{ARTICLES}/{article['id']}", headers=h)
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/agent-assist-article-not-found")


async def test_bad_articles_are_refused(client, owner):
    h = owner.headers
    for body in (
        {"title": "", "body": "x"},
        {"title": "  ", "body": "x"},
        {"title": "T", "body": ""},
        {"title": "T" * 201, "body": "x"},
        {"title": "T", "body": "x", "tags": ["t" * 51]},
        {"title": "T", "body": "x", "extra": 1},
    ):
        assert (await client.post(ARTICLES, headers=h, json=body)).status_code == 422, body


async def test_articles_are_listed_a_page_at_a_time_by_title(client, owner):
    await import_kb(client, owner.headers)
    first = await ok(await client.get(f"{ARTICLES}?limit=2", headers=owner.headers))
    assert [a["title"] for a in first["items"]] == [
        "Changing a delivery address",
        "Refunds for damaged items",
    ]
    rest = await ok(
        await client.get(f"{ARTICLES}?limit=2&cursor={first['next_cursor']}", headers=owner.headers)
    )
    assert [a["title"] for a in rest["items"]] == ["Resetting a password"]
    assert rest["next_cursor"] is None


async def test_markdown_import_makes_one_article_per_heading(client, owner):
    imported = await import_kb(client, owner.headers)
    assert imported["imported"] == 3
    refunds = imported["items"][0]
    assert refunds["title"] == "Refunds for damaged items"
    assert refunds["tags"] == ["billing", "refunds"]
    assert refunds["body"].startswith("A damaged item is refunded in full")
    assert "Tags:" not in refunds["body"]
    assert refunds["source"] == "markdown"


async def test_csv_import_reads_title_body_and_tags(client, owner):
    content = (
        'title,body,tags\n"Store hours","Open 9 to 5, Monday to Friday.","info, hours"\n'
        '"Returns","Return within 30 days.",\n'
    )
    imported = await ok(
        await client.post(
            f"{ARTICLES}/import",
            headers=owner.headers,
            json={"format": "csv", "content": content},
        ),
        201,
    )
    assert [(a["title"], a["tags"], a["source"]) for a in imported["items"]] == [
        ("Store hours", ["info", "hours"], "csv"),
        ("Returns", [], "csv"),
    ]


async def test_a_bad_import_imports_nothing_and_names_the_lines(client, owner):
    h = owner.headers
    markdown = "Intro text\n# Good one\nBody.\n# Empty\n\n# \nBody without title\n"
    refused = await client.post(
        f"{ARTICLES}/import", headers=h, json={"format": "markdown", "content": markdown}
    )
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"].endswith("/agent-assist-import-invalid")
    assert [e["line"] for e in problem["errors"]] == [1, 4, 6]
    assert "no body" in problem["errors"][1]["message"]
    assert "title is empty" in problem["errors"][2]["message"]

    csv = 'title,body\n"Fine","Body."\n"","No title"\n"Too many","cells","here"\n'
    refused = await client.post(
        f"{ARTICLES}/import", headers=h, json={"format": "csv", "content": csv}
    )
    assert refused.status_code == 422
    assert [e["line"] for e in refused.json()["errors"]] == [3, 4]

    headerless = await client.post(
        f"{ARTICLES}/import", headers=h, json={"format": "csv", "content": "a,b\n1,2\n"}
    )
    assert headerless.status_code == 422
    assert headerless.json()["errors"][0]["line"] == 1

    too_big = await client.post(
        f"{ARTICLES}/import", headers=h, json={"format": "markdown", "content": "x" * 1_000_001}
    )
    assert too_big.status_code == 422
    assert (await ok(await client.get(ARTICLES, headers=h)))["items"] == []


async def test_search_finds_every_word_best_first(client, owner, platform):
    h = owner.headers
    await import_kb(client, h)
    found = await ok(
        await client.get(f"{ARTICLES}/search", headers=h, params={"q": "refund damaged"})
    )
    postgres = platform.database.engine.dialect.name == "postgresql"
    assert found["engine"] == ("postgresql-full-text" if postgres else "plain")
    assert [hit["article"]["title"] for hit in found["items"]] == ["Refunds for damaged items"]
    assert found["items"][0]["score"] > 0

    # Every word must appear: none holds both.
    none = await ok(
        await client.get(f"{ARTICLES}/search", headers=h, params={"q": "password delivery"})
    )
    assert none["items"] == []
    # A title weighs more than a body: "address" is in one title, "order" in two bodies.
    address = await ok(await client.get(f"{ARTICLES}/search", headers=h, params={"q": "address"}))
    assert [hit["article"]["title"] for hit in address["items"]] == ["Changing a delivery address"]
    only_stop_words = await ok(
        await client.get(f"{ARTICLES}/search", headers=h, params={"q": "the and of"})
    )
    assert only_stop_words["items"] == []


async def test_full_text_syntax_on_postgresql(client, owner, platform):
    """On PostgreSQL the search box takes websearch syntax (``or``, ``-word``)."""
    if platform.database.engine.dialect.name != "postgresql":
        return
    h = owner.headers
    await import_kb(client, h)
    either = await ok(
        await client.get(f"{ARTICLES}/search", headers=h, params={"q": "password or delivery"})
    )
    assert sorted(hit["article"]["title"] for hit in either["items"]) == [
        "Changing a delivery address",
        "Resetting a password",
    ]
    without = await ok(
        await client.get(f"{ARTICLES}/search", headers=h, params={"q": "customer -password"})
    )
    assert "Resetting a password" not in [hit["article"]["title"] for hit in without["items"]]
    assert len(without["items"]) == 2


async def test_agents_read_admins_and_supervisors_write(client, owner, as_role):
    agent = await as_role("agent")
    supervisor = await as_role("supervisor")
    body = {"title": "T", "body": "B"}
    refused = await client.post(ARTICLES, headers=agent, json=body)
    assert refused.status_code == 403
    assert (
        await client.post(
            f"{ARTICLES}/import", headers=agent, json={"format": "csv", "content": "x"}
        )
    ).status_code == 403
    created = await ok(await client.post(ARTICLES, headers=supervisor, json=body), 201)
    assert (await ok(await client.get(f"{ARTICLES}/{created['id']}", headers=agent)))[
        "title"
    ] == "T"
    assert (await client.get(f"{ARTICLES}/search?q=B", headers=agent)).status_code == 200


async def test_another_organization_sees_nothing(client, owner, kraliki_make_owner):
    await import_kb(client, owner.headers)
    [first, *_] = (await ok(await client.get(ARTICLES, headers=owner.headers)))["items"]
    other = await kraliki_make_owner("globex")
    assert (await ok(await client.get(ARTICLES, headers=other.headers)))["items"] == []
    assert (await client.get(f"{ARTICLES}/{first['id']}", headers=other.headers)).status_code == 404
    found = await ok(await client.get(f"{ARTICLES}/search?q=refund", headers=other.headers))
    assert found["items"] == []
