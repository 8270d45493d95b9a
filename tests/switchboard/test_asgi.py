"""switchboard.asgi: the installed apps' wrappers, static files when DEBUG, the body size limit outermost."""

import httpx
import pytest

from switchboard.asgi import wrap


async def django_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize(("debug", "serve", "served"), [(True, None, True), (False, None, False), (False, True, True)])
async def test_the_wrapper_serves_static_files_when_debug_or_asked(settings, debug, serve, served):
    settings.DEBUG = debug
    settings.SWITCHBOARD_SERVE_STATIC = serve
    application = wrap(django_app)
    assert application.switchboard_wrapped and application.serves_static is served
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver") as c:
        response = await c.get("/static/switchboard/site.css")
        assert (response.status_code == 200) is served
        big = await c.post("/anything", content=b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
        assert big.status_code == 413 and big.json()["error"] == "too_large"
