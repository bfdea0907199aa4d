"""The data plane: the request pipeline (:mod:`.handler`) and the adapters for each upstream kind.

Nothing is imported here: :mod:`.origin` (a client's country) is also read by settings validation
and the CLI, which need none of the pipeline.
"""
