"""Run a Jupyter kernel for untrusted student code inside a bubblewrap sandbox.

The grading kernel sees a minimal file system: the system's ``/usr``, the
Python installation, the virtual environment and the ``cnn_course`` package,
all read-only; a fresh, size-capped home folder (a tmpfs) that is its only
writable place, holding nothing but the files released with the assignment;
and the folder of its own ZeroMQ sockets. It has no network (a new network
namespace), sees no other process (a new PID namespace), runs as an
unprivileged user id with no capabilities, and has limits on address space,
processes, file size and core dumps. It never sees the notebook being graded:
the grader sends it one cell at a time, so the solutions, the hidden tests,
the gradebook and other students' work are simply not in its world.

The kernel talks to the grader over Unix sockets (ZeroMQ ``ipc`` transport)
in a folder bound into the sandbox at the same path, because a new network
namespace has its own loopback that the grader cannot reach.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Any as AnyTrait

__all__ = [
    "SandboxConfig",
    "SandboxUnavailable",
    "Sandbox",
    "SandboxKernelManager",
    "UnsandboxedKernelManager",
    "check_sandbox",
]

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
PRLIMIT = "/usr/bin/prlimit"
HOME = "/home/student"
NOBODY = 65534
#: Default cap on the kernel's address space.
MEMORY_BYTES = 4 * 2**30
# Environment variables passed through to the kernel; everything else is
# cleared so that nothing of the grader's environment reaches student code.
PASS_ENV_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "LC_")
PASS_ENV = ("LANG", "TZ")


class SandboxUnavailable(RuntimeError):
    """Raised when no sandbox can be had on this machine; the message says why."""


@dataclass
class SandboxConfig:
    """Limits of one sandboxed kernel.

    Parameters
    ----------
    memory_bytes : int
        Cap on the kernel's address space (``RLIMIT_AS``). A student's
        allocation beyond it raises ``MemoryError`` instead of exhausting the
        machine.
    home_bytes : int
        Size of the writable home folder (a tmpfs).
    max_processes : int
        Cap on processes and threads of the sandbox user (``RLIMIT_NPROC``).
    max_file_bytes : int
        Largest file the kernel may write (``RLIMIT_FSIZE``).
    public_files : dict
        ``{name: host_path}`` of files released with the assignment, bound
        read-only into the home folder.
    unsafe : bool
        Run without bubblewrap (an ordinary local kernel with the same
        limits). Only ``cnn-course grade --unsafe`` sets this.
    """

    memory_bytes: int = MEMORY_BYTES
    home_bytes: int = 256 * 2**20
    max_processes: int = 256
    max_file_bytes: int = 64 * 2**20
    public_files: dict[str, str] = field(default_factory=dict)
    unsafe: bool = False


def _ancestors(path: Path) -> list[Path]:
    """``/a/b/c`` -> ``[/a, /a/b]``: the folders bwrap must create first."""
    return list(reversed(path.parents))[1:]


def _read_only_roots() -> list[Path]:
    """Folders the kernel needs to run Python, numpy, torch and cnn_course."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    spec = find_spec("cnn_course")
    if spec is not None and spec.submodule_search_locations:
        roots.add(Path(list(spec.submodule_search_locations)[0]).resolve())
    # /usr holds the system's libraries; skip roots it already covers.
    return sorted(r for r in roots if not r.is_relative_to("/usr"))


