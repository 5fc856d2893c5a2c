"""``python -m tests.training.ddp_audit WRITES_DIR harness-args...``: run ``python -m harness`` and record what
this process wrote under $HARNESS_HOME (files opened for writing, directories made, files moved or removed),
from Python's audit events, into WRITES_DIR/rank<RANK>.json. The multi-process training test launches it
under torchrun to check that only rank 0 writes the candidate and the registry."""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
EVENTS = {"os.mkdir": 0, "os.rename": 1, "os.replace": 1, "os.remove": 0, "os.rmdir": 0, "shutil.rmtree": 0}


def main() -> None:
    writes_dir, argv = Path(sys.argv[1]), sys.argv[2:]
    home = os.path.realpath(os.environ["HARNESS_HOME"])
    written: list[list[str]] = []

    def inside(path: Any) -> str | None:
        if not isinstance(path, str | os.PathLike):
            return None
        full = os.path.realpath(os.fspath(path))
        return full if full == home or full.startswith(home + os.sep) else None

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & WRITE_FLAGS)
            if writing and (full := inside(path)):
                written.append([event, full])
        elif event in EVENTS and len(args) > EVENTS[event]:
            full = inside(args[EVENTS[event]])
            if full and not (event == "os.mkdir" and os.path.isdir(full)):  # mkdir(exist_ok=True) of a dir
                written.append([event, full])

    sys.addaudithook(hook)
    sys.argv = ["harness", *argv]
    code = 0
    try:
        runpy.run_module("harness", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        rank = os.environ.get("RANK", "0")
        (writes_dir / f"rank{rank}.json").write_text(json.dumps(written, indent=1))
    sys.exit(code)


if __name__ == "__main__":
    main()
