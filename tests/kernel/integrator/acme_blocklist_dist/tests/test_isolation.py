"""The integrator's proof that the blocklist keeps each tenant's numbers its own.

One test: two organizations with their owners logged in, a blocked number each, then every
route of the plugin called as one against the other's data (``assert_tenant_isolation``),
and on PostgreSQL row-level security checked on every table of the plugin.
"""

from __future__ import annotations

from kernel.testing import assert_rls_enabled, assert_tenant_isolation


async def test_tenants_never_see_each_others_numbers(
    kraliki_app, kraliki_client, kraliki_platform, kraliki_make_owner
):
    alpha = await kraliki_make_owner("alpha")
    beta = await kraliki_make_owner("beta")
    for owner, number in ((alpha, "+420601000001"), (beta, "+420601000002")):
        blocked = await kraliki_client.post(
            "/api/v1/blocklist/numbers", headers=owner.headers, json={"number": number}
        )
        assert blocked.status_code == 201, blocked.text

    requests = await assert_tenant_isolation(
        kraliki_app,
        kraliki_client,
        attacker=alpha.headers,
        victim=beta.tenant_id,
        plugin="acme_blocklist",
        victim_names=["+420601000002"],
    )
    assert requests == 2  # GET and POST /api/v1/blocklist/numbers
    await assert_rls_enabled(kraliki_platform, plugin="acme_blocklist")
