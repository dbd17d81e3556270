"""A private one-node Slurm cluster for the tests: its own munged, slurmctld and slurmd.

Everything lives in one temporary folder — the MUNGE key and socket, ``slurm.conf`` (commands
and daemons find it through ``SLURM_CONF``), state, spool, pid and log files — and the daemons
listen on ports the kernel picked as free, so a second cluster (another pytest-xdist worker,
another test run, a system Slurm) never meets this one. The daemons run in the foreground as
children of the process that started them, with a parent-death signal: a test run that is
killed outright takes them along (its folder is removed by the next start, :func:`remove_stale`);
:meth:`SlurmCluster.stop` (the fixture's teardown, also run on failure and Ctrl-C) cancels the
jobs, stops the daemons and removes the folder.

Needs root (the daemons run jobs as any user) and Debian's ``slurm-wlm`` and ``munge``
packages; :func:`unavailable` says in words why a cluster cannot start here.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
COMMANDS = ("munge", "sbatch", "squeue", "scancel", "scontrol", "sinfo")
START_TIMEOUT_S = 30.0
PREFIX = "moodflow-slurm-"
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL",
                "DEADLINE", "PREEMPTED"}
_PR_SET_PDEATHSIG = 1


def _find(name: str) -> str | None:
    return shutil.which(name) or next((str(p) for d in ("/usr/sbin", "/sbin") if (p := Path(d) / name).is_file()),
                                      None)


def unavailable() -> str | None:
    """Why a private cluster cannot start here (in words), or None when it can."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "Slurm needs Linux"
    if os.geteuid() != 0:
        return "the private Slurm cluster needs root (its daemons run the jobs)"
    missing = [name for name in DAEMONS + COMMANDS if _find(name) is None]
    if missing:
        return f"Slurm/MUNGE not installed (missing {', '.join(missing)}; apt-get install slurm-wlm munge)"
    return None


def _free_ports(count: int) -> list[int]:
    """Ports that are free now (bound together so they differ, then released)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent() -> None:  # preexec_fn: SIGTERM when the starting process ends
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _memory_mb() -> int:
    """What slurmd will find, a little less (a node declaring more memory than it has is drained)."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.9)


