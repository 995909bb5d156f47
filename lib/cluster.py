"""A single-node SLURM cluster on this machine, and the check that the SLURM path gives the
results a local run gives.

    python -m lib.cluster start     # munged, slurmctld, slurmd; waits until the node is idle
    eval "$(python -m lib.cluster env)"   # this shell's sbatch/squeue/snakemake use it
    python -m lib.cluster stop      # cancels jobs, stops the daemons, leaves no process behind
    python -m lib.cluster check     # start, run SUBSET through `--executor slurm`, stop,
                                    # run SUBSET locally, compare; non-zero on any difference

Everything the cluster writes (configuration, munge key and socket, state, spool, logs, pid
files) lives under `.cache/slurm/` (`$BSD_CACHE_DIR/slurm`). The configuration is rendered from
`cluster/slurm.conf.in` with this host's name, CPUs and memory (`slurmd -C`); there is no
accounting, so the Snakemake executor reads job states from `squeue` (`MinJobAge` keeps finished
jobs visible). Clients find the cluster through `SLURM_CONF` (`environment()`). The daemons listen
on 127.0.0.1 only, on two ports the OS finds free at each start, so several checkouts' clusters
run side by side; the munge key is readable by its owner only from its creation.

Each run of the check happens in its own folder (`.cache/slurm/runs/{slurm,local}/`) holding
links to `lib/`, `notebooks/` and the SUBSET's parameter files, so the Snakefile's graph there
is exactly the subset (notebook jobs, summary, report) and nothing under `results/` changes.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from string import Template
from typing import Any

from lib.paths import CACHE, ROOT

BASE: Path = CACHE / "slurm"
TEMPLATE: Path = ROOT / "cluster" / "slurm.conf.in"
PARTITION = "local"
ADDRESS = "127.0.0.1"  # the controller's and the node's address: nothing listens beyond it
MIN_JOB_AGE = 3600
# cheap embedded runs; E11-T_tiny-gqa reads E11_tiny-mha, so the graph has an edge
SUBSET: tuple[str, ...] = ("E11_tiny-mha", "E11_tiny-mqa", "E11-T_tiny-gqa")
PROFILE = "embedded"
# outputs that record how a job ran, not what it computed: compared by presence only
RUN_RECORDS: tuple[str, ...] = ("executed", "logs")
DAEMONS = ("slurmd", "slurmctld", "munged")  # stop order


class ClusterError(RuntimeError):
    """The local cluster could not be started, used or stopped."""


# ------------------------------------------------------------------------------ configuration


def node_line(slurmd_c: str) -> str:
    """The `NodeName=...` line of `slurmd -C` output (name, CPUs, sockets, memory)."""
    for line in slurmd_c.splitlines():
        if line.startswith("NodeName="):
            return line.strip()
    raise ClusterError(f"`slurmd -C` printed no NodeName= line: {slurmd_c.strip()!r}")


def config_values(base: Path, node: str, user: str, ports: tuple[int, int]) -> dict[str, str]:
    """The template's fields for a cluster under `base` on the node `node` (a `slurmd -C` line)
    whose slurmctld and slurmd listen on `ports`."""
    name = node.split()[0].split("=", 1)[1]
    return {"base": str(base), "host": name, "node": name, "address": ADDRESS,
            "node_line": node, "user": user, "partition": PARTITION,
            "ctld_port": str(ports[0]), "slurmd_port": str(ports[1]),
            "munge_socket": str(munge_paths(base)["socket"]), "min_job_age": str(MIN_JOB_AGE)}


def free_ports(count: int = 2) -> tuple[int, ...]:
    """`count` distinct TCP ports on ADDRESS that the OS reports free now."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((ADDRESS, 0))
        return tuple(sock.getsockname()[1] for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def render(template: str, values: Mapping[str, str]) -> str:
    """`template` with its `${field}`s filled; a missing field is a one-line error."""
    try:
        return Template(template).substitute(values)
    except KeyError as exc:
        raise ClusterError(f"{TEMPLATE.relative_to(ROOT)}: no value for ${{{exc.args[0]}}}; "
                           f"known fields: {', '.join(sorted(values))}") from None


def munge_paths(base: Path) -> dict[str, Path]:
    folder = base / "munge"
    return {"folder": folder, "key": folder / "munge.key", "socket": folder / "munge.socket",
            "pid": folder / "munged.pid", "log": folder / "munged.log",
            "seed": folder / "munged.seed"}


def config_file(base: Path = BASE) -> Path:
    return base / "slurm.conf"


def environment(base: Path = BASE) -> dict[str, str]:
    """This process's environment with `SLURM_CONF` pointing at the local cluster, and the
    `srun` of `write_srun()` first on the PATH (with `BSD_SLURM_CONF` for it)."""
    conf = str(config_file(base))
    rest = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d != str(base / "bin")]
    path = os.pathsep.join([str(base / "bin"), *rest])
    return {**os.environ, "SLURM_CONF": conf, "BSD_SLURM_CONF": conf, "PATH": path}


