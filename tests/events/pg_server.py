"""A throwaway PostgreSQL server on loopback for the tests (initdb + pg_ctl in a temp folder).

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system user
(Debian's package creates it) through ``runuser``. Only TCP on 127.0.0.1 is enabled, with trust
authentication for the loopback user ``abgate``. ``fsync`` is off: the tests check what the store
does, not the disk.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

SKIP_HINT = "Debian: apt-get install postgresql (.ci/run installs it)"


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.parent.name)) or (0,)


def find_bindir() -> Path | None:
    """Folder holding ``initdb`` and ``pg_ctl``: the newest Debian cluster version, else PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version_key)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def can_drop_root() -> bool:
    """Whether the server can be run as the ``postgres`` user (needed when we are root)."""
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return shutil.which("runuser") is not None


def _runner() -> tuple[list[str], str | None]:
    """Command prefix to run the server as a non-root user, and that user (None: ourselves)."""
    if os.geteuid() != 0:
        return [], None
    runuser = shutil.which("runuser")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        runuser = None
    if runuser is None:
        raise RuntimeError("running as root without runuser or a 'postgres' user")
    return [runuser, "-u", "postgres", "--"], "postgres"


@contextlib.contextmanager
def postgres_server(bindir: Path) -> Iterator[str]:
    """Start a server; yields the URL of its ``postgres`` database as user ``abgate``."""
    prefix, user = _runner()
    root = Path(tempfile.mkdtemp(prefix="abgate-pg-"))
    data = root / "data"
    if user is not None:
        shutil.chown(root, user)
    port = free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}{tail}")

    started = False
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "abgate", "-A", "trust", "-E", "UTF8",
            "--no-sync")  # fmt: skip
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
                "unix_socket_directories = ''\nfsync = off\nfull_page_writes = off\n"
            )
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
            "-t", "30", "start")  # fmt: skip
        started = True
        yield f"postgresql://abgate@127.0.0.1:{port}/postgres"
    finally:
        if started:
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def fresh_schema(base_url: str) -> str:
    """A new empty schema on the server; returns a URL whose search path is only that schema."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}".encode())
    return f"{base_url}?options=-csearch_path%3D{name}"
