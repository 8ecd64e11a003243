"""The box a student's kernel runs in: bubblewrap, limits, what it can import.

The kernel sees a minimal file system: the system's ``/usr``, the Python
installation's standard library, the virtual environment and a *student
edition* of ``cnn_course``, all read-only; a fresh, size-capped home folder
(a tmpfs) holding only the files released with the assignment; and the
folder of its ZeroMQ sockets, which is locked read-only once the kernel has
made its sockets. It has no network, sees no other process, runs as an
unprivileged user id with no capabilities, and has limits on address space,
processes, file size and core dumps. A watchdog in the grader adds up the
resident memory of the kernel's whole process tree and stops it past the
cap (a fork-based memory bomb slips under a per-process limit).

**What it can import** is fixed before any student code runs, by what is in
its file system (:func:`student_edition`, :func:`blocked_paths`): the
student edition of ``cnn_course`` has stubs in place of the reference
modules (:data:`cnn_course.course.REFERENCE_MODULES`), and each module an
assignment blocks (``torch``, ``scipy.signal``, ...; declared in
:mod:`cnn_course.course`) is replaced by a stub package that raises
``ImportError`` with the reason. Other Python installations' package
folders are hidden, so no second copy can be reached through ``sys.path``.

The kernel never sees the notebook being graded, the solutions, the hidden
tests, the gradebook or other students' work: they are not in its world.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Any as AnyTrait

from ..course import REFERENCE_MODULES
from ..course import assignment as find_assignment

__all__ = [
    "SandboxConfig",
    "SandboxUnavailable",
    "Sandbox",
    "SandboxKernelManager",
    "UnsandboxedKernelManager",
    "MemoryWatchdog",
    "CgroupLimit",
    "check_sandbox",
    "student_edition",
    "blocked_paths",
    "MEMORY_BYTES",
    "BLOCKED_PREFIX",
    "pick_uid",
]

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
PRLIMIT = "/usr/bin/prlimit"
HOME = "/home/student"
NOBODY = 65534
# The interpreter the kernel runs: this one, by an absolute path (the
# sandbox starts in another folder), keeping the virtual environment's link.
PYTHON = os.path.abspath(sys.executable)
#: Default cap on the memory of the kernel's process tree.
MEMORY_BYTES = 4 * 2**30
#: Every "cannot import this while grading" message starts with this.
BLOCKED_PREFIX = "GUARD:"
# Environment variables passed through to the kernel; everything else is
# cleared so that nothing of the grader's environment reaches student code.
PASS_ENV_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "LC_")
PASS_ENV = ("LANG", "TZ")


def _uids_in_use() -> set[int]:
    used = set()
    for status in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        used.update(int(x) for x in line.split()[1:])
                        break
        except (OSError, ValueError):
            continue
    return used


def pick_uid(slot: int = 0) -> int:
    """An unprivileged user id that no running process has.

    ``RLIMIT_NPROC`` counts every process of a user id on the machine, so
    two grading runs (or two jobs of one run) sharing an id would share one
    process budget, and one student's fork bomb would starve another's
    kernel. Each gets its own id above the range of real users.
    """
    used = _uids_in_use()
    start = 200_000 + (os.getpid() % 50_000) * 16 + slot
    uid = start
    while uid in used:
        uid += 50_000 * 16
    return uid


class SandboxUnavailable(RuntimeError):
    """Raised when no sandbox can be had on this machine; the message says why."""


@dataclass
class SandboxConfig:
    """Limits of one sandboxed kernel.

    Parameters
    ----------
    memory_bytes : int
        Cap on the resident memory of the kernel's whole process tree
        (watched from outside) and on each process's address space
        (``RLIMIT_AS``): a big allocation raises ``MemoryError``, many forked
        processes get the tree stopped.
    home_bytes : int
        Size of the writable home folder (a tmpfs).
    max_processes : int
        Cap on processes and threads of the sandbox's user id
        (``RLIMIT_NPROC``).
    max_file_bytes : int
        Largest file the kernel may write (``RLIMIT_FSIZE``).
    public_files : dict
        ``{name: host_path}`` of files released with the assignment, bound
        read-only into the home folder.
    assignment : str or None
        Whose import blocks apply (see :mod:`cnn_course.course`).
    uid : int
        The unprivileged user id the kernel runs as; concurrent sandboxes
        get different ones, so that one's processes never count against
        another's process limit.
    unsafe : bool
        Run without bubblewrap (an ordinary local kernel with the same
        limits and watchdog). Only ``cnn-course grade --unsafe`` sets this.
    """

    memory_bytes: int = MEMORY_BYTES
    home_bytes: int = 256 * 2**20
    max_processes: int = 64
    max_file_bytes: int = 64 * 2**20
    public_files: dict[str, str] = field(default_factory=dict)
    assignment: str | None = None
    uid: int = NOBODY
    unsafe: bool = False


# -- what the kernel can import ------------------------------------------------


def _blocked_message(module: str, assignment_name: str | None, why: str) -> str:
    where = f"while {assignment_name} is graded" if assignment_name else "here"
    return (
        f"{BLOCKED_PREFIX} {module} is not available {where}: {why}. "
        "NumPy's arithmetic, slicing, np.pad and np.einsum are."
    )


def _why(assignment_name: str | None) -> tuple[tuple[str, ...], str]:
    try:
        a = find_assignment(assignment_name or "")
        return a.blocked, a.why
    except KeyError:
        return ("torch", "scipy.signal", "scipy.ndimage"), (
            "the exercise asks you to write the computation yourself"
        )


_STUB = '''"""Not available in the grading sandbox."""
raise ImportError({message!r})
'''

_EDITION_INIT = '''"""cnn_course as a graded kernel of {assignment} sees it.

