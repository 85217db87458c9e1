"""`make run`: migrate, start Redis, the web server and RQ workers, seed the demo, print the URL.

    python -m mininas_web.launcher [--port N] [--host H] [--demo-search] [--workers N] [--gpus 0,1]

`--workers N` (default 1, or WORKERS) starts N RQ workers on the queues `gpu` and `default`;
they share the candidates of every search. With `--gpus 0,1,...` worker i sees only
GPU gpus[i % len(gpus)] (CUDA_VISIBLE_DEVICES), so two GPUs and `--workers 4` puts two workers
on each; without it every worker sees every GPU the machine has (and picks cuda:0).

REDIS_URL, if set, is used instead of starting a Redis (ours has a generated password); its URL
is written to var/run/redis.url (mode 0600, removed on stop), where the settings of commands
run from other shells find it. PORT (default 8000, a free one if that is taken) and VAR_DIR
(default var/: the logs and Redis's files) are read from the environment too, and the demo
login from the settings (DEMO_USER, DEMO_PASSWORD). This is a development stack: DEBUG=1
unless set otherwise. The web server is Uvicorn
(mininas_web/server.py). Each child runs in its own session and logs to var/log/<name>.log.
Ctrl-C (or SIGTERM) stops them all; if one of them dies, the others are stopped and the
launcher exits non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from mininas_web.redis_server import RedisServer, free_port, masked

BASE_DIR = Path(__file__).resolve().parent.parent
WARM_STOP_SECONDS = 3  # rq finishes a running job on the first SIGTERM; a second one kills it
COLD_STOP_SECONDS = 10
PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>


def django_settings():
    """The settings the children read (the launcher itself reads a few)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mininas_web.settings")
    from django.conf import settings

    return settings


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class Stopped(Exception):
    """SIGINT or SIGTERM arrived."""


class ChildDied(RuntimeError):
    """A child process exited on its own."""


