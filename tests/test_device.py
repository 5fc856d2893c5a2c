"""Device and precision: resolution of --device/--dtype, CUDA asked for where there is none (a usage error,
never a traceback), the placement in content hashes, and inputs sent to the model's device."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import device
from harness.cases import Case, Message, write_cases
from harness.device import CPU, DeviceError, Placement, resolve_placement
from harness.errors import ConfigError
from harness.models import LoadedModel, ModelSpec, content_hash, load, load_kwargs, resolve
from harness.run import DecodingSettings, generate, loglikelihood


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cuda_available", lambda: False)


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A machine with two CUDA GPUs (bfloat16-capable unless a test says otherwise), as torch would report it."""
    gpus = {"count": 2, "bf16": True}
    monkeypatch.setattr(device, "cuda_available", lambda: True)
    monkeypatch.setattr(device, "_cuda_count", lambda: gpus["count"])
    monkeypatch.setattr(device, "_bf16_supported", lambda _device: gpus["bf16"])
    return gpus


def test_auto_on_a_cpu_machine_is_the_cpu_in_float32(no_cuda: None) -> None:
    assert resolve_placement() == CPU == Placement("cpu", "float32", None)
    assert resolve_placement("cpu", "bfloat16").dtype == "bfloat16"


def test_auto_on_a_gpu_machine_is_cuda_in_bfloat16_where_supported(fake_cuda: dict[str, Any]) -> None:
    assert resolve_placement() == Placement("cuda", "bfloat16")
    assert resolve_placement("cuda:1", "float16") == Placement("cuda:1", "float16")
    assert resolve_placement("cpu") == CPU, "the CPU stays float32 under auto"
    assert resolve_placement(device_map="auto").device_map == "auto"
    fake_cuda["bf16"] = False
    assert resolve_placement().dtype == "float32", "no bfloat16 before Ampere: float32"
    with pytest.raises(DeviceError, match=r"device='cuda:2', but this machine has 2 CUDA device\(s\)"):
        resolve_placement("cuda:2")


@pytest.mark.parametrize("request_", [{"device": "cuda"}, {"device": "cuda:0"}, {"device_map": "auto"}])
def test_cuda_without_cuda_says_so(no_cuda: None, request_: dict[str, str]) -> None:
    with pytest.raises(DeviceError, match="CUDA is not available on this machine"):
        resolve_placement(**request_)


