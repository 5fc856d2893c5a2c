"""The fake backend, for tests: canned replies from a YAML (or JSON) file, no torch, no weights.

    pytest suites/ --model=fake:candidate.yaml --baseline=fake:base.yaml --base-model=fake:base.yaml

The file (every key optional)::

    replies:                      # the first rule whose text is in the last user message gives the reply
      - {contains: "capital of France", reply: Paris}
    default: "I don't know."      # the reply when no rule matches
    match_loglikelihood: -1.0     # log-likelihood of a continuation equal to the model's reply
    mismatch_loglikelihood: -20.0 # ... and of any other continuation

Its content hash is the hash of the rules (not of the file's spelling), so two files with the same rules are
one model, and editing a rule is a new model (no stale cached results).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.protocol import LoglikelihoodRequest
from harness.backends.registry import BackendKind, Resolution, register
from harness.batchsize import BatchSize
from harness.batchsize import check as check_batch_size
from harness.errors import ConfigError, ModelLoadError
from harness.yamlspec import from_mapping, read_yaml

if TYPE_CHECKING:
    from harness.cases import Case
    from harness.models import ModelSpec
    from harness.pool import ModelRole
    from harness.registry import Registry
    from harness.run import DecodingSettings

SCHEME = "fake"


@dataclass(frozen=True)
class Rule:
    contains: str
    reply: str

    def __post_init__(self) -> None:
        if not self.contains:
            raise ConfigError("a reply rule has an empty 'contains': give the text of the prompt it answers")


@dataclass(frozen=True)
class FakeRules:
    replies: tuple[Rule, ...] = ()
    default: str = ""
    match_loglikelihood: float = -1.0
    mismatch_loglikelihood: float = -20.0

    def reply(self, prompt: str) -> str:
        return next((rule.reply for rule in self.replies if rule.contains in prompt), self.default)

    def loglikelihood(self, prompt: str, continuation: str) -> float:
        same = continuation.strip() == self.reply(prompt).strip()
        return self.match_loglikelihood if same else self.mismatch_loglikelihood

    def content_hash(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(f"{SCHEME}:{canonical}".encode()).hexdigest()


def rules_path(ref: str) -> Path:
    path = Path(ref.strip()[len(SCHEME) + 1 :]).expanduser()
    if not path.is_file():
        raise ModelLoadError(
            f"fake model {ref!r}: {path} is not a file: write its reply rules (YAML: replies, default) there"
        )
    return path.resolve()


def read_rules(path: Path) -> FakeRules:
    return from_mapping(FakeRules, read_yaml(path), str(path))


@dataclass(frozen=True)
class FakeBackend:
    """A model that answers by :class:`FakeRules`: deterministic, instant, and torch-free."""

    name: str
    rules: FakeRules
    content_hash: str
    path: Path
    has_chat_template: bool = False

    def generate(self, cases: Sequence[Case], settings: DecodingSettings, desc: str = "generate") -> list[str]:
        return [self.rules.reply(case.prompt) for case in cases]

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], batch_size: BatchSize = 32, desc: str = "loglikelihood"
    ) -> list[float]:
        check_batch_size(batch_size)
        return [self.rules.loglikelihood(messages[-1].content, continuation) for messages, continuation in requests]

    def describe(self) -> dict[str, Any]:
        return details(self.name, self.path, self.content_hash)

    def lm_eval_model(self, batch_size: BatchSize = 16) -> Any:
        return fake_lm(self.rules)


def details(ref: str, path: Path, digest: str) -> dict[str, Any]:
    return {"spec": ref, "kind": SCHEME, "path": str(path), "load_in_4bit": False, "content_hash": digest}


def fake_lm(rules: FakeRules) -> Any:
    """An lm-eval LM answering by ``rules`` (prompts are the raw context strings lm-eval renders)."""
    from lm_eval.api.model import LM

    class FakeLM(LM):
        def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
            out = []
            for request in requests:
                context, continuation = request.args
                value = rules.loglikelihood(context, continuation)
                out.append((value, value == rules.match_loglikelihood))
            return out

        def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
            raise ConfigError("the fake backend has no rolling log-likelihood: use a task scored by choice or text")

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
            return [rules.reply(request.args[0]) for request in requests]

    return FakeLM()


def resolve_spec(spec: ModelSpec, registry: Registry) -> Resolution:
    path = rules_path(spec.ref)
    digest = read_rules(path).content_hash()
    return Resolution(digest, details(spec.ref, path, digest))


def load_role(role: ModelRole, registry: Registry) -> FakeBackend:
    path = rules_path(role.spec.ref)
    rules = read_rules(path)
    return FakeBackend(role.spec.ref, rules, rules.content_hash(), path)


register(BackendKind(SCHEME, (SCHEME,), resolve_spec, load_role, "canned replies from a YAML file (tests; no torch)"))
