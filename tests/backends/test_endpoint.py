"""The served model's spec: its grammar, its validation, and the rules for the API key it may send (named by
``api_key_env``, read when opened, only over https or to a loopback host, never shown)."""

from __future__ import annotations

import pytest

from harness.backends.endpoint import Endpoint, Secret, is_loopback, is_served, parse_spec
from harness.errors import ConfigError

KEY = "sk-test-9f8e7d6c5b4a"  # a made-up key: every test checks it never shows


def test_parse_spec_splits_base_url_and_model_id() -> None:
    e = parse_spec("openai+http://127.0.0.1:8080/v1/smollm2")
    assert (e.base_url, e.model_id, e.revision, e.tokenizer) == ("http://127.0.0.1:8080/v1", "smollm2", None, None)
    e = parse_spec("openai+https://h:8000/v1/org/name-1.7B?tokenizer=smollm2&revision=abc")
    assert (e.base_url, e.model_id, e.revision, e.tokenizer) == ("https://h:8000/v1", "org/name-1.7B", "abc", "smollm2")
    assert parse_spec("openai+http://h/api/mymodel").base_url == "http://h/api"
    assert parse_spec("openai+http://h/v1/m", revision="r").revision == "r"
    assert is_served("openai+http://h/v1/m") and not is_served("candidate")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("openai+ftp://h/v1/m", "no http"),
        ("openai+http://h/v1/", "names no model id"),
        ("openai+http://h/v1/m?seed=1", r"unknown parameters \['seed'\]"),
        ("http://h/v1/m", "not a served model"),
    ],
)
def test_parse_spec_rejects_bad_specs(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_spec(spec)


def test_spec_revision_and_option_revision_must_agree() -> None:
    with pytest.raises(ConfigError, match="revision='a' but the option says 'b'"):
        parse_spec("openai+http://h/v1/m?revision=a", revision="b")


def test_api_key_env_is_parsed_as_a_variable_name() -> None:
    e = parse_spec("openai+https://api.example.com/v1/m?api_key_env=EXAMPLE_KEY&revision=r")
    assert (e.base_url, e.model_id, e.api_key_env, e.revision) == (
        "https://api.example.com/v1",
        "m",
        "EXAMPLE_KEY",
        "r",
    )
    assert parse_spec("openai+http://127.0.0.1:8080/v1/m").api_key_env is None, "no variable is implied"


def test_the_key_is_read_from_the_named_variable_only() -> None:
    e = parse_spec("openai+https://h/v1/m?api_key_env=MY_KEY")
    secret = e.api_key({"MY_KEY": KEY, "OPENAI_API_KEY": "sk-other"})
    assert isinstance(secret, Secret) and secret.reveal() == KEY and secret.source == "MY_KEY"
    assert parse_spec("openai+https://h/v1/m").api_key({"OPENAI_API_KEY": "sk-other"}) is None


@pytest.mark.parametrize("environ", [{}, {"MY_KEY": ""}])
def test_an_unset_or_empty_variable_is_an_error_naming_it(environ: dict[str, str]) -> None:
    e = parse_spec("openai+https://h/v1/m?api_key_env=MY_KEY")
    with pytest.raises(ConfigError, match=r"environment variable MY_KEY, which is unset or empty; export MY_KEY="):
        e.api_key(environ)


@pytest.mark.parametrize("value", [f" {KEY}", f"{KEY}\n", f"{KEY[:4]}\r\nX-Evil: 1"])
def test_a_key_with_whitespace_or_control_characters_is_refused_without_showing_it(value: str) -> None:
    with pytest.raises(ConfigError, match="MY_KEY holds whitespace or control characters") as caught:
        parse_spec("openai+https://h/v1/m?api_key_env=MY_KEY").api_key({"MY_KEY": value})
    assert KEY[:4] not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://example.com:8000/v1", "http://10.0.0.5/v1", "http://[2001:db8::1]:8000/v1", "http://0.0.0.0:80/v1"]
)
def test_a_key_over_plain_http_to_another_host_is_refused_at_parse_time(url: str) -> None:
    # No server and no variable are needed: the spec alone is refused, naming the URL and the fix.
    with pytest.raises(ConfigError, match=r"over plain http, readable by anyone on the way; use https://") as caught:
        parse_spec(f"openai+{url}/m?api_key_env=MY_KEY")
    assert url in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/v1", "http://127.8.9.10/v1", "http://[::1]:8000/v1", "http://LocalHost:1/v1"]
)
def test_a_key_over_plain_http_to_a_loopback_host_is_allowed(url: str) -> None:
    assert parse_spec(f"openai+{url}/m?api_key_env=MY_KEY").api_key_env == "MY_KEY"
    assert parse_spec(f"openai+{url.replace('http:', 'https:')}/m?api_key_env=K").api_key_env == "K"


def test_is_loopback() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.255.0.3", "::1", "localhost", "localhost."]))
    assert not any(map(is_loopback, ["", None, "10.0.0.1", "0.0.0.0", "localhost.example.com", "example.com"]))


@pytest.mark.parametrize("value", ["", KEY, "1ABC", "MY KEY"])
def test_api_key_env_must_be_a_variable_name_and_the_value_is_not_echoed(value: str) -> None:
    with pytest.raises(ConfigError, match="api_key_env= must name an environment variable") as caught:
        parse_spec(f"openai+https://h/v1/m?api_key_env={value}")
    assert KEY not in str(caught.value)


def test_a_key_pasted_into_the_spec_is_refused_without_repeating_it() -> None:
    with pytest.raises(ConfigError, match=r"unknown parameters \['api_key'\]; a key never goes in the spec") as caught:
        parse_spec(f"openai+https://h/v1/m?api_key={KEY}")
    assert KEY not in str(caught.value)


def test_credentials_in_the_url_are_refused_without_repeating_them() -> None:
    with pytest.raises(ConfigError, match=r"host h: credentials in the URL .* \?api_key_env=NAME") as caught:
        parse_spec(f"openai+https://user:{KEY}@h/v1/m")
    assert KEY not in str(caught.value)


def test_the_secret_shows_only_its_variable() -> None:
    secret = Secret(KEY, "MY_KEY")
    assert repr(secret) == str(secret) == f"{secret}" == "Secret($MY_KEY)"
    assert secret.redact(f"bad key {KEY}!") == "bad key <$MY_KEY>!"
    endpoint = parse_spec("openai+https://h/v1/m?api_key_env=MY_KEY")
    assert KEY not in repr(endpoint) and "MY_KEY" in repr(endpoint)


def test_endpoint_built_directly_validates_the_key_transport() -> None:
    with pytest.raises(ConfigError, match="plain http"):
        Endpoint("http://example.com/v1", "m", api_key_env="K")
