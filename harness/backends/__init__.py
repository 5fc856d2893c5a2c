"""Model backends behind one narrow interface (:class:`ModelBackend`), chosen by the scheme of a model spec."""

from harness.backends.protocol import LoglikelihoodRequest, ModelBackend
from harness.backends.registry import BackendKind, Resolution, get, kind_for, kinds, register, unregister

__all__ = [
    "BackendKind",
    "LoglikelihoodRequest",
    "ModelBackend",
    "Resolution",
    "get",
    "kind_for",
    "kinds",
    "register",
    "unregister",
]
