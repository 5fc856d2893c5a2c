"""The served models' HTTP client (harness.backends.http) against the fake server: retries, timeouts, connection
errors, redirects refused, no proxy for a loopback server, and the API key masked in errors and log records."""

from __future__ import annotations

import logging
import socket
import urllib.error
import urllib.request

import pytest

from harness.backends.endpoint import Secret
from harness.backends.http import JsonClient, ServerError, error_message, masking, requests_session
from tests.backends.fake_openai import Behaviour, fake_server

KEY = "sk-test-9f8e7d6c5b4a"  # a made-up key: the tests check where it goes and that it never shows
SECRET = Secret(KEY, "GATE_TEST_KEY")
CHAT = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}


def _client(url: str, **options: object) -> JsonClient:
    return JsonClient(url, model_id="m1", backoff=0.01, **options)  # type: ignore[arg-type]


def test_requests_are_retried_after_server_errors() -> None:
    with fake_server(Behaviour(fail_first=2)) as (url, behaviour):
        answer = _client(url, max_retries=2).post(f"{url}/chat/completions", CHAT)
    assert answer["choices"][0]["message"]["content"] == " reply to: hi " and len(behaviour.requests) == 3
    with fake_server(Behaviour(fail_first=3)) as (url, _), pytest.raises(ServerError) as caught:
        _client(url, max_retries=2).post(f"{url}/chat/completions", CHAT)
    assert "failed after 3 attempt(s): HTTP 503: loading model" in str(caught.value)
    assert "serves model 'm1'" in str(caught.value)


def test_a_client_error_is_not_retried_and_names_the_servers_message() -> None:
    with fake_server() as (url, behaviour), pytest.raises(ServerError, match=r"HTTP 404: no route /v1/nowhere"):
        _client(url, max_retries=3).post(f"{url}/nowhere", {})
    assert len(behaviour.requests) == 1


def test_a_slow_server_times_out_with_a_clear_error() -> None:
    slow = {"model": "m1", "messages": [{"role": "user", "content": "sleep=1"}]}
    with fake_server() as (url, behaviour), pytest.raises(ServerError) as caught:
        _client(url, timeout=0.2, max_retries=1).post(f"{url}/chat/completions", slow)
    assert "no answer within the 0.2 s timeout" in str(caught.value) and "raise the timeout" in str(caught.value)
    assert len(behaviour.requests) == 2, "a timeout is retried"


def test_no_server_is_a_connection_error_naming_the_url() -> None:
    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ServerError, match=rf"127\.0\.0\.1:{port}/v1/chat/completions failed .*cannot connect"):
        _client(url, max_retries=1).post(f"{url}/chat/completions", CHAT)


def test_get_sends_the_key_without_a_body() -> None:
    with fake_server() as (url, behaviour), pytest.raises(ServerError, match="HTTP 404: no GET route /v1/models"):
        _client(url, api_key=SECRET).get(f"{url}/models")
    assert behaviour.requests == [{"path": "/v1/models", "method": "GET"}]
    assert behaviour.headers[0]["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_another_origin_does_not_carry_the_key(status: int) -> None:
    with (
        fake_server() as (other, elsewhere),
        fake_server(Behaviour(redirect_to=other[:-3], redirect_status=status)) as (url, first),
    ):
        if status == 302:  # the hazard is real: urllib's default handler follows it (as a GET) with the header
            leak = urllib.request.Request(f"{url}/chat/completions", data=b"{}", headers={"Authorization": "Bearer x"})
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(leak, timeout=5)
            assert [h.get("authorization") for h in elsewhere.headers] == ["Bearer x"]
            elsewhere.headers.clear()
        with pytest.raises(
            ServerError, match=rf"redirected \(HTTP {status}\) to http://127\.0\.0\.1:\d+/v1/chat"
        ) as caught:
            _client(url, api_key=SECRET, max_retries=0).post(f"{url}/chat/completions", CHAT)
    assert first.headers[-1]["authorization"] == f"Bearer {KEY}", "the key went to the endpoint named"
    assert elsewhere.headers == [], "and nowhere else: the redirect is refused, not followed"
    assert KEY not in str(caught.value)


def _proxy_env(monkeypatch: pytest.MonkeyPatch, proxy: str) -> None:
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, proxy)


def test_a_loopback_server_is_reached_without_the_environments_http_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain-http key to this machine must not travel through a proxy (urllib would send it there)."""
    with fake_server() as (proxy, through_proxy), fake_server() as (url, direct):
        _proxy_env(monkeypatch, proxy[:-3])
        _client(url, api_key=SECRET).post(f"{url}/chat/completions", CHAT)
    assert through_proxy.headers == [] and direct.headers[0]["authorization"] == f"Bearer {KEY}"


def test_a_requests_session_skips_the_proxy_for_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_server() as (proxy, through_proxy), fake_server() as (url, direct):
        _proxy_env(monkeypatch, proxy[:-3])
        with requests_session(url) as session:
            assert session.post(f"{url}/chat/completions", json=CHAT, timeout=5).ok
        import requests

        with requests.Session() as plain:  # the hazard: requests sends even 127.0.0.1 through the proxy
            assert plain.post(f"{url}/chat/completions", json=CHAT, timeout=5).status_code == 404
    assert len(direct.requests) == 1 and len(through_proxy.requests) == 1
    assert through_proxy.requests[0]["path"] == f"{url}/chat/completions", "the proxy got the absolute URL"
    for host in ("https://api.example.com/v1", "http://10.0.0.5:8000/v1"):
        with requests_session(host) as remote:
            assert remote.trust_env, f"{host} keeps the user's proxy"
    for host in ("http://localhost:8080/v1", "http://[::1]:8080/v1", "http://127.0.0.2/v1"):
        with requests_session(host) as local:
            assert not local.trust_env, f"{host} is this machine"


def test_the_key_is_masked_in_the_servers_error_and_in_the_failure() -> None:
    with fake_server(Behaviour(reject_auth=True)) as (url, behaviour), pytest.raises(ServerError) as caught:
        _client(url, api_key=SECRET).post(f"{url}/chat/completions", CHAT)
    assert behaviour.headers[0]["authorization"] == f"Bearer {KEY}", "the server did see (and echo) the key"
    assert "HTTP 401: invalid credentials: Bearer <$GATE_TEST_KEY>" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    long = ("x" * 295 + KEY).encode()  # masked before the cut: no prefix of the key survives
    assert KEY[:5] not in error_message(long, SECRET)


def test_masking_masks_the_key_in_one_loggers_records_while_it_runs(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.backends.test_http.masked")
    caplog.set_level(logging.INFO)
    with masking(logger, SECRET):
        logger.warning("server said: %s", f"Bearer {KEY}")
        logger.error(f"Exception: headers={{'Authorization': 'Bearer {KEY}'}}")
    logger.warning("after: %s", KEY)
    with masking(logger, None):  # no key: nothing attached
        assert logger.filters == []
    messages = [record.getMessage() for record in caplog.records]
    assert messages[:2] == [
        "server said: Bearer <$GATE_TEST_KEY>",
        "Exception: headers={'Authorization': 'Bearer <$GATE_TEST_KEY>'}",
    ]
    assert messages[2] == f"after: {KEY}", "the filter is gone after the block"
    assert logger.filters == []
