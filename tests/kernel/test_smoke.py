async def test_healthz(kraliki_client):
    response = await kraliki_client.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_readyz(kraliki_client):
    response = await kraliki_client.get("/readyz")
    assert response.status_code == 200, response.text
