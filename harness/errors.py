"""The exception hierarchy. Every message names the item that failed and ends with the fix."""

from __future__ import annotations


class HarnessError(Exception):
    """Base class: anything the harness raises on purpose."""


class ConfigError(HarnessError, ValueError):
    """A YAML spec, CLI option or config value is invalid (names the file, key and allowed values)."""


class DataError(HarnessError, ValueError):
    """An input dataset row is malformed (names the file, line and field)."""


class ModelLoadError(HarnessError):
    """A model spec could not be resolved or loaded (names the spec and what to do)."""


class RegistryError(HarnessError):
    """The model registry refused an operation (unknown alias, promotion not allowed, ...)."""