class Sandbox:
    """One sandbox: a host folder for the kernel's sockets and the bwrap argv.

    Create one per kernel; call :meth:`cleanup` afterwards.
    """

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        # Short path: Unix socket names are limited to 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="cnnsbx-"))
        self.root.chmod(0o711)
        self.ipc_dir = self.root / "ipc"
        self.ipc_dir.mkdir(mode=0o700)
        self.as_root = os.geteuid() == 0
        if self.as_root and not self.config.unsafe:
            os.chown(self.ipc_dir, NOBODY, NOBODY)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def kernel_streams(self) -> dict:
        """Popen arguments sending the kernel's own stdout/stderr to a log."""
        log = open(self.root / "kernel.log", "wb")  # noqa: SIM115 - Popen keeps it
        return {"stdout": log, "stderr": subprocess.STDOUT}

    def give_to_kernel(self, path: str | os.PathLike) -> None:
        """Make a file the grader wrote readable by the sandbox user."""
        if self.as_root and not self.config.unsafe:
            os.chown(path, NOBODY, NOBODY)

    def environment(self) -> dict[str, str]:
        env = {
            "HOME": HOME,
            "TMPDIR": f"{HOME}/.tmp",
            "MPLCONFIGDIR": f"{HOME}/.matplotlib",
            "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin",
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
        }
        for key, value in os.environ.items():
            if key in PASS_ENV or key.startswith(PASS_ENV_PREFIXES):
                env[key] = value
        return env

    def limits(self) -> list[str]:
        c = self.config
        return [
            PRLIMIT,
            f"--as={c.memory_bytes}",
            f"--nproc={c.max_processes}",
            f"--fsize={c.max_file_bytes}",
            "--core=0",
            "--",
        ]

    def wrap(self, cmd: list[str]) -> list[str]:
        """Return ``cmd`` wrapped so that it runs inside the sandbox."""
        if self.config.unsafe:
            return self.limits() + cmd
        argv = [
            BWRAP,
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "sandbox",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ]
        for key, value in self.environment().items():
            argv += ["--setenv", key, value]
        argv += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
            top = Path("/") / name
            if top.is_symlink():
                argv += ["--symlink", os.readlink(top), str(top)]
            elif top.is_dir():
                argv += ["--ro-bind", str(top), str(top)]
        for name in ("ld.so.cache", "ld.so.conf", "localtime", "fonts"):
            path = Path("/etc") / name
            if path.exists():
                argv += ["--ro-bind", str(path), str(path)]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        made: set[Path] = {Path("/usr")}

        def make_parents(path: Path) -> None:
            for parent in _ancestors(path):
                if parent not in made:
                    argv.extend(["--perms", "0755", "--dir", str(parent)])
                    made.add(parent)

        for root in _read_only_roots():
            make_parents(root)
            argv += ["--ro-bind", str(root), str(root)]
        make_parents(Path(HOME))
        argv += [
            "--perms",
            "1777",
            "--size",
            str(self.config.home_bytes),
            "--tmpfs",
            HOME,
        ]
        for sub in (".tmp", ".matplotlib"):
            argv += ["--perms", "1777", "--dir", f"{HOME}/{sub}"]
        for name, host_path in sorted(self.config.public_files.items()):
            argv += ["--ro-bind", str(host_path), f"{HOME}/{name}"]
        make_parents(self.ipc_dir)
        argv += ["--bind", str(self.ipc_dir), str(self.ipc_dir), "--chdir", HOME]
        if self.as_root:
            # bwrap mounts as root (it can reach /root/.pyenv and friends);
            # setpriv then drops to an unprivileged uid with no capabilities.
            argv += ["--", SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}"]
            argv += ["--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
            argv += ["--no-new-privs"]
        else:
            argv += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
            argv += ["--cap-drop", "ALL"]
        argv += ["--"] + self.limits() + cmd
        return argv


def _kernel_spec() -> KernelSpec:
    return KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3 (grading sandbox)",
        language="python",
        # Interrupt through the control channel: a signal sent to the
        # process group of bwrap would not reach the kernel's own session.
        interrupt_mode="message",
        env={},
    )


class SandboxKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel runs in a :class:`Sandbox`.

    Whatever kernel the notebook names, the kernel is this environment's
    ipykernel; whatever working folder the caller asks for, the kernel's is
    the sandbox home.
    """

    sandbox = AnyTrait(allow_none=True)

    def __init__(self, sandbox: Sandbox, **kwargs):
        kwargs.pop("kernel_name", None)
        super().__init__(kernel_name="", **kwargs)
        self.sandbox = sandbox
        self.transport = "ipc"
        self.ip = str(sandbox.ipc_dir / "k")
        self.connection_file = str(sandbox.ipc_dir / "kernel.json")
        self._kernel_spec = _kernel_spec()

    def format_kernel_cmd(self, extra_arguments=None):
        return self.sandbox.wrap(super().format_kernel_cmd(extra_arguments))

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        self.sandbox.give_to_kernel(self.connection_file)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        kw["cwd"] = str(self.sandbox.root)
        kw["env"] = self.sandbox.environment()
        kw.update(self.sandbox.kernel_streams())
        return await super()._async_launch_kernel(kernel_cmd, **kw)


class UnsandboxedKernelManager(SandboxKernelManager):
    """The same kernel and limits without bubblewrap (``--unsafe``)."""

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        home = self.sandbox.root / "home"
        for sub in ("", ".tmp", ".matplotlib"):
            (home / sub).mkdir(exist_ok=True)
        for name, host_path in self.sandbox.config.public_files.items():
            shutil.copy(host_path, home / name)
        env = dict(os.environ)
        env.update(self.sandbox.environment())
        env.update(HOME=str(home), TMPDIR=str(home / ".tmp"))
        env["MPLCONFIGDIR"] = str(home / ".matplotlib")
        kw["cwd"] = str(home)
        kw["env"] = env
        kw.update(self.sandbox.kernel_streams())
        return await AsyncKernelManager._async_launch_kernel(self, kernel_cmd, **kw)


_PROBE = r"""
import json, os, socket, sys
secret_paths = json.loads(sys.argv[1])
found = {}
found["uid"] = os.getuid()
found["cwd"] = os.getcwd()
found["visible"] = [p for p in secret_paths if os.path.exists(p)]
found["interfaces"] = sorted(name for _, name in socket.if_nameindex())
found["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
try:
    with open("probe.txt", "w") as f:
        f.write("ok")
    found["home_writable"] = True
except OSError:
    found["home_writable"] = False
found["writable_elsewhere"] = []
for d in [os.path.dirname(sys.executable), sys.prefix, "/usr", "/etc", "/"]:
    try:
        with open(os.path.join(d, ".sandbox-probe"), "w"):
            pass
        found["writable_elsewhere"].append(d)
    except OSError:
        pass
import cnn_course
found["imports"] = True
print(json.dumps(found))
"""


def check_sandbox(secret_paths: list[str], config: SandboxConfig | None = None) -> dict:
    """Run a probe in the sandbox; raise :class:`SandboxUnavailable` if unsafe.

    The probe checks what grading relies on: every path in ``secret_paths``
    (solutions, gradebook, submissions, the course folder) is invisible; the
    uid is not root; only the home folder is writable; there is no network
    interface but loopback; no outside process is visible; ``cnn_course``
    imports.

    Returns
    -------
    dict
        What the probe saw, for the report.
    """
    if not Path(BWRAP).exists():
        raise SandboxUnavailable(
            f"{BWRAP} not found: install Debian's 'bubblewrap' package "
            "(apt-get install bubblewrap), or pass --unsafe to grade without "
            "a sandbox, letting student code read the solutions and hidden tests"
        )
    for tool in (SETPRIV, PRLIMIT):
        if not Path(tool).exists():
            raise SandboxUnavailable(f"{tool} not found (Debian package util-linux)")
    sandbox = Sandbox(config)
    try:
        cmd = sandbox.wrap([sys.executable, "-c", _PROBE, json.dumps(secret_paths)])
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=120, cwd=sandbox.root
            )
        except subprocess.TimeoutExpired as err:
            raise SandboxUnavailable("the sandbox probe did not finish") from err
        if proc.returncode != 0:
            raise SandboxUnavailable(
                f"bubblewrap could not start a sandbox (exit {proc.returncode}): "
                f"{proc.stderr.strip()[-800:]}"
            )
        seen = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        sandbox.cleanup()
    problems = []
    if seen["uid"] == 0:
        problems.append("the kernel would run as root")
    if seen["visible"]:
        problems.append(f"the kernel could see {seen['visible']}")
    if not seen["home_writable"]:
        problems.append("the kernel's home folder is not writable")
    if seen["writable_elsewhere"]:
        problems.append(f"the kernel could write to {seen['writable_elsewhere']}")
    if seen["interfaces"] != ["lo"]:
        problems.append(f"the kernel has network interfaces {seen['interfaces']}")
    if len(seen["pids"]) > 3:
        problems.append(f"the kernel can see {len(seen['pids'])} processes")
    if problems:
        raise SandboxUnavailable("the sandbox is not tight: " + "; ".join(problems))
    return seen
