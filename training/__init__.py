"""Produce LoRA / QLoRA candidates with provenance, and the reference base model."""
