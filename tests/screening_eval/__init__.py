"""The labelled evaluation set for sanctions screening, and how it is scored (issue 19).

Shared by ``tests/bench/bench_screening.py`` (the full-size figures) and
``tests/unit/screening/test_evaluation.py`` (the precision and recall floor).
"""
