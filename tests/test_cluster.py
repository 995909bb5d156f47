"""The local SLURM cluster's pieces that need no cluster: the rendered configuration (addresses,
ports), the munge key, the run folders of the check and the comparison of their outputs. The
daemons themselves: tests/test_cluster_daemons.py."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from hang import HANG_S

from lib import cluster
from lib.params import load_parameters, reference_runs
from lib.paths import ROOT

NODE = ("NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 "
        "RealMemory=24105")
SLURMD_C = f"{NODE}\nUpTime=0-13:09:58\n"
PORTS = (40123, 40124)


def _rendered(tmp_path: Path, user: str = "root") -> dict[str, str]:
    values = cluster.config_values(tmp_path, cluster.node_line(SLURMD_C), user, PORTS)
    text = cluster.render(cluster.TEMPLATE.read_text(), values)
    assert "${" not in text
    lines = [x for x in text.splitlines() if x.strip() and not x.startswith("#")]
    return {x.split("=", 1)[0]: x.split("=", 1)[1] for x in lines if not x.startswith("Node")} | {
        "NodeName": next(x for x in lines if x.startswith("NodeName="))}


def test_node_line_is_the_nodename_line_of_slurmd_c() -> None:
    assert cluster.node_line(SLURMD_C) == NODE
    with pytest.raises(cluster.ClusterError, match="NodeName"):
        cluster.node_line("slurmd: error: something\n")


def test_config_has_no_accounting_no_cgroups_and_keeps_finished_jobs(tmp_path: Path) -> None:
    conf = _rendered(tmp_path)
    assert conf["AccountingStorageType"] == "accounting_storage/none"
    assert conf["JobAcctGatherType"] == "jobacct_gather/none"
    assert conf["ProctrackType"] == "proctrack/linuxproc"
    assert conf["TaskPlugin"] == "task/none"
    # the executor uses squeue only when MinJobAge >= 3 initial status intervals
    profile = yaml.safe_load((ROOT / "profiles/slurm-local/config.yaml").read_text())
    assert int(conf["MinJobAge"]) >= 3 * profile["slurm-init-seconds-before-status-checks"]
    assert profile["slurm-status-command"] == "squeue"
    assert profile["default-resources"]["slurm_partition"] == cluster.PARTITION


def test_config_describes_this_node_and_writes_only_under_its_folder(tmp_path: Path) -> None:
    conf = _rendered(tmp_path, user="alice")
    assert conf["NodeName"].startswith(NODE)
    assert conf["SlurmctldHost"].startswith("vm(")
    assert conf["SlurmUser"] == "alice" and conf["SlurmdUser"] == "alice"
    assert re.search(r"\bNodes=vm\b", conf["PartitionName"])
    assert conf["PartitionName"].startswith(cluster.PARTITION + " ")
    paths = [v for k, v in conf.items() if k.endswith(("File", "Location", "SpoolDir"))]
    paths.append(conf["AuthInfo"].split("=", 1)[1])
    assert len(paths) >= 6
    for path in paths:
        assert Path(path).is_relative_to(tmp_path), path


def test_config_binds_every_daemon_to_localhost_on_the_given_ports(tmp_path: Path) -> None:
    conf = _rendered(tmp_path)
    assert conf["SlurmctldHost"] == "vm(127.0.0.1)"
    assert "NodeAddr=127.0.0.1" in conf["NodeName"].split()
    # without these slurmctld, slurmd, srun and slurmstepd listen on 0.0.0.0
    assert set(conf["CommunicationParameters"].split(",")) >= {"NoInAddrAny", "NoCtldInAddrAny"}
    assert (int(conf["SlurmctldPort"]), int(conf["SlurmdPort"])) == PORTS


def test_free_ports_are_distinct_and_bindable_on_localhost() -> None:
    import socket

    ports = cluster.free_ports(2)
    assert len(set(ports)) == 2 and all(1024 <= p < 65536 for p in ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind((cluster.ADDRESS, port))  # raises when the port is in use


def test_a_taken_port_is_named_from_the_daemon_log(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    assert cluster.port_taken(tmp_path, PORTS) is None  # no logs yet
    (tmp_path / "log" / "slurmctld.log").write_text("[t] Running as primary controller\n")
    (tmp_path / "log" / "slurmd.log").write_text(
        "[t] error: Error binding slurm stream socket: Address already in use\n"
        f"[t] error: Unable to bind listen port ({PORTS[1]}): Address already in use\n")
    assert cluster.port_taken(tmp_path, PORTS) == (
        f"port {PORTS[1]} on 127.0.0.1 (slurmd) is taken by another program; run "
        "`python -m lib.cluster start` again to pick other free ports")


def test_munge_key_is_owner_read_only_from_its_creation(monkeypatch, tmp_path: Path) -> None:
    """The key is never written with a wider mode than 0400, not even before a chmod: chmod is
    disabled here and the umask lets everything through."""
    monkeypatch.setattr(cluster, "_run", lambda *args, **kwargs: "")  # no munged
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)
    key = cluster.munge_paths(tmp_path)["key"]
    key.parent.mkdir(parents=True)
    key.write_bytes(b"an old key left readable")
    os.chmod(key, 0o644)
    previous = os.umask(0)
    try:
        cluster._start_munge(tmp_path)
    finally:
        os.umask(previous)
    assert key.stat().st_mode & 0o777 == 0o400
    assert len(key.read_bytes()) == 1024  # a new key replaced the old one whole
    assert sorted(p.name for p in key.parent.iterdir()) == ["munge.key"]  # no partial file


def test_a_missing_template_field_is_named() -> None:
    with pytest.raises(cluster.ClusterError, match=r"\$\{partition\}"):
        cluster.render("PartitionName=${partition}", {"node": "vm"})


def test_environment_points_clients_and_the_srun_wrapper_at_the_cluster(tmp_path: Path) -> None:
    env = cluster.environment(tmp_path)
    assert env["SLURM_CONF"] == env["BSD_SLURM_CONF"] == str(tmp_path / "slurm.conf")
    first, *rest = env["PATH"].split(os.pathsep)
    assert first == str(tmp_path / "bin")
    assert str(tmp_path / "bin") not in rest


def test_run_folder_holds_the_subset_only(tmp_path: Path) -> None:
    folder = cluster.prepare_run_folder(tmp_path / "run", ["E11_tiny-mha", "E11_tiny-mqa"])
    (folder / "results").mkdir()
    (folder / "results" / "stale.json").write_text("{}")
    folder = cluster.prepare_run_folder(tmp_path / "run", ["E11_tiny-mha", "E11_tiny-mqa"])
    assert not (folder / "results").exists()  # a fresh folder every time
    files = sorted(p.name for p in (folder / "parameters" / "embedded").iterdir())
    assert files == ["E11_tiny-mha.yaml", "E11_tiny-mqa.yaml"]
    # the linked file is the repository's own: same parameter_file as in a run from the root
    params = load_parameters(folder / "parameters" / "embedded" / "E11_tiny-mha.yaml")
    assert params.parameter_file == "parameters/embedded/E11_tiny-mha.yaml"
    assert (folder / "lib" / "cluster.py").is_file()
    with pytest.raises(cluster.ClusterError, match="E11_nope"):
        cluster.prepare_run_folder(tmp_path / "other", ["E11_nope"])


def test_the_subset_is_closed_under_its_references() -> None:
    """Every run the subset's runs read is in the subset, so its graph runs on its own."""
    for name in cluster.SUBSET:
        params = load_parameters(ROOT / "parameters" / cluster.PROFILE / f"{name}.yaml")
        for run in reference_runs(params):
            assert run in cluster.SUBSET, (name, run)


