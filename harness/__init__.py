"""Gate fine-tuned causal LMs with paired statistics, from pytest."""

__version__ = "0.1.0"
