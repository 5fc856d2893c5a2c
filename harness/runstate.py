"""Per-process state of a gating run, kept in ``config.stash``: the options, the run id and directory, and
the RunContext (models, cache) built on first use. Under pytest-xdist the controller makes the run id and
hands it to every worker, so all of them write into one run directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.paths import write_atomic


@dataclass
class Options:
    model: str | None
    baseline: str | None
    base_model: str | None
    update_baselines: bool
    report_dir: Path
    inconclusive_fails: bool
    load_in_4bit: bool | None
    seed: int
    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None
    model_revision: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Options:
        return cls(
            model=config.getoption("--model"),
            baseline=config.getoption("--baseline"),
            base_model=config.getoption("--base-model"),
            update_baselines=bool(config.getoption("--update-baselines")),
            report_dir=Path(config.getoption("--report-dir")).resolve(),
            inconclusive_fails=config.getoption("--inconclusive") == "fail",
            load_in_4bit=True if config.getoption("--load-in-4bit") else None,
            seed=int(config.getoption("--gate-seed")),
            device=str(config.getoption("--device")),
            dtype=str(config.getoption("--dtype")),
            model_revision=config.getoption("--model-revision"),
            device_map=config.getoption("--device-map"),
        )


@dataclass
class RunState:
    options: Options
    run_id: str
    is_controller: bool
    session: Any = None  # GateSession on the controller, once gate items report
    _context: Any = None
    suites: dict[str, Any] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.options.report_dir / "runs" / self.run_id

    @property
    def inconclusive_fails(self) -> bool:
        return self.options.inconclusive_fails

    def context(self) -> Any:
        """The RunContext of this process: models resolved (not loaded) and the result cache."""
        if self._context is None:
            from harness.cache import ResultCache
            from harness.device import resolve_placement
            from harness.gates.context import RunContext
            from harness.pool import build_pool

            if not self.options.model:
                raise HarnessError("no --model given")
            # CUDA asked for where there is none is a usage error (DeviceError), before any model is resolved.
            # auto / auto is left to the backends that place a model (None: resolved once, on first use), so a
            # run of models without a device (fake, served) never imports torch.
            request = (self.options.device, self.options.dtype, self.options.device_map)
            placement = None if request == ("auto", "auto", None) else resolve_placement(*request)
            pool = build_pool(
                self.options.model,
                baseline=self.options.baseline,
                base_model=self.options.base_model,
                load_in_4bit=self.options.load_in_4bit,
                placement=placement,
                model_revision=self.options.model_revision,
            )
            self._context = RunContext(
                pool,
                ResultCache(),
                self.run_dir,
                update_baselines=self.options.update_baselines,
                seed=self.options.seed,
            )
            self.write_run_info()
        return self._context

    def write_run_info(self) -> None:
        """models / suites / environment of the run, read by the controller for results.json."""
        ctx = self._context
        info = {"models": ctx.pool.describe(), "suites": list(self.suites.values()), "environment": ctx.env}
        write_atomic(self.run_dir / "run.json", json.dumps(info, indent=1) + "\n")

    def read_run_info(self) -> dict[str, Any]:
        path = self.run_dir / "run.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


RUN_KEY = pytest.StashKey[RunState]()