SRUN = """#!/bin/sh
# The Snakemake SLURM job step (snakemake-executor-plugin-slurm-jobstep) drops every SLURM_*
# variable, SLURM_CONF included, before its `srun`: give this cluster's configuration back.
SLURM_CONF="$${BSD_SLURM_CONF:?set by lib.cluster.environment}" exec ${srun} "$$@"
"""


def write_srun(base: Path = BASE) -> Path:
    """`<base>/bin/srun`: the system's srun with `SLURM_CONF` restored from `BSD_SLURM_CONF`
    (a real cluster keeps its configuration where srun finds it without the variable)."""
    ours = base / "bin"
    search = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d) != ours]
    real = shutil.which("srun", path=os.pathsep.join(search))
    if real is None:
        raise ClusterError("srun not found: `apt-get install -y slurm-wlm munge`")
    path = base / "bin" / "srun"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(Template(SRUN).substitute(srun=real))
    path.chmod(0o755)
    return path


def write_config(base: Path = BASE, ports: tuple[int, int] | None = None) -> Path:
    """Render `cluster/slurm.conf.in` for this host into `<base>/slurm.conf`, with `ports`
    (slurmctld, slurmd) or two free ones."""
    out = _run(["slurmd", "-C"], what="slurmd -C (is slurm-wlm installed?)")
    # The daemons run as the user who starts them (SlurmUser = SlurmdUser), so as root only when
    # that user is root (a container's only user). slurmd starts each job as its submitter, which
    # a slurmd running as any other user cannot do, and the check submits as this user; what
    # limits root's exposure is that every daemon listens on ADDRESS only.
    user = getpass.getuser()
    munge_socket = munge_paths(base)["socket"]
    if len(str(munge_socket)) > 100:  # sun_path holds 108 bytes
        raise ClusterError(f"munge socket path {munge_socket} is too long for a unix socket; set "
                           "BSD_CACHE_DIR to a shorter folder")
    ports = ports or free_ports(2)
    text = render(TEMPLATE.read_text(), config_values(base, node_line(out), user, ports))
    path = config_file(base)
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------ start and stop


def _run(cmd: Sequence[str], what: str, env: Mapping[str, str] | None = None,
         timeout: float = 30) -> str:
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                             env=None if env is None else dict(env))
    except FileNotFoundError:
        raise ClusterError(f"{cmd[0]} not found: `apt-get install -y slurm-wlm munge`") from None
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{what}: no answer in {timeout:.0f} s") from None
    if out.returncode != 0:
        raise ClusterError(f"{what} failed ({out.returncode}): "
                           f"{(out.stderr or out.stdout).strip()[-500:]}")
    return out.stdout


def pid_files(base: Path = BASE) -> dict[str, Path]:
    return {"munged": munge_paths(base)["pid"], "slurmctld": base / "run" / "slurmctld.pid",
            "slurmd": base / "run" / "slurmd.pid"}


def running_pid(pid_file: Path, program: str) -> int | None:
    """The pid in `pid_file` when that process is alive and is `program`, else None."""
    try:
        pid = int(pid_file.read_text().split()[0])
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError, IndexError):
        return None
    return pid if comm == program else None


def is_running(base: Path = BASE) -> bool:
    """Whether any daemon of the cluster under `base` is alive."""
    return any(running_pid(f, p) for p, f in pid_files(base).items())


