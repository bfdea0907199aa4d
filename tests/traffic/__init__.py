"""Synthetic model-API traffic with planted abuse campaigns, and the evaluation of detection on it.

- ``generator`` (with ``model``, ``actors``, ``heavy``, ``text``): pure, seeded customers and calls;
- ``seed``: the customers into a migrated database as verified KYC customers, with real keys;
- ``evaluate``: pure cluster-level precision/recall, false alerts, time to flag;
- ``harness``: load, run detection on a schedule, score; ``seams``: the import path and the engine
  (the two functions the integrator wires); ``synthetic``: ledger rows by COPY for scale runs;
- ``baseline``: a deliberately simple reference detector for checking the harness.
"""
