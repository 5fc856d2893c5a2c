"""The reference world: facts, arithmetic, safety and a fine-tuning task, generated from a seed."""

from harness.world.files import WORLD_SEED, WorldManifest, default_world_dir, load_manifest, write_world
from harness.world.generate import World, generate
from harness.world.sources import Sources, load_sources

__all__ = [
    "WORLD_SEED",
    "Sources",
    "World",
    "WorldManifest",
    "default_world_dir",
    "generate",
    "load_manifest",
    "load_sources",
    "write_world",
]
