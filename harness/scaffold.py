"""`harness init [DIR]`: scaffold a user's repository for gating with the installed package.

    suites/test_reference.yaml         the reference suite: the embedded reference model on the packaged world
    suites/test_<name>.yaml            a suite over the user's own cases (CSV and JSONL) and lm-eval tasks
    suites/cases/<name>.csv, <name>_general.jsonl     example cases
    suites/lm_eval/                    example lm-eval tasks (multiple choice, perplexity) with their data
    conftest.py                        a refusal judge registered with harness.scorers.register_judge
    .github/workflows/gate.yml         CI: the gate on every pull request, and a nightly run with the report

The files come from the package data (harness/data/scaffold and harness/data/suites); ``NAME`` in a path and
``${name}`` in a file become the suite name. An existing file is never overwritten without ``force``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError
from harness.resources import packaged_suite, scaffold_dir

TOKEN = "${name}"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Written:
    path: Path
    action: str  # "wrote", "overwrote" or "kept" (exists; pass force to overwrite)


def planned(name: str) -> dict[Path, str]:
    """Relative path -> text of every file `harness init` writes for suite ``name``."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"suite name {name!r}: use lower-case letters, digits and '_', starting with a letter (it names "
            "files, the suite and lm-eval tasks), e.g. --name my_task"
        )
    if name == "reference":
        raise ConfigError("suite name 'reference' is taken by the reference suite: choose another --name")
    root = scaffold_dir()
    files = {Path("suites/test_reference.yaml"): packaged_suite("reference").read_text(encoding="utf-8")}
    for source in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        relative = source.relative_to(root).as_posix().replace("NAME", name)
        if relative.startswith("github/"):  # shipped without the dot: hidden folders are easy to lose in a wheel
            relative = "." + relative
        files[Path(relative)] = source.read_text(encoding="utf-8").replace(TOKEN, name)
    return files


def init(directory: Path, name: str = "my_task", *, force: bool = False) -> list[Written]:
    """Write the scaffold under ``directory`` (created if missing); existing files are kept unless ``force``."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file: give `harness init` a directory")
    out = []
    for relative, text in planned(name).items():
        path = directory / relative
        exists = path.exists()
        if exists and not force:
            out.append(Written(path, "kept"))
            continue
        if path.is_dir():
            raise ConfigError(f"{path} is a directory where `harness init` writes a file: move it away")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out.append(Written(path, "overwrote" if exists else "wrote"))
    return out