def write_munge_key(path: Path) -> Path:
    """A new random munge key at `path`, created with mode 0400 (never readable by others, not
    even while it is written) and renamed into place whole."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(os.urandom(1024))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _start_munge(base: Path) -> None:
    paths = munge_paths(base)
    paths["folder"].mkdir(parents=True, exist_ok=True)
    paths["folder"].chmod(0o755)  # munged: the socket folder must be searchable by all
    write_munge_key(paths["key"])  # a fresh key each start: no cluster outlives its stop
    _run(["munged", f"--socket={paths['socket']}", f"--key-file={paths['key']}",
          f"--log-file={paths['log']}", f"--pid-file={paths['pid']}",
          f"--seed-file={paths['seed']}"], what=f"munged (log: {paths['log']})")


def _node_state(base: Path) -> str:
    out = _run(["sinfo", "--noheader", "--Node", "--format=%T"], what="sinfo",
               env=environment(base), timeout=10)
    return out.strip() or "(no node)"


def port_taken(base: Path, ports: tuple[int, int]) -> str | None:
    """The one-line error when slurmctld or slurmd (their logs under `base` say) could not bind
    its port of `ports`, else None."""
    for program, port in zip(("slurmctld", "slurmd"), ports, strict=True):
        log = base / "log" / f"{program}.log"
        if log.is_file() and "Address already in use" in log.read_text(errors="replace"):
            return (f"port {port} on {ADDRESS} ({program}) is taken by another program; run "
                    "`python -m lib.cluster start` again to pick other free ports")
    return None


def start(base: Path = BASE, timeout: float = 60) -> None:
    """Start munged, slurmctld and slurmd under `base` on a fresh state and two free ports; wait
    for an idle node."""
    if is_running(base):
        raise ClusterError(f"a local cluster is already running under {base}: "
                           "`python -m lib.cluster stop` first")
    for folder in ("state", "spool", "run", "log", "bin"):
        shutil.rmtree(base / folder, ignore_errors=True)
        (base / folder).mkdir(parents=True)
    ports = free_ports(2)
    conf = write_config(base, ports)
    write_srun(base)
    env = environment(base)
    try:  # a daemon that fails to start leaves none of the others running
        _start_munge(base)
        _run(["slurmctld", "-f", str(conf)], what=f"slurmctld (log: {base / 'log'})", env=env)
        _run(["slurmd", "-f", str(conf)], what=f"slurmd (log: {base / 'log'})", env=env)
    except ClusterError:
        stop(base)
        raise
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline and not port_taken(base, ports):
        try:
            state = _node_state(base)
        except ClusterError as exc:
            state = str(exc)
        if state == "idle":
            return
        if state.startswith(("drain", "down", "fail")):
            break
        time.sleep(1)
    stop(base)
    raise ClusterError(port_taken(base, ports) or
                       f"the local SLURM node is not idle after {timeout:.0f} s (state: "
                       f"{state}); see {base / 'log'}/slurmctld.log and slurmd.log")


def _step_sockets(base: Path) -> list[Path]:
    """The job-step sockets slurmd's stepds keep in the spool: one per live job step."""
    spool = base / "spool"
    return sorted(p for p in spool.glob("*/*") if p.is_socket()) if spool.is_dir() else []


def stop(base: Path = BASE, timeout: float = 20) -> list[str]:
    """Cancel every job, stop slurmd, slurmctld and munged; return what had to be killed."""
    killed: list[str] = []
    if running_pid(pid_files(base)["slurmctld"], "slurmctld"):
        try:
            _run(["scancel", "--user", getpass.getuser()], what="scancel",
                 env=environment(base), timeout=10)
        except ClusterError:
            pass
        deadline = time.monotonic() + timeout
        while _step_sockets(base) and time.monotonic() < deadline:
            time.sleep(0.5)
    for program in DAEMONS:
        pid = running_pid(pid_files(base)[program], program)
        if pid is None:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while running_pid(pid_files(base)[program], program) and time.monotonic() < deadline:
            time.sleep(0.2)
        if running_pid(pid_files(base)[program], program):
            os.kill(pid, signal.SIGKILL)
            killed.append(f"{program} ({pid})")
    left = [str(p) for p in _step_sockets(base)]
    if left:
        killed.append(f"job steps still listed in the spool: {', '.join(left)}")
    return killed