class Stack:
    """Redis, the web server and `workers` RQ workers (0 for none), sharing one environment.

    `env` overrides os.environ for every child (DATABASE_URL, MEDIA_ROOT, ...); DEBUG is 1 unless
    it says otherwise. REDIS_URL in it, if not empty, points at an existing Redis; otherwise one
    is started with its files in `redis_dir`. With `redis_url_file`, Redis's URL is kept there
    while the stack runs. `worker=False` is `workers=0`. With `gpus`, worker i gets
    CUDA_VISIBLE_DEVICES=gpus[i % len(gpus)]. Workers are named worker, worker-2, worker-3, ...
    (their logs: <name>.log).
    """

    def __init__(
        self,
        log_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
        redis_dir: Path | None = None,
        redis_url_file: Path | None = None,
        worker: bool = True,
        workers: int = 1,
        gpus: list[str] | None = None,
    ):
        self.log_dir = Path(log_dir)
        self.port = port
        self.host = host
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mininas_web.settings"}
        self.env.setdefault("DEBUG", "1")  # a development stack
        self.env.update(env or {})
        self.env["PYTHONUNBUFFERED"] = "1"
        self.redis = RedisServer(
            url=self.env.get("REDIS_URL", ""), data_dir=redis_dir, url_file=redis_url_file
        )
        self.workers = workers if worker else 0
        self.gpus = list(gpus or [])
        self.children: dict[str, subprocess.Popen] = {}
        self.seed_output = ""

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, seed: list[str] | None = None, timeout: float = 90) -> None:
        """Redis, migrate, `manage.py seed_demo *seed` (if given), web, worker; wait for them."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # redis-server shares our process group, so a Ctrl-C in the terminal would stop it before
        # the worker and the web server; it inherits a blocked SIGINT and waits for our SIGTERM.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.env["REDIS_URL"] = self.redis.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self.manage("migrate", "--no-input", "-v", "0")
        if seed is not None:
            self.seed_output = self.manage("seed_demo", *seed)
        self.spawn(
            "web",
            [sys.executable, "-m", "mininas_web.server", "--host", self.host,
             "--port", str(self.port)],
        )  # fmt: skip
        for i in range(self.workers):
            env = None
            if self.gpus:
                env = {**self.env, "CUDA_VISIBLE_DEVICES": self.gpus[i % len(self.gpus)]}
            self.spawn(
                worker_name(i),
                [
                    sys.executable,
                    "manage.py",
                    "rqworker",
                    "gpu",
                    "default",
                    "--worker-class",
                    "searchapp.tasks.worker.Worker",
                ],
                env=env,
            )
        self.wait_ready(timeout)

    @property
    def with_worker(self) -> bool:
        return self.workers > 0

    def worker_procs(self) -> list[subprocess.Popen]:
        return [p for name, p in self.children.items() if is_worker(name)]

    def manage(self, *args: str) -> str:
        """Run `manage.py *args` in the stack's environment; its output, or ChildDied with it."""
        proc = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            output = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            raise ChildDied(f"manage.py {' '.join(args)} failed:\n{output}")
        return proc.stdout

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        # Own session: a Ctrl-C in the terminal reaches only us, and we stop children in order.
        with open(self.log(name), "ab") as log:
            self.children[name] = subprocess.Popen(
                args,
                cwd=BASE_DIR,
                env=env or self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def dead_child(self) -> str | None:
        """A message naming a child (or Redis) that has exited, else None."""
        for name, proc in self.children.items():
            if proc.poll() is not None:
                log = self.log(name)
                return f"{name} exited with code {proc.returncode}; end of {log}:\n{tail(log)}"
        if self.redis.process is not None and self.redis.process.poll() is not None:
            return f"redis-server exited with code {self.redis.process.returncode}"
        return None

    def wait_ready(self, timeout: float) -> None:
        """Until the web server answers HTTP and all the workers have registered in Redis."""
        import redis
        from rq import Worker

        deadline = time.monotonic() + timeout
        web, worker = False, not self.with_worker
        conn = redis.Redis.from_url(self.env["REDIS_URL"])
        try:
            while not (web and worker):
                problem = self.dead_child()
                if problem:
                    raise ChildDied(problem)
                if time.monotonic() > deadline:
                    raise ChildDied(f"not ready after {timeout:.0f}s (web={web}, worker={worker})")
                web = web or http_ok(self.url + "/accounts/login/")
                worker = worker or Worker.count(connection=conn) >= self.workers
                time.sleep(0.2)
        finally:
            conn.close()

    def stop(self) -> None:
        """Workers first (they may be running a search), then the web server, then Redis."""
        running = [w for w in self.worker_procs() if w.poll() is None]
        for worker in running:
            signal_group(worker, signal.SIGTERM)
        running = [w for w in running if not wait(w, WARM_STOP_SECONDS)]
        for worker in running:
            signal_group(worker, signal.SIGTERM)  # cold shutdown: rq kills the job's horse
        for worker in running:
            if not wait(worker, COLD_STOP_SECONDS):
                for pid in child_pids(worker.pid):  # the horse has its own process group
                    kill_group(pid)
                signal_group(worker, signal.SIGKILL)
                worker.wait()
        for name, proc in self.children.items():
            if not is_worker(name) and proc.poll() is None:
                signal_group(proc, signal.SIGTERM)
                if not wait(proc, COLD_STOP_SECONDS):
                    signal_group(proc, signal.SIGKILL)
                    proc.wait()
        self.redis.stop()


def worker_name(i: int) -> str:
    """worker, worker-2, worker-3, ... (the first keeps the name a one-worker stack always had)."""
    return "worker" if i == 0 else f"worker-{i + 1}"


def is_worker(name: str) -> bool:
    return name == "worker" or name.startswith("worker-")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def gpu_list(text: str) -> list[str]:
    gpus = [g.strip() for g in text.split(",") if g.strip()]
    if not gpus:
        raise argparse.ArgumentTypeError("a comma-separated list of GPU indices, e.g. 0,1")
    return gpus


def adopt_orphans() -> None:
    """Become the parent of orphaned descendants (Linux), so that stop() can end them.

    rq runs each job in a forked process with its own process group; if the worker dies
    first, that process would otherwise keep training with nobody to stop it.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def stop_orphans() -> None:
    """SIGKILL what adopt_orphans() took in (all our children by now), and reap it."""
    for pid in child_pids(os.getpid()):
        kill_group(pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def kill_group(pid: int) -> None:
    """SIGKILL pid's process group, or pid alone when it shares ours."""
    try:
        group = os.getpgid(pid)
        if group == os.getpgrp():
            os.kill(pid, signal.SIGKILL)
        else:
            os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def child_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait(proc: subprocess.Popen, seconds: float) -> bool:
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _raise_stopped(signum, frame):
    raise Stopped(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mininas_web.launcher", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument(
        "--demo-search", action="store_true", help="also queue a small search on the demo data"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=os.environ.get("WORKERS") or "1",  # argparse applies `type` to it
        help="RQ workers to start on the queues gpu and default (default 1, or WORKERS)",
    )
    parser.add_argument(
        "--gpus",
        type=gpu_list,
        default=None,
        help="comma-separated GPU indices; worker i gets CUDA_VISIBLE_DEVICES=gpus[i %% len]",
    )
    args = parser.parse_args(argv)

    port = args.port
    if not port_is_free(port, args.host):
        port = free_port()
        print(f"port {args.port} is taken; using {port} instead", flush=True)
    adopt_orphans()
    os.environ.setdefault("DEBUG", "1")  # before the settings are read: a development stack
    settings = django_settings()
    var = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")  # logs and Redis's files
    stack = Stack(
        log_dir=var / "log",
        port=port,
        host=args.host,
        redis_dir=var / "redis",
        redis_url_file=settings.RUN_DIR / "redis.url",
        workers=args.workers,
        gpus=args.gpus,
    )
    signal.signal(signal.SIGINT, _raise_stopped)
    signal.signal(signal.SIGTERM, _raise_stopped)
    code = 0
    try:
        print("starting Redis, migrating, seeding the demo data…", flush=True)
        stack.start(seed=["--search"] if args.demo_search else [])
        print(stack.seed_output, end="", flush=True)
        print(
            f"\nMini-NAS web is running at {stack.url}/\n"
            f"  sign in as:  {settings.DEMO_USER} / {settings.DEMO_PASSWORD}\n"
            f"  Redis:       {masked(stack.env['REDIS_URL'])} (in {stack.redis.url_file};"
            " `DEBUG=1 .venv/bin/python manage.py ...` in another shell uses it)\n"
            f"  workers:     {args.workers} on the queues gpu, default"
            + (f" (GPUs {','.join(args.gpus)})" if args.gpus else "")
            + f"\n  logs:        {stack.log('web')}, {stack.log('worker')}"
            + (f" ... {stack.log(worker_name(args.workers - 1)).name}" if args.workers > 1 else "")
            + (f", {stack.redis.data_dir}/redis.log" if stack.redis.process else "")
            + "\nPress Ctrl-C to stop.",
            flush=True,
        )
        while True:
            problem = stack.dead_child()
            if problem:
                raise ChildDied(problem)
            time.sleep(0.5)
    except Stopped:
        print("\nstopping (a running search stops too; start it again to resume)…", flush=True)
    except (ChildDied, RuntimeError) as exc:
        print(f"error: {exc}\nstopping the rest…", file=sys.stderr, flush=True)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        stop_orphans()
    print("stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
