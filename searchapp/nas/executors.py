"""Where candidates train: in the calling thread, in threads, or in local processes.

The scheduler (scheduler.py) submits the candidates a look-ahead walk names and waits for any
of them; it takes every decision itself, in Algorithm 1's order, from the finished results. An
executor only trains: ``submit(rec, arch)``, ``wait() -> (key, measured)``, ``close()``.
The web brings its own executor that fans candidates out as RQ jobs (searchapp/tasks/candidates.py);
every process that trains a candidate builds the same ``CandidateTrainer`` on the same
``selection_split``.
"""

from __future__ import annotations

import os
import queue
import time
from collections import deque
from collections.abc import Callable

from .config import Cancelled, SearchConfig
from .record import CandidateRecord
from .space import Arch

POLL_SECONDS = 0.2


def selection_split(config: SearchConfig, data) -> tuple | None:
    """The (train, validation) indices into the training images that a search selects on;
    None when it selects on test (or has no data)."""
    if data is None or config.select_on != "validation":
        return None
    from .splits import validation_indices

    return validation_indices(data.y_train, config.val_frac, config.seed)


class CandidateTrainer:
    """Trains one candidate from scratch on the search's training split: ``(arch, on_epoch)
    -> measured dict`` (with its ``state_dict``), like an injected evaluator.

    The seed depends only on the search seed and the architecture, so a candidate trained
    here, in another process or on another machine gets the same weights (on the same
    device type and thread count)."""

    def __init__(
        self,
        config: SearchConfig,
        data,
        split=None,
        should_stop: Callable[[], bool] | None = None,
    ):
        self.config, self.data, self.split = config, data, split
        self.should_stop = should_stop
        self._device_data = None

    def device_data(self):
        from .train import DeviceData, resolve_device

        if self._device_data is None:
            train_idx, val_idx = self.split if self.split is not None else (None, None)
            self._device_data = DeviceData(
                self.data, resolve_device(self.config.device), train_idx=train_idx, val_idx=val_idx
            )
        return self._device_data

    def __call__(self, arch: Arch, on_epoch: Callable[[dict], None]) -> dict:
        from .train import candidate_seed, train_candidate

        dd = self.device_data()
        cfg = self.config
        res = train_candidate(
            arch,
            dd,
            cfg.training_recipe(),
            seed=candidate_seed(cfg.seed, arch),
            device=dd.device,
            on_epoch=on_epoch,
            should_stop=self.should_stop,
        )
        out = res.metrics()
        out["state_dict"] = res.state_dict
        return out


def train_one(
    trainer: Callable, rec: CandidateRecord, arch: Arch, emit: Callable[[dict], None], worker: str
) -> dict:
    """Train one candidate, sending its started and epoch events; the measured dict."""
    emit({"type": "candidate.started", **rec.started(), "worker": worker})
    index = rec.index
    t0 = time.perf_counter()
    out = dict(trainer(arch, lambda e: emit({"type": "candidate.epoch", "index": index, **e})))
    out.setdefault("seconds", round(time.perf_counter() - t0, 3))
    out["worker"] = worker
    return out


class InlineExecutor:
    """One candidate at a time, trained in the calling thread when the search waits for it
    (``--parallel 1``: the paper's sequential search)."""

    def __init__(self, search):
        self.search = search
        self.trainer = search.trainer()
        self.queue: deque = deque()

    def submit(self, rec: CandidateRecord, arch: Arch) -> None:
        self.queue.append((rec, arch))

    def wait(self) -> tuple[str, dict]:
        rec, arch = self.queue.popleft()
        if self.search.should_stop():
            raise Cancelled()
        return rec.key, train_one(self.trainer, rec, arch, self.search.on_event, "local")

    def close(self) -> None:
        self.queue.clear()


class _PoolExecutor:
    """Up to N candidates at once on a concurrent.futures pool; the pool's workers hand their
    events to ``self.events``, which the search's thread drains while it waits."""

    search = None
    events = None
    futures: dict

    def _drain(self) -> None:
        while True:
            try:
                self.search.on_event(self.events.get_nowait())
            except queue.Empty:
                return

    def wait(self) -> tuple[str, dict]:
        from concurrent.futures import FIRST_COMPLETED
        from concurrent.futures import wait as wait_futures

        while True:
            done, _ = wait_futures(list(self.futures), POLL_SECONDS, FIRST_COMPLETED)
            self._drain()
            if done:
                future = next(iter(done))
                key = self.futures.pop(future)
                return key, future.result()
            if self.search.should_stop():
                raise Cancelled()


class ThreadExecutor(_PoolExecutor):
    """Up to N candidates at once in threads of this process (an injected evaluator, or a
    GPU that one small network leaves idle)."""

    def __init__(self, search, workers: int):
        from concurrent.futures import ThreadPoolExecutor

        self.search = search
        self.trainer = search.trainer()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="candidate")
        self.events: queue.Queue = queue.Queue()
        self.futures: dict = {}

    def submit(self, rec: CandidateRecord, arch: Arch) -> None:
        def work(slot: str) -> dict:
            return train_one(self.trainer, rec, arch, self.events.put, slot)

        slot = f"thread-{len(self.futures) + 1}"
        self.futures[self.pool.submit(work, slot)] = rec.key

    def close(self) -> None:
        for f in self.futures:
            f.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self._drain()


# -- local processes (the CLI's --parallel N) ---------------------------------------------

_CHILD: dict = {}


def _child_init(config: dict, data, split, threads: int, events) -> None:
    import torch

    torch.set_num_threads(threads)
    _CHILD["trainer"] = CandidateTrainer(SearchConfig.from_dict(config), data, split)
    _CHILD["events"] = events


def _child_train(rec: dict, arch: dict) -> dict:
    rec_, arch_ = CandidateRecord.from_dict(rec), Arch.from_dict(arch)
    worker = f"process-{os.getpid()}"
    return train_one(_CHILD["trainer"], rec_, arch_, _CHILD["events"].put, worker)


def threads_per_process(workers: int) -> int:
    """Split this machine's cores among the processes (at least one thread each)."""
    import torch

    return max(1, torch.get_num_threads() // workers)


class ProcessExecutor(_PoolExecutor):
    """Up to N candidates at once in N spawned processes (the CLI's ``--parallel N``), each
    with its share of the CPU threads; they train on the same device (a GPU fits several)."""

    def __init__(self, search, workers: int, threads: int | None = None):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.search = search
        ctx = mp.get_context("spawn")  # never fork a process that may hold CUDA
        self.events = ctx.Queue()
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_child_init,
            initargs=(
                search.config.to_dict(),
                search.data,
                search.split,
                threads or threads_per_process(workers),
                self.events,
            ),
        )
        self.futures: dict = {}

    def submit(self, rec: CandidateRecord, arch: Arch) -> None:
        self.futures[self.pool.submit(_child_train, rec.to_dict(), arch.to_dict())] = rec.key

    def close(self) -> None:
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:  # candidates still training are not needed any more
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
        self._drain()


def make_executor(search):
    n = search.config.parallel
    if n <= 1:
        return InlineExecutor(search)
    if search.evaluator is not None:
        return ThreadExecutor(search, n)
    return ProcessExecutor(search, n)
