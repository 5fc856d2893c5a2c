"""`harness human export`: both models' answers on n cases, as shuffled, blinded A/B sheets and a separate key.

The answers come from the scoring path (:meth:`harness.scoring.Scorer.generations`), so they are cached like a
gating run's: when the whole case set was already generated under the same decoding (a gating run of the same
suite), those answers are reused; otherwise only the n drawn cases are generated. One seeded stream draws the
items, their order and, per item, which side (A or B) the candidate is on; the seed is in the key.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from harness.cache import ResultCache
from harness.cases import Case, read_cases
from harness.device import Placement
from harness.errors import ConfigError
from harness.evalsets import case_file, suite_world
from harness.human.forms import SheetItem, write_sheets
from harness.human.key import KeyItem, SheetKey, text_hash
from harness.pool import ModelPool, pair_pool
from harness.run import DecodingSettings
from harness.scoring import Scorer, cases_hash
from harness.spec import load_suite
from harness.world import default_world_dir, load_manifest


@dataclass(frozen=True)
class Exported:
    sheet: Path
    form: Path
    key: Path
    items: int
    available: int
    reused: bool  # the answers of the whole case set were in the cache


def _cases(cases_ref: str, suite: Path | None) -> tuple[Path, DecodingSettings]:
    """The case file and the decoding: the suite's when one is given (so its cached answers are reused)."""
    if suite is not None:
        spec = load_suite(suite)
        return case_file(spec, cases_ref, suite_world(spec)), spec.decoding
    if cases_ref.endswith((".jsonl", ".csv")):
        return Path(cases_ref), DecodingSettings()
    world = load_manifest(default_world_dir())
    if cases_ref not in world.heldout:
        raise ConfigError(
            f"--cases {cases_ref!r} is neither a world category ({', '.join(sorted(world.heldout))}) nor a .jsonl "
            "or .csv file"
        )
    return world.heldout[cases_ref], DecodingSettings()


def _answers(scorer: Scorer, all_cases: list[Case], drawn: list[Case]) -> tuple[list[str], list[str], bool]:
    """Both models' answers on ``drawn``: from the whole set's cached generations when both are cached."""
    whole = all(scorer.cache.contains(scorer.generation_key(role, all_cases)) for role in ("candidate", "baseline"))
    source = all_cases if whole else drawn
    position = {c.id: i for i, c in enumerate(source)}
    cand, ref = scorer.generations("candidate", source), scorer.generations("baseline", source)
    return [cand[position[c.id]] for c in drawn], [ref[position[c.id]] for c in drawn], whole


def _model(pool: ModelPool, role: str) -> dict[str, str]:
    r = pool.role(role)
    return {"ref": r.spec.ref, "weights_hash": r.weights_hash or r.content_hash, "content_hash": r.content_hash}


def export_sheets(
    model: str,
    against: str,
    *,
    n: int,
    out: Path,
    cases_ref: str = "task",
    suite: Path | None = None,
    seed: int = 0,
    key_path: Path | None = None,
    placement: Placement | None = None,
) -> Exported:
    """Write ``out``/raters/sheet.csv and ``out``/raters/form.html (what raters get) and the key (``key_path``,
    default ``out``/key.json, which they must not see)."""
    if n < 1:
        raise ConfigError(f"-n {n}: export at least one item (100 or more for a gate)")
    file, decoding = _cases(cases_ref, suite)
    all_cases = read_cases(file)
    pool = pair_pool(model, against, placement=placement)
    if pool.role("candidate").content_hash == pool.role("baseline").content_hash:
        raise ConfigError(f"--model {model} and --against {against} are the same model: there is nothing to compare")
    rng = random.Random(seed)
    chosen = set(c.id for c in rng.sample(all_cases, min(n, len(all_cases))))
    drawn = [c for c in all_cases if c.id in chosen]  # file order: the same draw has the same cache key
    scorer = Scorer(pool, ResultCache(), decoding)
    cand, ref, reused = _answers(scorer, all_cases, drawn)
    models = {"candidate": _model(pool, "candidate"), "against": _model(pool, "baseline")}
    hashes = [models["candidate"]["weights_hash"], models["against"]["weights_hash"], cases_hash(drawn)]
    ident = json.dumps([*hashes, seed])
    export_id = hashlib.sha256(ident.encode()).hexdigest()[:12]
    order = list(range(len(drawn)))
    rng.shuffle(order)
    width = len(str(len(drawn)))
    items: list[SheetItem] = []
    keyed: list[KeyItem] = []
    for number, index in enumerate(order, start=1):
        case = drawn[index]
        side: Literal["A", "B"] = "A" if rng.random() < 0.5 else "B"
        a, b = (cand[index], ref[index]) if side == "A" else (ref[index], cand[index])
        item_id = f"{export_id[:6]}-{number:0{width}d}"
        items.append(SheetItem(item_id, case.prompt, a, b))
        keyed.append(KeyItem(item_id, case.id, side, text_hash(case.prompt), text_hash(a), text_hash(b)))
    key = SheetKey(
        export_id=export_id,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        seed=seed,
        models=models,
        cases={"source": str(file), "cases_hash": hashes[2], "selected": len(drawn), "available": len(all_cases)},
        decoding=decoding.to_dict(),
        items=tuple(keyed),
    )
    sheet, form = write_sheets(items, out / "raters", title=f"Blind A/B rating, sheet {export_id}")
    written_key = key.save(key_path or out / "key.json")
    return Exported(sheet, form, written_key, len(drawn), len(all_cases), reused)