@pytest.mark.parametrize(
    "request_, message",
    [
        ({"device": "gpu"}, r"device='gpu': use one of auto, cpu, cuda, cuda:N"),
        ({"dtype": "fp16"}, r"dtype='fp16': use one of auto, float32, bfloat16, float16"),
        ({"device_map": "balanced"}, r"device_map='balanced': only 'auto'"),
    ],
)
def test_misspelt_requests_name_the_allowed_values(request_: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_placement(**request_)


def test_content_hash_includes_device_kind_and_dtype(tiny_model_dir: Path) -> None:
    resolved = resolve(ModelSpec(str(tiny_model_dir)))
    plain = content_hash(resolved, load_in_4bit=False)
    assert content_hash(resolved, load_in_4bit=False, placement=CPU) == plain, "CPU float32 hashes stay as they were"
    hashes = {
        content_hash(resolved, load_in_4bit=False, placement=Placement(dev, dtype))
        for dev, dtype in [("cpu", "float32"), ("cpu", "bfloat16"), ("cuda", "float32"), ("cuda", "bfloat16")]
    }
    assert len(hashes) == 4, "a bfloat16 or GPU run never shares a cache key with a float32 CPU run"
    same_kind = {
        content_hash(resolved, load_in_4bit=False, placement=Placement(dev, "bfloat16")) for dev in ("cuda", "cuda:1")
    }
    assert len(same_kind) == 1, "which GPU does not change the numerics"
    sharded = Placement("cuda", "bfloat16", "auto")
    assert content_hash(resolved, load_in_4bit=False, placement=sharded) in same_kind


def test_load_kwargs_follow_the_placement() -> None:
    import torch

    assert load_kwargs(ModelSpec("m", placement=CPU)) == {
        "use_safetensors": True,
        "trust_remote_code": False,
        "dtype": torch.float32,
    }, "the CPU load is what it always was"
    gpu = load_kwargs(ModelSpec("m", placement=Placement("cuda:1", "bfloat16")))
    assert gpu["dtype"] is torch.bfloat16 and gpu["device_map"] == "cuda:1"
    assert load_kwargs(ModelSpec("m", placement=Placement("cuda", "bfloat16", "auto")))["device_map"] == "auto"


def test_4bit_loads_compute_in_the_placements_dtype_on_its_device() -> None:
    pytest.importorskip("bitsandbytes")
    import torch

    cpu = load_kwargs(ModelSpec("m", load_in_4bit=True, placement=CPU))
    assert cpu["device_map"] == "cpu" and cpu["quantization_config"].bnb_4bit_compute_dtype is torch.float32
    gpu = load_kwargs(ModelSpec("m", load_in_4bit=True, placement=Placement("cuda", "bfloat16")))
    assert gpu["device_map"] == "cuda" and gpu["quantization_config"].bnb_4bit_compute_dtype is torch.bfloat16


def test_a_bfloat16_model_loads_records_its_placement_and_scores(tiny_model_dir: Path) -> None:
    import torch

    fp32 = load(ModelSpec(str(tiny_model_dir), placement=CPU))
    bf16 = load(ModelSpec(str(tiny_model_dir), placement=Placement("cpu", "bfloat16")))
    assert next(bf16.model.parameters()).dtype is torch.bfloat16
    assert bf16.content_hash != fp32.content_hash
    assert bf16.describe()["placement"] == {"device": "cpu", "kind": "cpu", "dtype": "bfloat16", "device_map": None}
    requests = [((Message("user", "Capital of France?"),), " Paris")]
    close = loglikelihood(fp32, requests)[0], loglikelihood(bf16, requests)[0]
    assert close[0] == pytest.approx(close[1], abs=0.5)


class _Stop(Exception):
    pass


class _SpyModel:
    """Stands for a model on another device ('meta' here): records where its inputs are, then stops the run."""

    def __init__(self) -> None:
        import torch

        self.weight = torch.empty(1, device="meta")
        self.seen: list[str] = []

    def get_input_embeddings(self) -> _SpyModel:
        return self

    def _record(self, **tensors: Any) -> None:
        self.seen += [str(t.device) for t in tensors.values() if hasattr(t, "device")]
        raise _Stop

    def generate(self, **kwargs: Any) -> Any:
        self._record(**kwargs)

    def __call__(self, **kwargs: Any) -> Any:
        self._record(**kwargs)


@pytest.mark.parametrize("path", ["generate", "loglikelihood"])
def test_inputs_go_to_the_models_device(tiny_model_dir: Path, path: str) -> None:
    real = load(ModelSpec(str(tiny_model_dir), placement=CPU))
    spy = _SpyModel()
    loaded = LoadedModel(real.spec, real.resolved, spy, real.tokenizer, real.content_hash)
    case = Case("c0", "fact", (Message("user", "Capital of France?"),), "Paris")
    with pytest.raises(_Stop):
        if path == "generate":
            generate(loaded, [case], DecodingSettings(max_new_tokens=2))
        else:
            loglikelihood(loaded, [(case.messages, " Paris")])
    assert spy.seen and set(spy.seen) == {"meta"}, spy.seen


SUITE = """
suite: mini
world: {world}
gates:
  facts:
    kind: forgetting
    cases: facts.jsonl
    margin: 0.5
"""


@pytest.fixture
def mini_suite(pytester: pytest.Pytester, world: Any) -> Path:
    cases = [Case(f"f{i}", "fact", (Message("user", f"q{i}?"),), "Paris") for i in range(4)]
    write_cases(pytester.path / "facts.jsonl", cases)
    (pytester.path / "test_mini.yaml").write_text(SUITE.format(world=world.root))
    return pytester.path


def test_pytest_device_cuda_without_cuda_is_a_usage_error(
    pytester: pytest.Pytester, mini_suite: Path, tiny_model_dir: Path, no_cuda: None
) -> None:
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}", "--device=cuda")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*device='cuda', but CUDA is not available on this machine*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_pytest_device_option_is_checked_when_parsed(pytester: pytest.Pytester, mini_suite: Path) -> None:
    result = pytester.runpytest_inprocess("--model=x", "--device=gpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--device*device='gpu': use one of auto, cpu, cuda, cuda:N*"])


def test_the_run_records_each_models_placement(
    pytester: pytest.Pytester, mini_suite: Path, tiny_model_dir: Path
) -> None:
    import json

    from harness.registry import Registry

    Registry().set("base", tiny_model_dir, content_hash=None, reason="test")
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}", "--device=cpu", "--dtype=float32")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    runs = sorted((mini_suite / "reports" / "runs").iterdir())
    models = json.loads((runs[-1] / "results.json").read_text())["models"]
    for role in ("candidate", "baseline", "base"):
        assert models[role]["placement"] == {"device": "cpu", "kind": "cpu", "dtype": "float32", "device_map": None}
        assert models[role]["weights_hash"] == models[role]["content_hash"], "CPU float32: the weights' own hash"


def test_cli_cuda_without_cuda_exits_2_with_the_message(
    no_cuda: None, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    assert main(["world", "eval", "--model", str(tiny_model_dir), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: device='cuda', but CUDA is not available on this machine")
    from training.config import RECIPES_DIR

    assert main(["train", str(RECIPES_DIR / "lora.yaml"), "--device", "cuda:0"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
