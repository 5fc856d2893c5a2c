"""Where a served model is: the ``openai+URL/MODEL`` spec, its validation, and the API key it may send.

    --model=openai+http://127.0.0.1:8080/v1/smollm2                     base URL .../v1, model id "smollm2"
    --model='openai+http://host:8000/v1/org/name?tokenizer=smollm2&revision=2026-11-28'
    --model='openai+https://api.example.com/v1/my-model?api_key_env=EXAMPLE_API_KEY'

The model id is everything after the URL's ``/v1/`` segment (ids may hold slashes); without one, the last path
segment. Query parameters: ``tokenizer`` (a local model directory or registry alias whose tokenizer and chat
template match the served model), ``revision`` (what the user declares the served weights to be; the
``--model-revision`` option gives the candidate's), ``server`` (``llama.cpp``: the engine's sampling defaults
to override) and ``api_key_env`` (the NAME of the environment variable that holds the server's API key).

API keys: a request carries ``Authorization: Bearer KEY`` only when the spec names the variable holding KEY with
``api_key_env=NAME``; no variable is ever read implicitly (a user who exports OPENAI_API_KEY for other tools must
not send it to every server they gate). The variable is read when the backend is opened: unset or empty is a
:class:`ConfigError` naming it. Over plain ``http`` a key goes only to a loopback host (127.0.0.0/8, ::1,
``localhost``); anywhere else it needs ``https``. The key is held in a :class:`Secret`, whose repr and str show
only the variable's name; what is recorded (describe(), results, the content hash, errors) is the name, never the
key. Credentials in the URL itself (``user:password@``) are refused for the same reason.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from harness.errors import ConfigError

SCHEME = "openai"
PREFIX = f"{SCHEME}+"
PARAMETERS = ("tokenizer", "revision", "server", "api_key_env")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LOOPBACK_NAMES = frozenset({"localhost"})
USAGE = (
    "write it as openai+http://HOST:PORT/v1/MODEL_ID (the server's model id, see its /v1/models), "
    "optionally ?tokenizer=DIR_OR_ALIAS&revision=REV&server=llama.cpp&api_key_env=VARIABLE_HOLDING_THE_KEY"
)

# Extra sampling fields per engine, sent with every chat request so that temperature 0 is plain greedy decoding:
# llama-cpp-python's server applies a repetition penalty of 1.1 unless told. Standard OpenAI-compatible servers
# (and the OpenAI API, which refuses unknown fields) get nothing extra.
SERVERS: dict[str | None, dict[str, float]] = {None: {}, "llama.cpp": {"repeat_penalty": 1.0}}


class Secret:
    """An API key read from the environment variable ``source``: its repr and str name the variable only."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        """The key itself: only for the request header, never for anything printed or stored."""
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the key replaced (a server may echo the header in its error)."""
        return text.replace(self._value, f"<${self.source}>")

    def __repr__(self) -> str:
        return f"Secret(${self.source})"

    __str__ = __repr__


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a URL's hostname) is this machine: 127.0.0.0/8, ::1 or ``localhost``."""
    if not host:
        return False
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Endpoint:
    """Where a served model is and what the user declares about it."""

    base_url: str  # e.g. http://127.0.0.1:8080/v1 (no trailing slash)
    model_id: str
    revision: str | None = None
    tokenizer: str | None = None  # a local directory or registry alias with the served model's tokenizer
    timeout: float = 120.0  # seconds per request
    max_retries: int = 3  # attempts after the first
    concurrency: int = 8  # requests in flight at most
    server: str | None = None  # the engine, when its defaults must be overridden for greedy decoding
    api_key_env: str | None = None  # the NAME of the environment variable holding the API key (never the key)

    def __post_init__(self) -> None:
        if self.server not in SERVERS:
            raise ConfigError(
                f"endpoint {self.base_url}: server={self.server!r} is not one of {sorted(s for s in SERVERS if s)}; "
                "leave it out for servers that decode greedily at temperature 0 (vLLM, SGLang, TGI)"
            )
        if self.timeout <= 0 or self.max_retries < 0 or self.concurrency < 1:
            raise ConfigError(
                f"endpoint {self.base_url}: timeout={self.timeout} must be > 0, max_retries={self.max_retries} "
                f">= 0 and concurrency={self.concurrency} >= 1"
            )
        if self.api_key_env is not None:
            self._check_key_transport()

    def _check_key_transport(self) -> None:
        name = self.api_key_env or ""
        if not ENV_NAME.fullmatch(name):  # the value is not echoed: it may be the key itself, pasted by mistake
            raise ConfigError(
                f"endpoint {self.base_url}: api_key_env= must name an environment variable (letters, digits and _, "
                "not starting with a digit), not hold the key: export MY_SERVER_KEY=... and write "
                "?api_key_env=MY_SERVER_KEY"
            )
        url = urllib.parse.urlsplit(self.base_url)
        if url.scheme != "https" and not is_loopback(url.hostname):
            raise ConfigError(
                f"endpoint {self.base_url}: the API key in ${name} would go to {url.hostname} over plain http, "
                f"readable by anyone on the way; use https://{url.netloc}{url.path} (or a server on this machine: "
                "127.0.0.1, ::1, localhost)"
            )

    @property
    def spec(self) -> str:
        return f"{PREFIX}{self.base_url}/{self.model_id}"

    def api_key(self, environ: Mapping[str, str] | None = None) -> Secret | None:
        """The API key to send, read now from the variable ``api_key_env`` names; None when it names none."""
        if self.api_key_env is None:
            return None
        name = self.api_key_env
        value = (os.environ if environ is None else environ).get(name, "")
        if not value:
            raise ConfigError(
                f"endpoint {self.base_url}: ?api_key_env={name} says the API key is in the environment variable "
                f"{name}, which is unset or empty; export {name}=YOUR_KEY before the run, or remove api_key_env= "
                "for a server without authentication"
            )
        if value.strip() != value or not value.isprintable():
            raise ConfigError(
                f"endpoint {self.base_url}: the environment variable {name} holds whitespace or control "
                f"characters around or in the API key; export {name} with the bare key"
            )
        return Secret(value, name)