def _outputs(folder: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


BASE_FILES = {
    "results/embedded/E11_x.json": json.dumps({"a": 1, "b": {"c": [1, 2]}}),
    "results/embedded/executed/E11_x.ipynb": "run one",
    "results/embedded/logs/E11_x.log": "took 3 s",
    "results/REPORT.md": "# report\n",
    "figures/embedded/E11_x.png": "png",
}


def test_identical_outputs_compare_equal_and_run_records_are_ignored(tmp_path: Path) -> None:
    a = _outputs(tmp_path / "a", BASE_FILES)
    b = _outputs(tmp_path / "b", {**BASE_FILES,
                                  "results/embedded/executed/E11_x.ipynb": "run two",
                                  "results/embedded/logs/E11_x.log": "took 4 s",
                                  "results/embedded/.E11_x.partial.json": "hidden"})
    assert cluster.compare_outputs(a, b) == []


def test_differences_name_the_file_and_the_json_keys(tmp_path: Path) -> None:
    a = _outputs(tmp_path / "a", BASE_FILES)
    b = _outputs(tmp_path / "b", {**BASE_FILES,
                                  "results/embedded/E11_x.json": json.dumps(
                                      {"a": 1, "b": {"c": [1, 3]}, "d": 0}),
                                  "results/REPORT.md": "# other\n",
                                  "figures/embedded/summary.png": "new"})
    (b / "results/embedded/executed/E11_x.ipynb").unlink()
    problems = cluster.compare_outputs(a, b)
    assert "results/embedded/E11_x.json: differs at b.c[1], d" in problems
    assert "results/REPORT.md: bytes differ" in problems
    assert f"figures/embedded/summary.png: only in {b}" in problems
    assert f"results/embedded/executed/E11_x.ipynb: only in {a}" in problems
    assert len(problems) == 4


def test_json_differences_of_reordered_keys_is_formatting_only(tmp_path: Path) -> None:
    a = _outputs(tmp_path / "a", {"results/r.json": '{"a": 1, "b": 2}'})
    b = _outputs(tmp_path / "b", {"results/r.json": '{"b": 2, "a": 1}'})
    assert cluster.compare_outputs(a, b) == ["results/r.json: differs at formatting only"]
    assert cluster.json_differences([1, 2], [1, 2, 3]) == ["(root)"]


def test_running_pid_needs_a_live_process_of_that_program(tmp_path: Path) -> None:
    pid_file = tmp_path / "x.pid"
    assert cluster.running_pid(pid_file, "python") is None  # no file
    pid_file.write_text(f"{os.getpid()}\n")
    comm = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert cluster.running_pid(pid_file, comm) == os.getpid()
    assert cluster.running_pid(pid_file, "slurmctld") is None  # a reused pid is not ours
    pid_file.write_text("not a pid")
    assert cluster.running_pid(pid_file, comm) is None


@pytest.mark.integration
def test_slurm_local_dry_run_is_the_subset_with_summary_and_report(tmp_path: Path) -> None:
    """The check's SLURM graph, planned without a cluster: the subset's notebook jobs and their
    seed nulls, the calibration, the summary and the report, each a SLURM job on the local
    partition, and nothing else."""
    import subprocess
    import sys

    folder = cluster.prepare_run_folder(tmp_path / "run")
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
         "--directory", str(folder), "--profile", str(ROOT / "profiles" / "slurm-local"),
         "--dry-run", "--printshellcmds"],
        cwd=folder, capture_output=True, text=True, timeout=HANG_S,
        env={**os.environ, "BSD_RESULTS_DIR": str(folder / "results"),
             "BSD_FIGURES_DIR": str(folder / "figures")})
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    parts = re.split(r"^rule (\w+):$", text, flags=re.M)
    planned: dict[str, list[str]] = {}
    for rule, body in zip(parts[1::2], parts[2::2], strict=True):
        planned.setdefault(rule, []).extend(re.findall(r"wildcards: name=(\S+)", body))
    assert sorted(planned) == ["all", "calibration", "notebook", "report", "seed_null", "summary"]
    assert sorted(planned["notebook"]) == sorted(planned["seed_null"]) == sorted(cluster.SUBSET)
    assert "slurm_partition=local" in text
    assert not (folder / "results").exists()  # a dry run writes nothing
