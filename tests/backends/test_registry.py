"""The backend registry: a spec's scheme picks its backend; plain refs are transformers; a served backend is
one register() call that chooses how its roles are resolved and hashed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.backends import BackendKind, ModelBackend, Resolution, get, kind_for, register, unregister
from harness.backends.fake import FakeBackend, FakeRules
from harness.backends.registry import scheme_of
from harness.errors import ConfigError
from harness.pool import build_pool


@pytest.mark.parametrize(
    ("ref", "kind"),
    [
        ("candidate", "hf"),
        ("org/model", "hf"),
        ("./models/x", "hf"),
        ("/abs/path", "hf"),
        ("C:/models/x", "hf"),  # a drive letter is not a scheme
        ("fake:answers.yaml", "fake"),
        ("FAKE:answers.yaml", "fake"),
        ("odd:name", "hf"),  # no backend claims it and it is no URL: a path like any other
    ],
)
def test_the_scheme_picks_the_backend(ref: str, kind: str) -> None:
    assert kind_for(ref).name == kind


def test_a_url_no_backend_serves_is_named() -> None:
    assert scheme_of("openai+http://localhost:8000/v1") == "openai+http"
    assert kind_for("openai+http://localhost:8000/v1/m").name == "openai"
    with pytest.raises(ConfigError, match=r"no model backend serves the scheme 'vllm\+http' \(known: fake, openai"):
        kind_for("vllm+http://localhost:8000/v1")


def _served_resolve(spec, registry) -> Resolution:  # type: ignore[no-untyped-def]
    # a served model has no files: what identifies it is the backend's choice (here the URL)
    digest = hashlib.sha256(spec.ref.encode()).hexdigest()
    return Resolution(digest, {"spec": spec.ref, "kind": "served", "content_hash": digest, "placement": None})


def _served_load(role, registry) -> ModelBackend:  # type: ignore[no-untyped-def]
    return FakeBackend(role.spec.ref, FakeRules(default="served"), role.content_hash, Path("/served"))


@pytest.fixture
def served() -> Iterator[BackendKind]:
    kind = register(BackendKind("served", ("served+http",), _served_resolve, _served_load, "a toy server"))
    yield kind
    unregister("served")


def test_registering_a_served_backend_is_one_call(served: BackendKind) -> None:
    url = "served+http://localhost:8000/v1#tiny"
    pool = build_pool(url, baseline=url, base_model="served+http://localhost:8000/v1#base")
    role = pool.role("candidate")
    assert (role.backend, role.resolved) == ("served", None)
    assert role.content_hash == role.weights_hash == hashlib.sha256(url.encode()).hexdigest()
    assert pool.describe()["candidate"]["kind"] == "served" and pool.describe()["candidate"]["role"] == "candidate"
    model = pool.load("candidate")
    assert isinstance(model, ModelBackend) and model.content_hash == role.content_hash
    assert pool.load("baseline") is model and pool.loads == 1


def test_a_scheme_cannot_be_claimed_twice(served: BackendKind) -> None:
    with pytest.raises(ConfigError, match=r"claims scheme\(s\) \['served\+http'\] of backend 'served'"):
        register(BackendKind("other", ("served+http",), _served_resolve, _served_load))
    with pytest.raises(ConfigError, match="unknown model backend 'nope'"):
        get("nope")


def test_the_transformers_backend_is_a_model_backend(tiny_model_dir: Path) -> None:
    from harness.backends.hf import HFBackend
    from harness.cases import Case, Message
    from harness.run import DecodingSettings, generate

    pool = build_pool(str(tiny_model_dir), baseline=str(tiny_model_dir), base_model=str(tiny_model_dir))
    assert pool.role("candidate").backend == "hf" and pool.role("candidate").resolved is not None
    model = pool.load("candidate")
    assert isinstance(model, HFBackend) and isinstance(model, ModelBackend)
    assert model.content_hash == pool.role("candidate").content_hash and model.has_chat_template
    cases = [Case("c", "fact", (Message("user", "Capital of Veltra?"),), "Ost")]
    settings = DecodingSettings(max_new_tokens=4)
    assert model.generate(cases, settings) == generate(model, cases, settings)
    assert len(model.loglikelihood([(cases[0].messages, "Ost")], "auto")) == 1
    assert model.describe()["content_hash"] == model.content_hash