The reference modules are not here: {why}.
"""

__version__ = {version!r}
_AVAILABLE = ("grading", "tables", "exercise_data", "course")


def __getattr__(name):
    import importlib

    if name in _AVAILABLE:
        return importlib.import_module(f"{{__name__}}.{{name}}")
    if name == "Table":
        from .tables import Table

        return Table
    raise AttributeError({message_head!r} + f"cc.{{name}}" + {message_tail!r})
'''

# Files of the package a student's kernel keeps (besides the stubs).
_EDITION_FILES = (
    "_checks.py",
    "course.py",
    "grading.py",
    "tables.py",
    "exercise_data.py",
    "autograde/agent.py",
    "autograde/channel.py",
)
_EDITION_DATA = ("data",)


def student_edition(dest: Path, assignment_name: str | None) -> Path:
    """Write the student edition of ``cnn_course`` into ``dest/cnn_course``.

    It keeps what a student's code and the channel's agent need, and puts a
    stub that raises ``ImportError`` in place of each reference module.
    """
    import cnn_course

    source = Path(cnn_course.__file__).parent
    package = Path(dest) / "cnn_course"
    (package / "autograde").mkdir(parents=True, exist_ok=True)
    for name in _EDITION_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, package / name)
    for name in _EDITION_DATA:
        if (source / name).is_dir():
            shutil.copytree(source / name, package / name, dirs_exist_ok=True)
    (package / "autograde" / "__init__.py").write_text(
        '"""The channel\'s agent (the rest of autograde is the grader\'s)."""\n'
    )
    _, why = _why(assignment_name)
    for module in REFERENCE_MODULES:
        message = _blocked_message(f"cnn_course.{module}", assignment_name, why)
        (package / f"{module}.py").write_text(_STUB.format(message=message))
    head, tail = _blocked_message("\0", assignment_name, why).split("\0")
    (package / "__init__.py").write_text(
        _EDITION_INIT.format(
            assignment=assignment_name or "an assignment",
            why=why,
            version=getattr(cnn_course, "__version__", "0"),
            message_head=head,
            message_tail=tail,
        )
    )
    return package


def _module_dir(name: str) -> Path | None:
    """Where the package ``name`` (``scipy.signal``) lives, without importing it."""
    top, _, rest = name.partition(".")
    spec = find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0])
    for part in rest.split(".") if rest else ():
        path = path / part
    return path if path.is_dir() else None


