"""The recorded human evaluation of one candidate against one reference: per-item ScoreTables and agreement.

Stored in HARNESS_HOME/human/<candidate weights hash>--<reference weights hash>.json (the files' hash, whatever
the placement), where a ``kind: human`` gate finds it for the models it gates; or at a path given to both.

- ``preference``: metric ``human_preference``, per case: the mean over raters of +1 (the candidate is better),
  0 (tie) and -1 (the reference is better); its output is the candidate's response.
- ``criteria``: per criterion, a candidate and a reference table of mean 1-5 ratings per case.
- ``agreement``: Krippendorff's alpha per measure: ordinal over (item, response) units for each criterion,
  nominal over items for the un-blinded preference (candidate / reference / tie).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

from harness.errors import DataError
from harness.home import harness_home
from harness.human.key import CRITERION_NAMES, SCALE, SheetKey
from harness.human.ratings import Rating, RatingsRead, read_ratings
from harness.paths import write_atomic
from harness.scores import ScoreTable, table
from harness.stats.agreement import Agreement, krippendorff_alpha

RECORD_FORMAT = 1
MEASURES = ("preference", *CRITERION_NAMES)


def human_dir() -> Path:
    return harness_home() / "human"


def record_path(candidate_hash: str, reference_hash: str) -> Path:
    return human_dir() / f"{candidate_hash}--{reference_hash}.json"


@dataclass(frozen=True)
class HumanRecord:
    export_id: str
    candidate: Mapping[str, Any]  # ref, weights_hash, content_hash at export
    reference: Mapping[str, Any]
    items_exported: int
    preference: ScoreTable
    criteria: Mapping[str, tuple[ScoreTable, ScoreTable]]  # criterion -> (candidate, reference)
    agreement: Mapping[str, Agreement]  # measure -> alpha
    raters: tuple[str, ...]
    ratings: tuple[Rating, ...]
    unrated: int  # rows left blank in the imported sheets
    sources: tuple[str, ...]
    prompts: Mapping[str, str]  # case id -> the prompt raters saw

    def reference_outputs(self) -> dict[str, str | None]:
        """Case id -> the reference's response raters saw."""
        return {r.id: r.output for r in self.criteria[CRITERION_NAMES[0]][1].rows}

    @property
    def candidate_hash(self) -> str:
        return str(self.candidate["weights_hash"])

    @property
    def reference_hash(self) -> str:
        return str(self.reference["weights_hash"])

    def summary(self) -> list[str]:
        wins = sum(1 for r in self.preference.rows if r.score > 0)
        losses = sum(1 for r in self.preference.rows if r.score < 0)
        lines = [
            f"{len(self.ratings)} ratings of {len(self.preference)} of {self.items_exported} exported items by "
            f"{len(self.raters)} raters ({', '.join(self.raters)}); {self.unrated} rows left unrated",
            f"items preferring the candidate {self.candidate['ref']}: {wins}; the reference "
            f"{self.reference['ref']}: {losses}; ties: {len(self.preference) - wins - losses}",
        ]
        for criterion, (cand, ref) in self.criteria.items():
            lines.append(f"{criterion}: candidate {cand.mean():.2f}, reference {ref.mean():.2f} (mean of 1-5)")
        lines += [f"{measure}: {agreement.describe()}" for measure, agreement in self.agreement.items()]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "export_id": self.export_id,
            "candidate": dict(self.candidate),
            "reference": dict(self.reference),
            "items_exported": self.items_exported,
            "preference": self.preference.to_dict(),
            "criteria": {
                c: {"candidate": cand.to_dict(), "reference": ref.to_dict()} for c, (cand, ref) in self.criteria.items()
            },
            "agreement": {m: asdict(a) for m, a in self.agreement.items()},
            "raters": list(self.raters),
            "ratings": [asdict(r) for r in self.ratings],
            "unrated": self.unrated,
            "sources": list(self.sources),
            "prompts": dict(self.prompts),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, where: str) -> HumanRecord:
        try:
            if raw.get("format") != RECORD_FORMAT:
                raise DataError(f"{where}: format {raw.get('format')!r}, expected {RECORD_FORMAT}")
            return cls(
                export_id=str(raw["export_id"]),
                candidate=dict(raw["candidate"]),
                reference=dict(raw["reference"]),
                items_exported=int(raw["items_exported"]),
                preference=ScoreTable.from_dict(raw["preference"], where=where),
                criteria={
                    c: (
                        ScoreTable.from_dict(t["candidate"], where=where),
                        ScoreTable.from_dict(t["reference"], where=where),
                    )
                    for c, t in raw["criteria"].items()
                },
                agreement={m: Agreement(**a) for m, a in raw["agreement"].items()},
                raters=tuple(raw["raters"]),
                ratings=tuple(Rating(**r) for r in raw["ratings"]),
                unrated=int(raw["unrated"]),
                sources=tuple(raw["sources"]),
                prompts=dict(raw["prompts"]),
            )
        except DataError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(
                f"{where} is malformed ({exc!r}): import the ratings again with `harness human import`"
            ) from None

    def save(self, path: Path | None = None) -> Path:
        target = path or record_path(self.candidate_hash, self.reference_hash)
        return write_atomic(target, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> HumanRecord:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(
                f"cannot read human ratings {path} ({exc}): import them again with `harness human import`"
            ) from None
        return cls.from_dict(raw, where=str(path))


def _by_case(ratings: Sequence[Rating], value: Any) -> tuple[list[str], list[float]]:
    """Case ids (in first-rated order) and the mean of ``value(rating)`` over each case's raters."""
    grouped: dict[str, list[float]] = {}
    for rating in ratings:
        grouped.setdefault(rating.case_id, []).append(float(value(rating)))
    return list(grouped), [fmean(values) for values in grouped.values()]


def agreement(ratings: Sequence[Rating]) -> dict[str, Agreement]:
    """Krippendorff's alpha of the preference (nominal, per item) and each criterion (ordinal, per response)."""
    out = {"preference": krippendorff_alpha({(r.rater, r.item_id): r.preference for r in ratings}, level="nominal")}
    for criterion in CRITERION_NAMES:
        values: dict[tuple[Any, Any], float] = {}
        for r in ratings:
            values[(r.rater, (r.item_id, "candidate"))] = r.candidate[criterion]
            values[(r.rater, (r.item_id, "reference"))] = r.reference[criterion]
        out[criterion] = krippendorff_alpha(values, level="ordinal", domain=SCALE)
    return out


def build_record(key: SheetKey, read: RatingsRead, sources: Sequence[Path]) -> HumanRecord:
    """The record of ``read``'s ratings, un-blinded with ``key``."""
    ratings = read.ratings
    texts = {key.by_item()[item_id].case_id: t for item_id, t in read.texts.items()}
    provenance = {
        "source": "human ratings",
        "export_id": key.export_id,
        "raters": list(read.raters),
        "cases": dict(key.cases),
        "decoding": dict(key.decoding),
    }

    def scores(metric: str, value: Any, side: str) -> ScoreTable:
        ids, means = _by_case(ratings, value)
        outputs = [getattr(texts[i], side) for i in ids]
        return table(
            metric,
            ids,
            means,
            outputs=outputs,
            provenance={**provenance, "model": key.models["candidate" if side == "candidate" else "against"]},
        )

    criteria = {
        c: (
            scores(f"human_{c}", lambda r, c=c: r.candidate[c], "candidate"),
            scores(f"human_{c}", lambda r, c=c: r.reference[c], "reference"),
        )
        for c in CRITERION_NAMES
    }
    return HumanRecord(
        export_id=key.export_id,
        candidate=dict(key.models["candidate"]),
        reference=dict(key.models["against"]),
        items_exported=len(key.items),
        preference=scores("human_preference", lambda r: r.preference, "candidate"),
        criteria=criteria,
        agreement=agreement(ratings),
        raters=read.raters,
        ratings=ratings,
        unrated=sum(read.unrated.values()),
        sources=tuple(str(p) for p in sources),
        prompts={case_id: t.prompt for case_id, t in texts.items()},
    )


def find_record(candidate_hash: str, reference_hash: str, path: Path | None = None) -> HumanRecord | None:
    """The record for these two models: at ``path`` if given (it must be for them), else in HARNESS_HOME."""
    if path is None:
        default = record_path(candidate_hash, reference_hash)
        return HumanRecord.load(default) if default.is_file() else None
    if not path.is_file():
        return None
    record = HumanRecord.load(path)
    if (record.candidate_hash, record.reference_hash) != (candidate_hash, reference_hash):
        raise DataError(
            f"{path} holds ratings of {record.candidate['ref']} ({record.candidate_hash[:12]}) against "
            f"{record.reference['ref']} ({record.reference_hash[:12]}), not of the models gated now "
            f"({candidate_hash[:12]} against {reference_hash[:12]}): export and rate these models, or gate those"
        )
    return record


def import_ratings(paths: Sequence[Path], key_path: Path, out: Path | None = None) -> tuple[HumanRecord, Path]:
    """Check ``paths`` against the key, un-blind, and store the record (at ``out``, else in HARNESS_HOME)."""
    key = SheetKey.load(key_path)
    record = build_record(key, read_ratings(paths, key), paths)
    return record, record.save(out)
