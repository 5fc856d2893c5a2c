"""The HTTP client of served models: JSON requests with retries, backoff and timeouts, redirects refused, a loopback
server reached without the environment's proxy, and the API key masked in everything shown or logged.

- :class:`JsonClient` (the standard library's urllib) is what :class:`harness.backends.openai.OpenAIBackend` posts
  with. Connection errors, timeouts, 429 and 5xx are retried with exponential backoff; any other 4xx fails at once
  with the server's message. A redirect is an error, not followed: urllib's default handler would copy the
  request's headers, API key included, to whatever host the Location names.
- :func:`direct` says whether a URL is reached without the environment's ``http_proxy`` / ``https_proxy``: a
  loopback host always is (this machine is never behind the proxy, and a plain-http key would pass through it).
  :func:`requests_session` is a ``requests`` session that honours it, for lm-eval's requests
  (:mod:`harness.backends.openai_lm_eval`).
- :func:`masking` masks a key in a logger's records for the duration of a block (lm-eval logs a failing server's
  answer, and aiohttp's error repr carries the request's headers).
"""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from harness.backends.endpoint import Secret, is_loopback
from harness.errors import HarnessError

if TYPE_CHECKING:
    import requests

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class ServerError(HarnessError):
    """The inference server could not be reached or answered with an error (names the URL and the fix)."""


def direct(url: str) -> bool:
    """Whether ``url`` is reached without the environment's HTTP proxy: its host is this machine."""
    return is_loopback(urllib.parse.urlsplit(url).hostname)


def redact(text: str, key: Secret | None) -> str:
    """``text`` with ``key`` masked (``<$VARIABLE>``); unchanged without a key."""
    return key.redact(text) if key is not None else text


def error_message(body: bytes, key: Secret | None = None) -> str:
    """The error text of a server's JSON error body (OpenAI's {"error": {"message": ...}}), else the body; the key
    is redacted before the text is cut short (a cut could leave part of it)."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raw = text
    error = raw.get("error", raw) if isinstance(raw, dict) else raw
    if isinstance(error, dict):
        error = error.get("message") or error.get("detail") or error
    return redact(str(error), key)[:300]


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: urllib's default handler copies the request's headers, API key included, to
    whatever host the Location names (and turns a POST into a bodiless GET, which no API endpoint answers)."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        fp.close()
        raise ServerError(
            f"{req.full_url} redirected (HTTP {code}) to {newurl}; requests to a served model do not follow "
            "redirects (they would carry its API key elsewhere): put the URL the server really answers at in the spec"
        )


class JsonClient:
    """JSON over HTTP to one server (``base_url``), with the API key as an unredirected Bearer header."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: Secret | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        model_id: str = "",
    ) -> None:
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.model_id = model_id  # named in the error after the last attempt
        handlers: list[urllib.request.BaseHandler] = [_RefuseRedirects()]
        if direct(base_url):
            handlers.append(urllib.request.ProxyHandler({}))  # no proxy: this machine is never behind it
        self._opener = urllib.request.build_opener(*handlers)

    def redact(self, text: str) -> str:
        return redact(text, self.api_key)

    def post(self, url: str, payload: dict[str, Any], *, retry: bool = True) -> dict[str, Any]:
        """POST JSON, retrying connection errors, timeouts, 429 and 5xx with exponential backoff."""
        return self.request(url, json.dumps(payload).encode(), retry=retry)

    def get(self, url: str, *, retry: bool = True) -> dict[str, Any]:
        """GET a JSON object, retried as :meth:`post`."""
        return self.request(url, None, retry=retry)

    def _prepared(self, url: str, data: bytes | None) -> urllib.request.Request:
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
        if self.api_key is not None:  # unredirected: never copied to a redirect (which is refused anyway)
            request.add_unredirected_header("Authorization", f"Bearer {self.api_key.reveal()}")
        return request

    def request(self, url: str, data: bytes | None, *, retry: bool = True) -> dict[str, Any]:
        attempts = 1 + (self.max_retries if retry else 0)
        why = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with self._opener.open(self._prepared(url, data), timeout=self.timeout) as response:
                    answer = json.loads(response.read())
                if not isinstance(answer, dict):
                    raise ServerError(f"{url} answered a JSON {type(answer).__name__}, not an object")
                return answer
            except urllib.error.HTTPError as exc:
                message = error_message(exc.read(), self.api_key)
                if exc.code not in RETRY_STATUS:
                    raise ServerError(f"{url} refused the request (HTTP {exc.code}: {message})") from None
                why = f"HTTP {exc.code}: {message}"
            except TimeoutError:
                why = f"no answer within the {self.timeout:g} s timeout"
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError | socket.timeout):
                    why = f"no answer within the {self.timeout:g} s timeout"
                else:
                    why = f"cannot connect ({self.redact(str(exc.reason))})"
            except (ConnectionError, json.JSONDecodeError) as exc:
                why = self.redact(f"{type(exc).__name__}: {exc}")
        raise ServerError(
            f"{url} failed after {attempts} attempt(s): {why}; check that the server is running and serves "
            f"model {self.model_id!r}, or raise the timeout for a slow server"
        )


def requests_session(url: str) -> requests.Session:
    """A ``requests`` session for ``url``: without the environment's proxy (and .netrc) for a loopback host.

    ``requests`` honours ``http_proxy`` / ``HTTPS_PROXY`` even for 127.0.0.1 unless ``no_proxy`` covers it, so a
    key sent to a server on this machine would go through the proxy; ``trust_env = False`` turns the environment's
    proxies off for this session only (a remote host keeps the user's proxy)."""
    import requests

    session = requests.Session()
    session.trust_env = not direct(url)
    return session


class _Mask(logging.Filter):
    """Masks a key in each record of the logger it is attached to (the message is formatted once, then masked)."""

    def __init__(self, key: Secret) -> None:
        super().__init__()
        self.key = key

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = self.key.redact(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


@contextmanager
def masking(logger: logging.Logger, key: Secret | None) -> Iterator[None]:
    """While the block runs, ``key`` is masked in every record ``logger`` itself emits (a logger's filters see only
    its own records, not those propagated from its children). Nothing is attached without a key."""
    if key is None:
        yield
        return
    mask = _Mask(key)
    logger.addFilter(mask)
    try:
        yield
    finally:
        logger.removeFilter(mask)