def foreign_package_dirs() -> list[Path]:
    """Package folders of other Python installations, hidden from the kernel."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        Path(sys.base_prefix) / "lib" / version / "site-packages",
        Path("/usr/lib/python3/dist-packages"),
        Path(f"/usr/lib/{version}/dist-packages"),
        Path(f"/usr/local/lib/{version}/dist-packages"),
        Path(f"/usr/local/lib/{version}/site-packages"),
    ]
    own = Path(sys.prefix).resolve()
    return [
        p.resolve()
        for p in candidates
        if p.is_dir() and not p.resolve().is_relative_to(own)
    ]


def blocked_paths(dest: Path, assignment_name: str | None) -> dict[str, str]:
    """``{host package folder: stub folder}`` for each module the assignment blocks."""
    blocked, why = _why(assignment_name)
    out = {}
    for module in blocked:
        folder = _module_dir(module)
        if folder is None:
            continue
        stub = Path(dest) / "blocked" / module.replace(".", "_")
        stub.mkdir(parents=True, exist_ok=True)
        (stub / "__init__.py").write_text(
            _STUB.format(message=_blocked_message(module, assignment_name, why))
        )
        out[str(folder.resolve())] = str(stub)
    return out


# -- the box -------------------------------------------------------------------


def _ancestors(path: Path) -> list[Path]:
    """``/a/b/c`` -> ``[/a, /a/b]``: the folders bwrap must create first."""
    return list(reversed(path.parents))[1:]


def _package_dir() -> Path:
    spec = find_spec("cnn_course")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def _read_only_roots() -> list[Path]:
    """Folders the kernel needs to run Python, NumPy and the course package."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
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
            os.chown(self.ipc_dir, self.config.uid, self.config.uid)
        self.edition = student_edition(self.root / "edition", self.config.assignment)
        self.blocked = blocked_paths(self.root / "edition", self.config.assignment)
        self.empty = self.root / "empty"
        self.empty.mkdir()
        (self.root / "edition").chmod(0o755)
        for path in (self.root / "edition").rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        self._log = None

    def cleanup(self) -> None:
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def kernel_streams(self) -> dict:
        """Popen arguments sending the kernel's own stdout/stderr to a log.

        The file's size is capped by the kernel's ``RLIMIT_FSIZE``.
        """
        self._log = open(self.root / "kernel.log", "wb")  # noqa: SIM115
        return {"stdout": self._log, "stderr": subprocess.STDOUT}

    def give_to_kernel(self, path: str | os.PathLike) -> None:
        """Make a file the grader wrote readable by the sandbox user."""
        if self.as_root and not self.config.unsafe:
            os.chown(path, self.config.uid, self.config.uid)

    def lock_sockets(self) -> None:
        """Once the kernel has made its sockets, it may not write there again.

        The socket folder is on the grader's disk; left writable, it would
        let student code fill that disk.
        """
        if self.as_root and not self.config.unsafe:
            os.chown(self.ipc_dir, 0, 0)
            self.ipc_dir.chmod(0o755)

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
        argv += ["--perms", "0755", "--dir", "/etc"]
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
        # Other installations' packages: hidden (no second copy of a blocked
        # module through sys.path); blocked modules: stubs; the course
        # package: the student edition.
        for folder in foreign_package_dirs():
            argv += ["--ro-bind", str(self.empty), str(folder)]
        for folder, stub in sorted(self.blocked.items()):
            argv += ["--ro-bind", stub, folder]
        package = _package_dir()
        make_parents(package)
        argv += ["--ro-bind", str(self.edition), str(package)]
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
        uid = str(self.config.uid)
        if self.as_root:
            # bwrap mounts as root (it can reach /root/.pyenv and friends);
            # setpriv then drops to an unprivileged uid with no capabilities.
            argv += ["--", SETPRIV, f"--reuid={uid}", f"--regid={uid}"]
            argv += ["--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
            argv += ["--no-new-privs"]
        else:
            argv += ["--unshare-user", "--uid", uid, "--gid", uid]
            argv += ["--cap-drop", "ALL"]
        argv += ["--"] + self.limits() + cmd
        return argv


# -- memory of the whole process tree ------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat, "rb") as f:
                text = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: split after the last ")"
        fields = text[text.rfind(b")") + 2 :].split()
        try:
            pid, ppid = int(stat.split("/")[2]), int(fields[1])
        except (IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(pid)
    return tree


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    tree = _children()
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(tree.get(p, ()))
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class MemoryWatchdog:
    """Stop a process tree whose resident memory adds up to more than a cap.

    ``RLIMIT_AS`` caps each process; a student's code that forks many
    processes would slip under it. The watchdog polls the tree from the
    grader's side and kills all of it past ``cap_bytes``; ``tripped`` then
    says so, with the peak seen.
    """

    def __init__(self, pid: int, cap_bytes: int, interval: float = 0.05):
        self.pid = pid
        self.cap = cap_bytes
        self.interval = interval
        self.tripped = False
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            pids = descendants(self.pid)
            total = sum(_rss(p) for p in pids)
            self.peak = max(self.peak, total)
            if total > self.cap:
                self.tripped = True
                for p in reversed(pids):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class CgroupLimit:
    """A cgroup v2 memory limit on a process tree, where the machine allows it.

    The kernel's processes are moved into ``/sys/fs/cgroup/cnn-course/<name>``
    with ``memory.max`` set to the cap and no swap, before any student code
    runs; the processes they start inherit the group. Where there is no
    cgroup v2 memory controller to use (cgroup v1, no root), :meth:`create`
    returns None and the :class:`MemoryWatchdog` alone keeps the cap.
    """

    ROOT = Path("/sys/fs/cgroup")

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, name: str, cap_bytes: int) -> CgroupLimit | None:
        try:
            controllers = (cls.ROOT / "cgroup.controllers").read_text().split()
            if "memory" not in controllers:
                return None
            parent = cls.ROOT / "cnn-course"
            parent.mkdir(exist_ok=True)
            if "memory" not in (parent / "cgroup.subtree_control").read_text():
                (parent / "cgroup.subtree_control").write_text("+memory")
            path = parent / name
            path.mkdir()
            (path / "memory.max").write_text(str(int(cap_bytes)))
            if (path / "memory.swap.max").exists():
                (path / "memory.swap.max").write_text("0")
            return cls(path)
        except OSError:
            return None

    def add_tree(self, pid: int) -> None:
        for p in descendants(pid):
            try:
                (self.path / "cgroup.procs").write_text(str(p))
            except OSError:
                pass  # a process that ended meanwhile

    def oom_killed(self) -> bool:
        try:
            for line in (self.path / "memory.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def close(self) -> None:
        try:
            if (self.path / "cgroup.kill").exists():
                (self.path / "cgroup.kill").write_text("1")
            for _ in range(50):
                try:
                    self.path.rmdir()
                    return
                except OSError:
                    time.sleep(0.05)
        except OSError:
            pass


# -- the kernel ----------------------------------------------------------------


def _kernel_spec() -> KernelSpec:
    return KernelSpec(
        argv=[PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
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
    the sandbox home. Its ZeroMQ context caps the size of one message and
    the number queued, so that the grader's memory stays bounded whatever
    the kernel sends.
    """

    sandbox = AnyTrait(allow_none=True)
    max_message_bytes = 64 * 2**20

    def __init__(self, sandbox: Sandbox, **kwargs):
        kwargs.pop("kernel_name", None)
        super().__init__(kernel_name="", **kwargs)
        self.sandbox = sandbox
        self.transport = "ipc"
        self.ip = str(sandbox.ipc_dir / "k")
        self.connection_file = str(sandbox.ipc_dir / "kernel.json")
        self._kernel_spec = _kernel_spec()

    def _context_default(self):
        import zmq
        import zmq.asyncio

        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        context.setsockopt(zmq.RCVHWM, 64)
        return context

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

    @property
    def kernel_pid(self) -> int | None:
        process = getattr(self.provisioner, "process", None)
        return getattr(process, "pid", None)


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
        # no bwrap to hide files: the student edition comes first on the path
        env["PYTHONPATH"] = str(self.sandbox.edition.parent)
        kw["cwd"] = str(home)
        kw["env"] = env
        kw.update(self.sandbox.kernel_streams())
        return await AsyncKernelManager._async_launch_kernel(self, kernel_cmd, **kw)


# -- the probe -----------------------------------------------------------------

_PROBE = r"""
import json, os, socket, sys
secret_paths, blocked = json.loads(sys.argv[1]), json.loads(sys.argv[2])
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
for d in [os.path.dirname(sys.executable), sys.prefix, "/usr", "/etc", "/",
          os.path.dirname(os.path.dirname(os.__file__))]:
    try:
        with open(os.path.join(d, ".sandbox-probe"), "w"):
            pass
        found["writable_elsewhere"].append(d)
    except OSError:
        pass
import importlib
found["importable"] = []
for name in blocked:
    try:
        importlib.import_module(name)
        found["importable"].append(name)
    except ImportError:
        pass
import cnn_course.grading, cnn_course.autograde.agent
found["imports"] = True
print(json.dumps(found))
"""


def check_sandbox(secret_paths: list[str], config: SandboxConfig | None = None) -> dict:
    """Run a probe in the sandbox; raise :class:`SandboxUnavailable` if unsafe.

    The probe checks what grading relies on: every path in ``secret_paths``
    (solutions, gradebook, submissions, the course folder) is invisible; the
    uid is not root; only the home folder is writable; there is no network
    interface but loopback; no outside process is visible; every module the
    assignment blocks fails to import; the course's grading helpers import.

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
    config = config or SandboxConfig()
    blocked, _ = _why(config.assignment)
    blocked = [*blocked, *(f"cnn_course.{m}" for m in REFERENCE_MODULES)]
    sandbox = Sandbox(config)
    try:
        cmd = sandbox.wrap(
            [
                PYTHON,
                "-c",
                _PROBE,
                json.dumps(secret_paths),
                json.dumps(blocked),
            ]
        )
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
    if seen["importable"]:
        problems.append(f"the kernel could import {seen['importable']}")
    if problems:
        raise SandboxUnavailable("the sandbox is not tight: " + "; ".join(problems))
    return seen


def wait_for(predicate, timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
