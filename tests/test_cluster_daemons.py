"""The local SLURM cluster's daemons, started for real under a tmp folder: they listen on
127.0.0.1 only, and a port another program holds is named in one line. Skipped where slurm-wlm
and munge are not installed (`apt-get install -y slurm-wlm munge`); `make cluster-check` runs
the whole SLURM path."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib import cluster
from lib.paths import CACHE

pytestmark = pytest.mark.integration


@pytest.fixture
def base() -> Iterator[Path]:
    """A cluster folder in the cache beside the real one's: munged wants every folder above its
    socket searchable by all, which pytest's tmp folders are not. Without the daemons (`make
    test` installs them) the test fails saying what to install."""
    if not all(shutil.which(p) for p in ("slurmctld", "slurmd", "munged", "sinfo")):
        pytest.fail("slurm-wlm and munge are not installed: apt-get install -y slurm-wlm munge",
                    pytrace=False)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="slurm-test-", dir=CACHE) as folder:
        Path(folder).chmod(0o755)
        yield Path(folder)


def _listening(pids: list[int]) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket the processes `pids` hold."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = fd.readlink() if fd.is_symlink() else Path()
            if str(target).startswith("socket:["):
                inodes.add(str(target)[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            address, port = fields[1].split(":")
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                shown = socket.inet_ntoa(bytes.fromhex(address)[::-1]) if table == "tcp" \
                    else address
                found.append((shown, int(port, 16)))
    return found


def test_daemons_listen_on_localhost_only(base: Path) -> None:
    try:
        cluster.start(base)
        pids = [cluster.running_pid(f, p) for p, f in cluster.pid_files(base).items()]
        assert all(pids), pids
        conf = dict(line.split("=", 1) for line in cluster.config_file(base).read_text()
                    .splitlines() if line.startswith(("SlurmctldPort=", "SlurmdPort=")))
        ports = {int(conf["SlurmctldPort"]), int(conf["SlurmdPort"])}
        listening = _listening([p for p in pids if p])
        assert {port for _, port in listening} >= ports
        assert {address for address, _ in listening} == {"127.0.0.1"}, listening
    finally:
        cluster.stop(base)
    assert not cluster.is_running(base)


def test_a_taken_port_is_named_and_nothing_is_left_running(monkeypatch, base: Path) -> None:
    with socket.socket() as holder:
        holder.bind((cluster.ADDRESS, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        other = next(p for p in cluster.free_ports(2) if p != taken)
        monkeypatch.setattr(cluster, "free_ports", lambda count=2: (taken, other))
        with pytest.raises(cluster.ClusterError) as caught:
            cluster.start(base)
    assert str(caught.value) == (
        f"port {taken} on 127.0.0.1 (slurmctld) is taken by another program; run "
        "`python -m lib.cluster start` again to pick other free ports")
    assert not cluster.is_running(base)