@contextmanager
def running(base: Path = BASE) -> Iterator[dict[str, str]]:
    """The local cluster for the duration of a `with`: stopped on any exit, SIGTERM included."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        start(base)
        yield environment(base)
    finally:
        stop(base)
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# ------------------------------------------------------------------------------ the check


def prepare_run_folder(folder: Path, names: Sequence[str] = SUBSET,
                       profile: str = PROFILE) -> Path:
    """An empty working folder whose `parameters/<profile>/` holds links to `names` only."""
    shutil.rmtree(folder, ignore_errors=True)
    params = folder / "parameters" / profile
    params.mkdir(parents=True)
    for name in ("lib", "notebooks"):
        (folder / name).symlink_to(ROOT / name)
    for name in names:
        source = ROOT / "parameters" / profile / f"{name}.yaml"
        if not source.is_file():
            raise ClusterError(f"no parameter file {source.relative_to(ROOT)} for the subset")
        (params / f"{name}.yaml").symlink_to(source)
    return folder


def snakemake(folder: Path, profile: str, env: Mapping[str, str], log: Path) -> None:
    """Run the Snakefile's whole graph in `folder` with `profiles/<profile>`; its output to
    `log`. Results and figures go to `<folder>/results` and `<folder>/figures`."""
    (CACHE / "tmp").mkdir(parents=True, exist_ok=True)  # Snakemake's temporary folders: not /tmp
    env = {**env, "BSD_RESULTS_DIR": str(folder / "results"),
           "BSD_FIGURES_DIR": str(folder / "figures"), "TMPDIR": str(CACHE / "tmp")}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(folder), "--profile", str(ROOT / "profiles" / profile)]
    with log.open("w") as out:
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                              cwd=folder).returncode
    if code != 0:
        tail = log.read_text().strip().splitlines()[-15:]
        raise ClusterError(f"snakemake --profile profiles/{profile} failed ({code}); log: "
                           f"{log}\n" + "\n".join(tail))


def output_files(folder: Path) -> dict[str, Path]:
    """Every file under `<folder>/results` and `<folder>/figures`, by path relative to
    `folder`; hidden files (partials, Snakemake's) are left out."""
    found: dict[str, Path] = {}
    for top in ("results", "figures"):
        for path in sorted((folder / top).rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not any(part.startswith(".") for part in rel.parts):
                found[str(rel)] = path
    return found


def json_differences(a: Any, b: Any, path: str = "") -> list[str]:
    """The key paths at which two JSON values differ ("" for the root)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            where = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                out.append(where)
            else:
                out.extend(json_differences(a[key], b[key], where))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in json_differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [path or "(root)"]


def compare_outputs(first: Path, second: Path) -> list[str]:
    """What differs between the outputs of two run folders: files present in one only, and
    files whose bytes differ (for JSON, the differing key paths). Executed notebooks and logs
    (RUN_RECORDS: they record the run, with timings) are compared by presence only."""
    a, b = output_files(first), output_files(second)
    problems = [f"{rel}: only in {where}" for rel, where in
                [*((r, first) for r in sorted(set(a) - set(b))),
                 *((r, second) for r in sorted(set(b) - set(a)))]]
    for rel in sorted(set(a) & set(b)):
        if set(Path(rel).parts) & set(RUN_RECORDS):
            continue
        if a[rel].read_bytes() == b[rel].read_bytes():
            continue
        if rel.endswith(".json"):
            keys = json_differences(json.loads(a[rel].read_text()),
                                    json.loads(b[rel].read_text()))
            detail = ", ".join(keys[:5]) + (f" (+{len(keys) - 5})" if len(keys) > 5 else "")
            problems.append(f"{rel}: differs at {detail or 'formatting only'}")
        else:
            problems.append(f"{rel}: bytes differ")
    return problems


def check(base: Path = BASE, names: Sequence[str] = SUBSET) -> list[str]:
    """Run `names` (and the summary and report) through the local SLURM cluster, then locally;
    return the differences between the two (empty: identical)."""
    runs = base / "runs"
    slurm_folder = prepare_run_folder(runs / "slurm", names)
    local_folder = prepare_run_folder(runs / "local", names)
    with running(base) as env:
        print(f"cluster up ({config_file(base)}); running {', '.join(names)} through SLURM",
              flush=True)
        snakemake(slurm_folder, "slurm-local", env, runs / "slurm.log")
    print("cluster stopped; running the same graph locally", flush=True)
    snakemake(local_folder, PROFILE, dict(os.environ), runs / "local.log")
    differences = compare_outputs(slurm_folder, local_folder)
    if not output_files(slurm_folder):
        differences.append(f"the SLURM run wrote no outputs under {slurm_folder}")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("start", "stop", "check", "config", "env"))
    args = parser.parse_args(argv)
    BASE.mkdir(parents=True, exist_ok=True)
    try:
        if args.command == "config":  # a running cluster's, else a new one's
            path = config_file(BASE) if is_running(BASE) else write_config(BASE)
            print(path.read_text(), end="")
        elif args.command == "env":
            env = environment(BASE)
            for key in ("SLURM_CONF", "BSD_SLURM_CONF", "PATH"):
                print(f"export {key}={shlex.quote(env[key])}")
        elif args.command == "start":
            start(BASE)
            print("local SLURM cluster idle; for its clients and `snakemake --profile "
                  'profiles/slurm-local`: eval "$(python -m lib.cluster env)"')
        elif args.command == "stop":
            killed = stop(BASE)
            print("local SLURM cluster stopped" + (f"; killed: {'; '.join(killed)}"
                                                   if killed else ""))
        else:
            began = time.monotonic()
            differences = check(BASE)
            elapsed = time.monotonic() - began
            if differences:
                print(f"error: the SLURM run differs from the local run in {len(differences)} "
                      f"file(s): {'; '.join(differences)}", file=sys.stderr)
                return 1
            print(f"SLURM and local runs of {', '.join(SUBSET)} + summary + report give "
                  f"identical results ({elapsed:.0f} s)")
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"error: interrupted ({exc or 'Ctrl-C'}); the local cluster is stopped",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
