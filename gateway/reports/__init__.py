"""Signed regulator reports, generated from the usage ledger.

Two kinds, each a typed document (:mod:`.model`): ``usage`` (periodic, per jurisdiction: aggregate
counts only) and ``large_training`` (one per linked group whose training compute reaches a reporting
level, at the planning stage already: identity, owners, workloads and how the compute was
estimated). A report's body is RFC 8785 canonical JSON built only from the ledger and the
parameters (no issue time, no random id), so the same ledger gives the same bytes; it is stored
immutably (``reports``), signed with a detached JWS by the audit log's key, and logged in the
audit log (``report.issued``) in the same transaction.

- :mod:`.model`: the documents, their canonical bytes and JSON Schemas (pure);
- :mod:`.usage`, :mod:`.training`: the pure builders, from facts the queries read;
- :mod:`.queries`: what the builders need, read from the ledger, KYC and compute tables;
- :mod:`.repository`: storing, listing and proving reports (the regulator API's contract);
- :mod:`.generate`: reading, building, signing and issuing, in one place for the CLI and the API;
- :mod:`.exports`: CSV and PDF renderings of a stored report.
"""