def is_served(spec: str) -> bool:
    """Whether a model spec names a served model (``openai+http...``)."""
    return spec.startswith(PREFIX)


def parse_spec(spec: str, *, revision: str | None = None, tokenizer: str | None = None) -> Endpoint:
    """The Endpoint of ``openai+http(s)://host[:port]/v1/MODEL[?tokenizer=...&revision=...&api_key_env=...]``;
    ``revision`` and ``tokenizer`` (from command-line options) must agree with the spec's own when both are given.
    Errors about the URL's credentials or unknown parameters do not repeat the spec (it may hold a key)."""
    if not is_served(spec):
        raise ConfigError(f"model spec {spec!r} is not a served model: {USAGE}")
    url = urllib.parse.urlsplit(spec[len(PREFIX) :])
    if url.username is not None or url.password is not None:
        raise ConfigError(
            f"model spec for host {url.hostname}: credentials in the URL (USER:PASSWORD@) would be recorded with the "
            "model; remove them, export the key and name its variable with ?api_key_env=NAME"
        )
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ConfigError(f"model spec {spec!r} has no http(s) URL: {USAGE}")
    path = url.path.rstrip("/")
    if "/v1/" in f"{path}/":
        root, model_id = f"{path}/".split("/v1/", 1)
        root, model_id = root + "/v1", model_id.rstrip("/")
    else:
        root, _, model_id = path.rpartition("/")
    if not model_id:
        raise ConfigError(f"model spec {spec!r} names no model id after the base URL: {USAGE}")
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    if unknown := sorted(set(query) - set(PARAMETERS)):
        hint = (
            "; a key never goes in the spec: export it and name its variable with ?api_key_env=NAME"
            if any("key" in name.lower() or "token" in name.lower() for name in unknown)
            else ""
        )
        raise ConfigError(
            f"model spec {PREFIX}{url.scheme}://{url.netloc}{url.path} has unknown parameters {unknown}{hint}: {USAGE}"
        )
    given = {"revision": revision, "tokenizer": tokenizer}
    values: dict[str, str | None] = {}
    for key, option in given.items():
        in_spec = query.get(key, [""])[-1] or None  # a blank value is no value
        if option is not None and in_spec is not None and option != in_spec:
            raise ConfigError(
                f"model spec {spec!r} says {key}={in_spec!r} but the option says {option!r}: give one of them"
            )
        values[key] = option if option is not None else in_spec
    return Endpoint(
        base_url=f"{url.scheme}://{url.netloc}{root}",
        model_id=model_id,
        revision=values["revision"],
        tokenizer=values["tokenizer"],
        server=query.get("server", [""])[-1] or None,
        api_key_env=query.get("api_key_env", [None])[-1],  # blank is an error (no silent "no key")
    )
