"""A PostgreSQL server and a small tmpfs of a run's own, for faults a shared one must never see.

loadtests/faults.py stops and fills them while Locust runs; the tests (tests/conftest.py's
private_postgres and small_filesystem fixtures) do the same to a live server. Here, not in
tests/, because loadtests/ does not import the tests. Both need root, or the `postgres`
user and CAP_SYS_ADMIN: initdb and postgres refuse to run as root, and only root mounts.
"""
import errno
import os
import pwd
import shutil
import subprocess
from pathlib import Path


class ServiceError(Exception):
    """A private service cannot be made, started or stopped; the message says why."""


def postgres_bindir():
    """The directory of PostgreSQL's server programs (initdb, pg_ctl), or None if they are not installed."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if os.path.exists(os.path.join(bindir, "initdb")):
            return bindir
    # Debian's packages keep initdb and pg_ctl out of PATH.
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return str(found[-1].parent) if found else None


def missing_postgres():
    """Why a PrivatePostgres cannot be made on this machine, saying how to fix it; None when it can."""
    if postgres_bindir() is None:
        return "PostgreSQL's server programs (initdb, pg_ctl) are not installed: apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no `postgres` user to run initdb as (it refuses root)"
    return None


class PrivatePostgres:
    """A PostgreSQL server of its own in `directory` (existing, empty) on `port`, made by initdb, run by pg_ctl.

    Never the shared server on 5432: stopping that would fail everyone else's work. As
    root, its programs run as the `postgres` user, who must be able to reach `directory`.
    """

    def __init__(self, directory, port):
        self.directory = Path(directory)
        self.port = port
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"
        self.bindir = postgres_bindir()
        self.run_as = []
        # Trust on loopback and no fsync: a throwaway server.
        self.options = f"-p {port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"

    def run(self, program, *args):
        result = subprocess.run(
            [*self.run_as, os.path.join(self.bindir, program), *args],
            cwd=self.directory, capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise ServiceError(f"{program} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")

    def create(self):
        if problem := missing_postgres():
            raise ServiceError(problem)
        if os.geteuid() == 0:
            self.run_as = ["runuser", "-u", "postgres", "--"]
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self.run("initdb", "-D", "data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self):
        """Start the server and return once it accepts connections (pg_ctl -w)."""
        self.run("pg_ctl", "-D", "data", "-l", "server.log", "-o", self.options, "-w", "start")

    def stop(self):
        """Stop the server as an operator's restart does: its sessions are ended, their clients told."""
        self.run("pg_ctl", "-D", "data", "-m", "fast", "-w", "stop")

    def restart(self):
        """stop() then start() in one pg_ctl, returning once the server accepts connections again."""
        self.run("pg_ctl", "-D", "data", "-l", "server.log", "-o", self.options, "-m", "fast", "-w", "restart")

    def is_running(self):
        return (self.directory / "data" / "postmaster.pid").exists()


class Tmpfs:
    """A tmpfs of `size` (mount's notation: "2m") mounted on `directory`, to run out of space on."""

    def __init__(self, directory, size):
        self.directory = Path(directory)
        self.size = size
        self.mounted = False

    def mount(self):
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.directory)],
            capture_output=True, text=True,
        )
        if mounted.returncode != 0:
            # A loop-mounted image needs the same privilege (CAP_SYS_ADMIN) as tmpfs.
            raise ServiceError(f"cannot mount a small tmpfs (needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
        self.mounted = True

    def unmount(self):
        result = subprocess.run(["umount", str(self.directory)], capture_output=True, text=True)
        if result.returncode != 0:
            raise ServiceError(f"umount {self.directory} failed: {result.stderr.strip()}")
        self.mounted = False


def fill(path):
    """Write `path` until its file system has no room left."""
    with open(path, "wb", buffering=0) as filler:
        for chunk in (1024 * 1024, 64 * 1024, 4096, 512, 1):
            try:
                while True:
                    filler.write(b"\0" * chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
