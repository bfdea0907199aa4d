"""The tamper-evident audit log: an append-only Merkle tree that anyone can check with the
transparency-log tools that already exist (Go's sumdb note, Sigsum, Tessera, Sunlight, Sigstore).

Its pure core (no database, no files, no clock: times are passed in) is two modules:

- :mod:`.merkle`: RFC 6962 / RFC 9162 hashing, inclusion and consistency proofs and their
  verification, and :class:`~.merkle.CompactRange`, the right edge of a tree built by appends.
- :mod:`.note`: C2SP signed notes, checkpoints, witness cosignatures and tlog-proof bundles.

The storage that sequences entries into PostgreSQL and serves proofs builds on them, in its own
modules; nothing heavy is imported from here.
"""
