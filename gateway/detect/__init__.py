"""Distillation, fraud-ring and reseller detection on model-API traffic (off the hot path).

Features of each call (:mod:`.features`) are kept beside the ledger; the detector reads them, scores
accounts and linked clusters, and acts by policy (``[detection]`` in ``policies/detection.toml``).
"""