class SlurmCluster:
    """A running private cluster: :meth:`env` for its commands, :meth:`run` to call one."""

    def __init__(self, root: Path, *, cpus: int | None = None):
        self.root = Path(root)
        self.node = socket.gethostname().split(".")[0]
        self.cpus = cpus or os.cpu_count() or 1
        self.conf = self.root / "slurm.conf"
        self.munge_socket = self.root / "munge.sock"
        self._procs: list[subprocess.Popen] = []
        self.started_s = 0.0

    # -- set-up ---------------------------------------------------------------------------------
    def _write_files(self) -> None:
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        key = self.root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        ctld_port, slurmd_port = _free_ports(2)
        r = self.root
        self.conf.write_text(f"""\
ClusterName=moodflowtest
SlurmctldHost={self.node}
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd.log
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
# finished jobs' records stay 4 s (at least 2; up to 4 sbatch --wait polls every 2 s, beyond it
# waits 2, 8, then 32 s between polls)
MinJobAge=4
KillWait=5
NodeName={self.node} CPUs={self.cpus} RealMemory={_memory_mb()} State=UNKNOWN
PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.root / f"{name}.out", "wb")  # noqa: SIM115 - closed by the process's end
        self._procs.append(subprocess.Popen([_find(name), *args], stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, env=self.env(), preexec_fn=_die_with_parent,
                                            cwd=self.root))
        log.close()

    def start(self) -> "SlurmCluster":
        """Write the files, start the three daemons and wait until the node is idle."""
        t0 = time.monotonic()
        self._write_files()
        r = self.root
        self._spawn("munged", "-F", "--force", f"--key-file={r}/munge.key", f"--socket={self.munge_socket}",
                    f"--pid-file={r}/munged.pid", f"--log-file={r}/munged.log", f"--seed-file={r}/munged.seed")
        self._wait(lambda: self.munge_socket.exists(), "munged did not create its socket", "munged.out")
        self._spawn("slurmctld", "-D", "-i")
        self._spawn("slurmd", "-D", "-N", self.node)
        self._wait(lambda: self.node_state() == "idle", "the node did not become idle", "slurmctld.log")
        self.started_s = time.monotonic() - t0
        return self

    def _wait(self, ready, what: str, log_name: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            dead = [p for p in self._procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                log = self.root / log_name
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"private Slurm cluster in {self.root}: {what}"
                                   f"{' (a daemon exited)' if dead else ''}:\n{tail}")
            time.sleep(0.05)

    # -- use ------------------------------------------------------------------------------------
    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) with ``SLURM_CONF`` naming this cluster."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        for stale in [k for k in env if k.startswith(("SLURM_JOB", "SLURM_ARRAY", "SBATCH_"))]:
            del env[stale]  # a run inside a Slurm job must not submit into that job's context
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a Slurm command (``squeue``, ``scontrol`` …) against this cluster."""
        proc = subprocess.run(list(args), env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def node_state(self) -> str:
        proc = self.run("sinfo", "-h", "-N", "-o", "%T", check=False, timeout=10)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def jobs(self, job_id: str | None = None) -> list[str]:
        """Ids of the jobs (array tasks as ``<job>_<task>``) still pending or running."""
        args = ["squeue", "-h", "-r", "-o", "%i"] + (["-j", str(job_id)] if job_id else [])
        return self.run(*args).stdout.split()

    def job_fields(self, job_id: str) -> list[dict[str, str]]:
        """``scontrol show job`` of a job (one dict per array task), fields by name."""
        out = self.run("scontrol", "-o", "show", "job", str(job_id)).stdout
        return [dict(f.split("=", 1) for f in line.split() if "=" in f) for line in out.splitlines() if line.strip()]

    def wait_for(self, job_id: str, timeout_s: float = 300) -> list[dict[str, str]]:
        """Wait until every task of ``job_id`` has ended; their final fields (read while Slurm
        still holds the records: it drops them ``MinJobAge`` seconds after the end)."""
        deadline = time.monotonic() + timeout_s
        while True:
            fields = self.job_fields(job_id)
            if all(f.get("JobState") in FINAL_STATES for f in fields):
                return fields
            if time.monotonic() > deadline:
                raise TimeoutError(f"Slurm job {job_id} still running after {timeout_s:.0f} s: {fields}")
            time.sleep(0.2)

    # -- tear-down ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel every job, stop the daemons (by their process, then SIGKILL), remove the folder."""
        try:
            if any(p.poll() is None for p in self._procs):
                subprocess.run([_find("scancel"), "--quiet", "--partition=debug"], env=self.env(),
                               capture_output=True, timeout=10, check=False)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and self._running_jobs():
                    time.sleep(0.2)
        except (OSError, subprocess.SubprocessError):
            pass
        for proc in reversed(self._procs):  # slurmd, slurmctld, then munged
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def _running_jobs(self) -> bool:
        try:
            return bool(self.jobs())
        except (RuntimeError, subprocess.SubprocessError):
            return False


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
        return True
    except (OSError, ValueError, IndexError):
        return False


def remove_stale(parent: Path, min_age_s: float = 600) -> None:
    """Remove the folders of private clusters whose run was killed outright (their daemons died
    with it, the folder stayed): no live munged, untouched for ``min_age_s``."""
    for folder in parent.glob(f"{PREFIX}*"):
        try:
            if time.time() - folder.stat().st_mtime > min_age_s and not _alive(folder / "munged.pid"):
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def start_cluster(cpus: int | None = None) -> SlurmCluster:
    """A started private cluster in a new temporary folder (short: the MUNGE socket path is
    limited to ~100 bytes); stopped and removed again if it fails to start."""
    remove_stale(Path(tempfile.gettempdir()))
    cluster = SlurmCluster(Path(tempfile.mkdtemp(prefix=PREFIX)), cpus=cpus)
    try:
        return cluster.start()
    except BaseException:
        cluster.stop()
        raise
