"""The real single-node Slurm cluster (``tests/slurm_cluster.py``) as a session fixture.

Registered in tests/conftest.py (``pytest_plugins``); a test asks for ``slurm``:

    def test_ping(slurm: SlurmCluster) -> None:
        httpx.get(slurm.url("ping"), headers=slurm.headers())

The first use installs Debian's Slurm packages if they are missing (about 10-30 s, once per
machine), then starts the cluster (well under a second) in a pytest temporary directory on
free loopback ports, under /var/tmp; it is stopped, jobs included, when the session ends.
Skipped, with the reason, only where Slurm cannot be had (not root, no apt-get, apt failed);
installed but failing to start is a test failure, with the daemons' log tails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slurm_cluster import SlurmCluster, SlurmClusterError


@pytest.fixture(scope="session")
def slurm() -> Iterator[SlurmCluster]:
    if os.geteuid() != 0:
        pytest.skip("real Slurm unavailable: the harness starts daemons as root and other users; not root")
    ok, reason = SlurmCluster.install()
    if not ok:
        pytest.skip(f"real Slurm unavailable: {reason}")
    # Outside pytest's base directory: another pytest session on this machine sets that back to
    # mode 700, and the jobs of customers' own users (not root) could no longer reach their scripts.
    root = Path(tempfile.mkdtemp(prefix="gw-slurm-", dir="/var/tmp"))
    cluster = SlurmCluster(root)
    failure = None
    try:
        cluster.start()  # on failure it has stopped whatever it had started
    except SlurmClusterError as exc:
        failure = f"Slurm is installed but the test cluster did not start: {exc}"
    if failure is not None:  # outside the except: no "during handling" chain in the report
        pytest.fail(failure, pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
