"""One GPU check: the engine's speed figures, a whole search, the parallel search, the product.

Run it through bench/gpu_check.sh (which picks the Python); see bench/README.md. Steps, each a
subprocess with a time limit, each reported in the JSON with its figures or its error:

  train_speed      bench/train_speed.py --device cuda
  time_to_accuracy bench/time_to_accuracy.py DATA --device cuda
  search           python -m searchapp.nas search DATA --parallel 1 (a whole CLI search)
  parallel         the same search with --parallel 8, against the search above: wall time,
                   speed-up, and whether the final architecture and accepted set are the same
  stack            (--stack) bench/gpu_stack.py in a venv with the web dependencies: Redis, one
                   worker and the web server, a search through the API on DATA, on cuda

--smoke runs all of it on the CPU with tiny settings (and a generated 16 px npz unless --data),
so that the script is known to work before a GPU is at hand. The engine steps import only
torch, torchvision, numpy, pillow and searchapp.nas; the stack step needs the venv.
Prints one JSON object on stdout (progress on stderr); exit status 0 when no step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import site
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / "gpu_carry"
DATA_NAME = "cifar10_airplane_automobile.npz"

# The stack step's search: enough candidates to check the plumbing, not a full search.
STACK_SETTINGS = {"max_depth": 5, "epochs": 5, "final_epochs": 0}
SMOKE_SEARCH = [
    "--min-depth", "1", "--max-depth", "2", "--max-width", "8", "--min-width", "4",
    "--width-step", "4", "--epochs", "1", "--kernels", "3,5", "--final-epochs", "0",
]  # fmt: skip
SMOKE_STACK = {
    "min_depth": 1, "max_depth": 2, "max_width": 8, "min_width": 4, "width_step": 4,
    "epochs": 1, "kernels": [3], "final_epochs": 0,
}  # fmt: skip


RUN_ENV: dict[str, str] = {}  # --smoke: OMP_NUM_THREADS=1 for every step
ENGINE_STEPS = ("train_speed", "time_to_accuracy", "search", "parallel")


def log(msg: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class StepError(RuntimeError):
    pass


def run(cmd: list[str], timeout: float, env: dict | None = None) -> str:
    """stdout of `cmd` (stderr passes through to ours); StepError on failure or time-out."""
    log("$ " + " ".join(cmd))
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or RUN_ENV)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a time-out ends the whole group (dataloader/parallel children)
    )
    try:
        out, err = proc.communicate(timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise StepError(f"timed out after {timeout:.0f}s; stderr: {tail(err)}") from None
    if err:
        sys.stderr.write(err)
    if proc.returncode != 0:
        raise StepError(f"exit {proc.returncode}: {tail(err or out)}")
    return out


def tail(text: str, lines: int = 6) -> str:
    return " | ".join((text or "").strip().splitlines()[-lines:])


def last_json(text: str) -> dict:
    start = text.find("{")
    if start < 0:
        raise StepError(f"no JSON on stdout: {tail(text)}")
    return json.loads(text[start:])


def pick(d: dict, *keys: str) -> dict:
    return {k: d[k] for k in keys if k in d}


class Check:
    def __init__(self, args):
        self.args = args
        self.py = sys.executable
        self.t0 = time.monotonic()
        self.work = Path(args.work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.device = "cpu" if args.smoke else "cuda"
        self.summary: dict = {
            "mode": "smoke" if args.smoke else "full",
            "device": self.device,
            "python": platform.python_version(),
            "host": platform.node(),
        }
        self.failed: list[str] = []

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def step(self, name: str, fn, seconds: float) -> None:
        """Run fn(timeout) -> dict into summary[name]; its error instead if it fails."""
        t = time.monotonic()
        timeout = min(seconds, self.left())
        log(f"{name} (limit {timeout:.0f}s)")
        try:
            if timeout < 5:
                raise StepError("no time left in the budget")
            result = fn(timeout)
        except (StepError, OSError, ValueError, KeyError) as exc:
            result = {"error": str(exc)}
        if "error" in result:
            self.failed.append(name)
            log(f"{name} FAILED: {result['error']}")
        result["step_seconds"] = round(time.monotonic() - t, 1)
        self.summary[name] = result

    # -- data ------------------------------------------------------------------------

    def data(self) -> Path:
        if self.args.data:
            return Path(self.args.data).resolve()
        if self.args.smoke:
            return self.tiny_npz()
        for candidate in (CARRY / DATA_NAME, ROOT.parent / "shared" / "data" / DATA_NAME):
            if candidate.is_file():
                return candidate
        raise SystemExit(f"no {DATA_NAME}: pass --data, or run bench/prepare_gpu_carry.sh")

    def tiny_npz(self) -> Path:
        """A 2-class 8 px npz whose classes are visible (stripes), 24 + 6 images per class."""
        import numpy as np

        from searchapp.nas.data import ImageData

        rng = np.random.default_rng(0)
        side = 8
        yy, xx = np.mgrid[0:side, 0:side]
        xs, ys = [], []
        for label, base in enumerate(((yy // 2) % 2, (xx // 2) % 2)):
            for _ in range(30):
                img = base[..., None] * rng.integers(60, 255, 3) + rng.normal(
                    0, 20, (side, side, 3)
                )
                xs.append(np.clip(img + 20, 0, 255).astype(np.uint8))
                ys.append(label)
        x, y = np.stack(xs), np.array(ys, np.int64)
        test = np.arange(len(y)) % 5 == 0
        path = self.work / "tiny.npz"
        ImageData(x[~test], y[~test], x[test], y[test], ["h", "v"], source="gpu_check").save_npz(
            path
        )
        return path

    # -- engine steps ------------------------------------------------------------------

    def train_speed(self, timeout: float) -> dict:
        extra = ["--images", "20", "--epochs", "1", "--threads", "1"] if self.args.smoke else []
        out = last_json(
            run([self.py, "bench/train_speed.py", "--device", self.device, *extra], timeout)
        )
        return pick(
            out, "device", "device_name", "conventional_images_per_s", "fast_images_per_s",
            "speedup", "images", "epochs",
        ) or out  # fmt: skip

    def time_to_accuracy(self, timeout: float) -> dict:
        extra = ["--target", str(self.args.target)]
        if self.args.smoke:
            extra = ["--paper-epochs", "1", "--fast-epochs", "1", "--no-warmup", "--threads", "1"]
        cmd = [self.py, "bench/time_to_accuracy.py", str(self.data_path), "--device", self.device]
        out = last_json(run(cmd + extra, timeout))
        res = pick(out, "seconds_ratio_paper_over_fast", "test_acc_fast_minus_paper")
        for recipe in ("paper", "fast"):
            if isinstance(out.get(recipe), dict):
                res[recipe] = pick(
                    out[recipe], "test_acc", "best_test_acc", "seconds", "epochs_run",
                    "batch_size", "target_reached",
                )  # fmt: skip
        return res or out

    def has_parallel(self) -> bool:
        try:
            return "--parallel" in run([self.py, "-m", "searchapp.nas", "search", "--help"], 60)
        except StepError:
            return False

    def search(self, parallel: int | None, timeout: float) -> dict:
        out_dir = self.work / f"search-p{parallel or 0}"
        shutil.rmtree(out_dir, ignore_errors=True)
        cmd = [self.py, "-m", "searchapp.nas", "search", str(self.data_path), "--out", str(out_dir)]
        cmd += ["--device", self.device] + (SMOKE_SEARCH if self.args.smoke else [])
        if parallel is not None:
            cmd += ["--parallel", str(parallel)]
        t = time.monotonic()
        run(cmd, timeout)
        wall = time.monotonic() - t
        result = json.loads((out_dir / "result.json").read_text())
        cands = result.get("candidates") or []
        best = result.get("best") or {}
        trained = [c for c in cands if c.get("status") in ("ok", "diverged")]
        summary = {
            "parallel": parallel or 1,
            "wall_seconds": round(wall, 1),  # the whole command: data load, search, final, export
            "search_wall_seconds": result.get("wall_seconds"),
            "train_seconds": result.get("train_seconds"),
            "candidates": len(cands),
            "speculative": sum(bool(c.get("speculative")) for c in cands),
            "devices": sorted({c.get("device", "") for c in trained}),
            "best": pick(best, "arch", "params", "macs", "test_acc", "val_acc"),
            "final": pick(result.get("final") or {}, "test_acc", "epochs", "seconds"),
            "exports": {
                k: (v if "error" in v else pick(v, "bytes", "test_acc"))
                for k, v in (result.get("exports") or {}).items()
                if isinstance(v, dict)
            },
        }
        images = _trained_images(result, trained)
        if images and result.get("wall_seconds"):
            summary["candidate_images_per_s"] = round(images / result["wall_seconds"])
        self._decisions[parallel or 1] = _decisions(result)
        return summary

    def parallel(self, timeout: float) -> dict:
        if not self._has_parallel:
            return {"error": "`python -m searchapp.nas search` has no --parallel option here"}
        n = self.args.parallel
        res = {f"n{n}": self.search(n, timeout)}
        base = self.summary.get("search", {})
        if "error" in base:
            res["compare"] = {"error": "no N=1 search to compare with: " + base["error"]}
            return res
        res["n1_wall_seconds"] = base["wall_seconds"]
        res[f"n{n}_wall_seconds"] = res[f"n{n}"]["wall_seconds"]
        if res[f"n{n}"]["wall_seconds"]:
            res["speedup"] = round(base["wall_seconds"] / res[f"n{n}"]["wall_seconds"], 2)
        one, many = self._decisions.get(1), self._decisions.get(n)
        res["same_architecture"] = one is not None and one["best"] == many["best"]
        res["same_accepted"] = one is not None and one["accepted"] == many["accepted"]
        if not (res["same_architecture"] and res["same_accepted"]):
            res["error"] = f"--parallel {n} took other decisions than --parallel 1"
        return res

    # -- the product ---------------------------------------------------------------------

    def venv_python(self, timeout: float) -> tuple[str, dict]:
        """The Python of a venv with the web dependencies: given, or built from the wheels."""
        given = self.args.venv or os.environ.get("GPU_CHECK_VENV")
        if given:
            return str(Path(given).resolve() / "bin" / "python"), {
                "venv": given,
                "installed": False,
            }
        wheels = Path(self.args.wheels).resolve()
        reqs = wheels / "requirements-gpu.txt"
        if not reqs.is_file():
            raise StepError(f"no {reqs}: run bench/prepare_gpu_carry.sh here first")
        venv = self.work / "venv"
        t = time.monotonic()
        vpy = str(venv / "bin" / "python")
        pip = [vpy, "-m", "pip"]
        if not (venv / "bin" / "python").exists():
            try:
                run([self.py, "-m", "venv", "--system-site-packages", str(venv)], 120)
            except StepError:  # no ensurepip (Debian's python3-venv missing): our pip installs
                shutil.rmtree(venv, ignore_errors=True)
                run(
                    [self.py, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
                    60,
                )
        if not (venv / "bin" / "pip").exists():
            pip = [self.py, "-m", "pip", "--python", vpy]
        # When this Python is itself a venv (the CUDA image's python3 is), --system-site-packages
        # reaches only the base interpreter's packages: a .pth adds ours (torch) after the venv's.
        own = run([vpy, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], 60).strip()
        parents = [d for d in site.getsitepackages() if Path(d).is_dir()]
        Path(own, "gpu_check_parent.pth").write_text("\n".join(parents) + "\n")
        run(
            [*pip, "install", "-q", "--no-index", "--no-cache-dir",
             "--find-links", str(wheels), "-r", str(reqs)],
            timeout - (time.monotonic() - t),
        )  # fmt: skip
        check = "import django, rq, redis, channels, uvicorn, torch; print(torch.__version__)"
        torch_version = run([vpy, "-c", check], 60).strip()
        return vpy, {
            "venv": str(venv),
            "installed": True,
            "install_seconds": round(time.monotonic() - t, 1),
            "torch": torch_version,
        }

    def stack(self, timeout: float) -> dict:
        t = time.monotonic()
        vpy, info = self.venv_python(timeout)
        settings = SMOKE_STACK if self.args.smoke else STACK_SETTINGS
        left = timeout - (time.monotonic() - t)
        cmd = [
            vpy, "bench/gpu_stack.py", str(self.data_path), "--device", self.device,
            "--settings", json.dumps(settings), "--work", str(self.work / "stack"),
            "--timeout", str(round(max(10.0, left - 45), 1)),  # start, import and stop: ~45 s
        ]  # fmt: skip
        log("$ " + " ".join(cmd))
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            stdout, stderr = proc.communicate(timeout=max(30.0, left + 30))
        except subprocess.TimeoutExpired:  # SIGTERM: gpu_stack stops its Stack, then prints
            proc.terminate()
            try:
                stdout, stderr = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate()
        sys.stderr.write(stderr)
        try:
            out = last_json(stdout)
        except (StepError, ValueError):
            raise StepError(f"exit {proc.returncode}: {tail(stderr or stdout)}") from None
        out = {"venv": info, **out}
        if not out.get("ok"):
            out.setdefault("error", f"checks failed: {out.get('checks')}")
        return out

    # -- all -------------------------------------------------------------------------------

    def main(self) -> int:
        self.data_path = self.data()
        self.summary["data"] = str(self.data_path)
        self.summary["budget_seconds"] = {"engine": self.args.budget}
        self._decisions: dict[int, dict] = {}
        self._has_parallel = self.has_parallel()
        budget = self.args.budget
        self.deadline = self.t0 + budget
        steps = self.args.only or ENGINE_STEPS + (("stack",) if self.args.stack else ())
        first = 0.28 if self.args.smoke else 0.12  # fixed costs weigh more in tiny runs
        if "train_speed" in steps:
            self.step("train_speed", self.train_speed, first * budget)
        if "time_to_accuracy" in steps:
            self.step("time_to_accuracy", self.time_to_accuracy, first * budget)
        if "search" in steps or "parallel" in steps:
            self.step("search", lambda t: self.search(1 if self._has_parallel else None, t),
                      0.6 * self.left())  # fmt: skip
        if "parallel" in steps:
            self.step("parallel", self.parallel, self.left())
        if "stack" in steps:
            self.summary["budget_seconds"]["stack"] = self.args.stack_budget
            self.deadline = time.monotonic() + self.args.stack_budget
            self.step("stack", self.stack, self.args.stack_budget)
        self.summary["failed_steps"] = self.failed
        self.summary["ok"] = not self.failed
        self.summary["total_seconds"] = round(time.monotonic() - self.t0, 1)
        text = json.dumps(self.summary, indent=2)
        print(text, flush=True)
        if self.args.json_out:
            Path(self.args.json_out).write_text(text + "\n")
        return 0 if not self.failed else 1


def _decisions(result: dict) -> dict:
    cands = result.get("candidates") or []
    accepted = [c.get("key") or json.dumps(c.get("arch"), sort_keys=True) for c in cands
                if c.get("accepted") and not c.get("speculative")]  # fmt: skip
    best = (result.get("best") or {}).get("arch")
    return {"best": json.dumps(best, sort_keys=True), "accepted": accepted}


def _trained_images(result: dict, trained: list[dict]) -> int:
    """Training images seen by the candidates (epochs x training-set size), when it is known."""
    ds = result.get("dataset") or {}
    n = ds.get("num_train") or ds.get("train") or ds.get("n_train")
    if not isinstance(n, int):
        return 0
    return sum(int(c.get("epochs") or 0) * n for c in trained)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench/gpu_check.sh",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    p.add_argument("--smoke", action="store_true", help="tiny settings on the CPU")
    p.add_argument("--stack", action="store_true", help="also run the product (Redis, worker, web)")
    p.add_argument("--data", help=f"the npz (default: gpu_carry/{DATA_NAME}, then ../shared/data/)")
    p.add_argument("--parallel", type=int, default=None, help="N in flight (default 8; smoke 2)")
    p.add_argument(
        "--budget", type=float, default=None, help="seconds, engine steps (470; smoke 170)"
    )
    p.add_argument(
        "--stack-budget", type=float, default=None, help="seconds, stack (200; smoke 180)"
    )
    p.add_argument("--target", type=float, default=98.5, help="time_to_accuracy's target accuracy")
    p.add_argument("--work", default=None, help="scratch folder (default var/gpu_check)")
    p.add_argument("--wheels", default=str(CARRY / "wheels"), help="wheels for the stack's venv")
    p.add_argument("--venv", help="an existing venv with the web dependencies (or GPU_CHECK_VENV)")
    p.add_argument(
        "--only",
        type=lambda text: tuple(text.split(",")),
        help="comma-separated steps to run: "
        + ",".join(ENGINE_STEPS + ("stack",))
        + " (parallel runs search too)",
    )
    p.add_argument("--json-out", help="also write the JSON here")
    args = p.parse_args(argv)
    unknown = set(args.only or ()) - set(ENGINE_STEPS + ("stack",))
    if unknown:
        p.error(f"--only: no step named {sorted(unknown)[0]!r}")
    if args.parallel is None:
        args.parallel = 2 if args.smoke else 8
    if args.budget is None:
        args.budget = 170 if args.smoke else 470
    if args.stack_budget is None:
        args.stack_budget = 180 if args.smoke else 200
    args.work = args.work or str(ROOT / "var" / "gpu_check")
    if args.smoke:  # a shared CPU: one thread per process, N in flight are N processes
        RUN_ENV["OMP_NUM_THREADS"] = "1"
    sys.path.insert(0, str(ROOT))
    return Check(args).main()


if __name__ == "__main__":
    sys.exit(main())
