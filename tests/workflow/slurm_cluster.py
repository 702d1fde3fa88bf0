"""A real single-node SLURM cluster for the workflow tests, started from Debian's packages (``slurm-wlm``, ``munge``)
in a temporary state folder and stopped afterwards.

A cluster as small as it gets: this machine is its one node (its CPUs, 90 % of its memory), a partition for every job
and one for GPU jobs, no accounting database (``sacct`` answers nothing, as on many small clusters), and ``MinJobAge=3600`` so that finished
jobs stay visible to ``squeue``. Its own ``munged`` listens in a temporary folder of its own (one the munge user can
enter, which pytest's folders are not), so a munged the machine already runs is left alone.

Its ``slurm.conf`` is written where SLURM's commands look for it, ``/etc/slurm/slurm.conf``: a job step cannot be told
otherwise (snakemake-executor-plugin-slurm-jobstep 0.6 drops ``SLURM_CONF`` from the environment of the ``srun`` it
starts inside each job). The file is marked as this module's and removed when the cluster stops; a machine with a
SLURM configuration of its own is left alone (:func:`missing` says so).

The node declares one GPU whose device file is /dev/null: SLURM schedules a job that asks for a GPU (``--gpus=1``)
and hands it that file, and torch in the job sees no CUDA, so a test can follow a GPU job through the scheduler up
to the point where it needs the hardware.

Settings a container needs (PITFALLS.md): ``proctrack/linuxproc`` and ``task/none`` (no cgroups), and no
``cgroup.conf``: SLURM 22.05 has no "disabled" cgroup plugin, and slurmd fails to start with one.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

#: The programs the cluster needs: Debian's slurm-wlm (slurmctld, slurmd, sbatch, squeue, scancel) and munge.
PROGRAMS = ("slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "munged")
PARTITION = "study"
GPU_PARTITION = "gpu"
CONF = Path("/etc/slurm/slurm.conf")
GRES = CONF.with_name("gres.conf")
#: The first line of a slurm.conf this module wrote: only such a file is replaced (left by a killed test) or removed.
MARK = "# a single-node cluster of the xai-study tests (tests/workflow/slurm_cluster.py); removed when it stops"


def missing() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    absent = [p for p in PROGRAMS if not shutil.which(p)]
    if absent:
        return f"no {', '.join(absent)} (apt-get install -y slurm-wlm munge)"
    if os.geteuid() != 0:
        return "slurmctld and slurmd must be started as root"
    if not Path("/etc/munge/munge.key").exists():
        return "no /etc/munge/munge.key (reinstall munge)"
    if CONF.exists() and not CONF.read_text().startswith(MARK):
        return f"this machine has a SLURM configuration of its own ({CONF}), which the test cluster would replace"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    """The memory SLURM may hand out: 90 % of the machine's (slurmd drains a node that has less than it claims)."""
    total_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal:"))
    return int(total_kb / 1024 * 0.9)


def slurm_conf(state: Path, munge: Path, cpus: int, memory_mb: int, node: str) -> str:
    """The cluster's ``slurm.conf``: every file of the cluster lives under ``state``."""
    return "\n".join([
        MARK,
        "ClusterName=xaistudy",
        f"SlurmctldHost={node}",
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={munge}/munge.socket",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"StateSaveLocation={state}/slurmctld",
        f"SlurmdSpoolDir={state}/slurmd",
        f"SlurmctldPidFile={state}/slurmctld.pid",
        f"SlurmdPidFile={state}/slurmd.pid",
        f"SlurmctldLogFile={state}/slurmctld.log",
        f"SlurmdLogFile={state}/slurmd.log",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "JobAcctGatherType=jobacct_gather/none",
        "MpiDefault=none",
        "ReturnToService=2",
        "MinJobAge=3600",  # finished jobs stay in squeue for an hour: Snakemake sees them end without sacct
        "GresTypes=gpu",
        f"NodeName={node} CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN",
        f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP",
        f"PartitionName={GPU_PARTITION} Nodes={node} MaxTime=INFINITE State=UP",
        "",
    ])


def _start_munge(state: Path) -> Path:
    """Start the cluster's own munged; its folder (socket, pid, log) is outside ``state``, whose parents (pytest's
    temporary folders) the munge user may not enter. Returns that folder."""
    folder = Path(tempfile.mkdtemp(prefix="xai-study-munge-"))
    shutil.chown(folder, "munge", "munge")
    folder.chmod(0o755)  # munged insists that every client can reach its socket
    (state / "munge").symlink_to(folder)
    _run("munged", ["runuser", "-u", "munge", "--", "munged", f"--socket={folder}/munge.socket",
                    f"--pid-file={folder}/munged.pid", f"--log-file={folder}/munged.log",
                    f"--seed-file={folder}/munged.seed"])
    return folder


def _run(name: str, cmd: list[str], env: dict | None = None) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name} did not start (exit {done.returncode}): {(done.stderr or done.stdout).strip()}")


def _wait_for_idle_node(env: dict, state: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run(["sinfo", "--noheader", "--format=%T"], env=env, capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == "idle":
            return
        time.sleep(0.5)
    logs = {name: (state / name).read_text()[-2000:] for name in ("slurmctld.log", "slurmd.log")
            if (state / name).exists()}
    raise RuntimeError(f"the SLURM node was not idle within {timeout:.0f} s: sinfo says {done.stdout.strip()!r} "
                       f"{done.stderr.strip()}; logs: {logs}")


def _stop(state: Path, munge: Path | None, env: dict) -> None:
    if CONF.exists():
        subprocess.run(["scancel", "--partition", PARTITION], env=env, capture_output=True)
    for path in (state / "slurmd.pid", state / "slurmctld.pid", munge and munge / "munged.pid"):
        if path and path.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                pid = int(path.read_text().strip())
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):  # wait for it to go, so that the next cluster finds its ports free
                    os.kill(pid, 0)
                    time.sleep(0.1)


@contextlib.contextmanager
def cluster(state: Path):
    """Start the cluster with its files under ``state`` (an empty folder) and yield the environment in which
    SLURM's commands (and Snakemake's SLURM executor) talk to it; stop it on the way out."""
    node = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    reason = missing()
    if reason:
        raise RuntimeError(f"cannot start a SLURM cluster here: {reason}")
    env = dict(os.environ)
    env.pop("SLURM_CONF", None)
    munge = None
    try:
        munge = _start_munge(state)
        CONF.parent.mkdir(parents=True, exist_ok=True)
        CONF.write_text(slurm_conf(state, munge, cpus, _memory_mb(), node))
        GRES.write_text(f"{MARK}\nNodeName={node} Name=gpu File=/dev/null\n")
        conf = CONF
        _run("slurmctld", ["slurmctld", "-c", "-f", str(conf)], env)
        _run("slurmd", ["slurmd", "-f", str(conf)], env)
        _wait_for_idle_node(env, state)
        yield env
    finally:
        _stop(state, munge, env)
        CONF.unlink(missing_ok=True)
        GRES.unlink(missing_ok=True)
        if munge:
            shutil.rmtree(munge, ignore_errors=True)
