"""Retention follows the metric's direction: on a perplexity task (lower is better) a worse candidate FAILs.

Each gating run is a `python -m pytest` subprocess (lm-eval and torch are imported once per process there).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.gates.retention import retention_ratio
from harness.scaffold import init

SUITE = """suite: ppl
gates:
  perplexity:
    kind: retention
    tasks: [demo_perplexity]
    include: [lm_eval]
    min_ratio: 0.9
"""


@pytest.fixture(scope="module")
def worse_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The tiny model with every weight noised: the same tokenizer, a clearly higher perplexity."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.3)
    out = tmp_path_factory.mktemp("worse-model")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


def _gate(repo: Path, candidate: Path, base: Path) -> dict:
    command = [sys.executable, "-m", "pytest", "suites/test_ppl.yaml", "-p", "no:cacheprovider", "-q"]
    command += [f"--model={candidate}", f"--base-model={base}", f"--baseline={base}"]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    runs = sorted((repo / "reports" / "runs").iterdir()) if (repo / "reports" / "runs").is_dir() else []
    assert runs, done.stdout + done.stderr
    gate = json.loads((runs[-1] / "results.json").read_text())["gates"][0]
    return {"ret": done.returncode, "stdout": done.stdout, **gate}


def test_perplexity_retention_fails_a_worse_candidate_and_passes_an_equal_one(
    tmp_path: Path, tiny_model_dir: Path, worse_model_dir: Path
) -> None:
    repo = tmp_path / "repo"
    init(repo, "demo")  # the scaffold's perplexity task: loglikelihood_rolling, word_perplexity, 8 text lines
    (repo / "suites" / "test_ppl.yaml").write_text(SUITE)

    worse = _gate(repo, worse_model_dir, tiny_model_dir)
    assert worse["verdict"] == "FAIL" and worse["ret"] == 1, worse["stdout"]
    check = worse["checks"][0]
    assert check["metric"] == "log_word_perplexity" and check["details"]["higher_is_better"] is False
    assert check["details"]["ratio"] < 0.9  # base / candidate: the candidate's loss is higher
    assert "lower log_word_perplexity is better: ratio = base / candidate" in str(worse["notes"])

    equal = _gate(repo, tiny_model_dir, tiny_model_dir)
    assert equal["verdict"] != "FAIL", equal["stdout"]
    assert equal["checks"][0]["details"]["ratio"] == pytest.approx(1.0)


def test_the_ratio_reads_below_one_as_worse_in_both_directions() -> None:
    assert retention_ratio(0.8, 1.0, higher_is_better=True) == pytest.approx(0.8)  # accuracy fell
    assert retention_ratio(1.25, 1.0, higher_is_better=False) == pytest.approx(0.8)  # loss rose
    assert retention_ratio(0.8, 1.0, higher_is_better=False) == pytest.approx(1.25)  # loss fell: better
