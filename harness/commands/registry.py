"""`harness registry list | history | set | repair` and `harness rollback`: model aliases and their history."""

from __future__ import annotations

import argparse


def list_aliases(args: argparse.Namespace) -> int:
    from harness.registry import Registry

    aliases = Registry().aliases()
    if not aliases:
        print("no aliases registered; `harness world build` registers 'base'")
    for alias, event in aliases.items():
        print(f"{alias:<12} {event.path}  hash={str(event.content_hash)[:12]}  set {event.time} by {event.user}")
    return 0


def history(args: argparse.Namespace) -> int:
    from harness.registry import Registry

    for e in Registry().history(args.alias):
        print(f"#{e.seq:<4} {e.time} {e.user:<10} {e.action:<8} {e.alias:<12} -> {e.path}  ({e.reason})")
    return 0


def set_alias(args: argparse.Namespace) -> int:
    from harness.models import ModelSpec, content_hash, resolve
    from harness.registry import Registry, check_alias

    check_alias(args.alias)
    resolved = resolve(ModelSpec(args.path))
    digest = content_hash(resolved, load_in_4bit=False)
    Registry().set(args.alias, resolved.path, content_hash=digest, reason=args.reason)
    print(f"{args.alias} -> {resolved.path}")
    return 0


def repair(args: argparse.Namespace) -> int:
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


def rollback(args: argparse.Namespace) -> int:
    from harness.registry import Registry

    event = Registry().rollback(args.alias, reason=args.reason)
    print(f"{args.alias} rolled back to {event.path} ({str(event.content_hash)[:12]})")
    return 0
