"""The ledger: one event per proxied call and one per settled cluster job (:mod:`.events`), written in
batches and never dropped (:mod:`.writer`), and read back (:mod:`.repository`) by everything that
reports on usage.

Nothing is imported here: the writer brings the call features and numpy with it, which a command
that only reads the ledger (``gateway usage list``) has no use for.
"""
