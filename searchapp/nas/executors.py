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
from .folds import FoldPlan
from .record import CandidateRecord
from .space import Arch

POLL_SECONDS = 0.2


def selection_split(config: SearchConfig, data) -> FoldPlan | None:
    """The selection images of a search (folds.FoldPlan: K (train, validation) index pairs
    into the training images; K = 1 is the single validation split); None when it selects on
    test (or has no data). Every process that trains a candidate of the search makes the same."""
    if data is None or config.select_on != "validation":
        return None
    from .folds import make_plan

    k = config.folds_for(len(data.y_train))
    return make_plan(data.y_train, k, config.val_frac, config.seed)


class CandidateTrainer:
    """Trains one candidate from scratch on the search's selection split: ``(arch, on_epoch)
    -> measured dict`` (with its ``state_dict``), like an injected evaluator. With K folds it
    trains K models and scores them out of fold (crossval.py).

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

    @property
    def folds(self) -> int:
        return self.split.k if self.split is not None else 1

    def device_data(self):
        """The images on the device: the split's (K = 1), or every training image (K > 1,
        each fold gathers its own from them)."""
        from .train import DeviceData, resolve_device

        if self._device_data is None:
            device = resolve_device(self.config.device)
            if self.folds > 1:
                self._device_data = DeviceData(self.data, device, select="none")
            else:
                train_idx, val_idx = (
                    self.split.splits[0] if self.split is not None else (None, None)
                )
                self._device_data = DeviceData(
                    self.data, device, train_idx=train_idx, val_idx=val_idx
                )
        return self._device_data

    def __call__(self, arch: Arch, on_epoch: Callable[[dict], None]) -> dict:
        from .train import candidate_seed, train_candidate

        dd = self.device_data()
        cfg = self.config
        seed = candidate_seed(cfg.seed, arch)
        if self.folds > 1:
            from .crossval import train_folds

            return train_folds(
                arch,
                self.split,
                dd,
                self.data.y_train,
                cfg.training_recipe(),
                seed=seed,
                on_epoch=on_epoch,
                should_stop=self.should_stop,
            )
        res = train_candidate(
            arch,
            dd,
            cfg.training_recipe(),
            seed=seed,
            device=dd.device,
            on_epoch=on_epoch,
            should_stop=self.should_stop,
        )
        out = res.metrics()
        out["state_dict"] = res.state_dict
        return out

    def weights(self, arch: Arch) -> dict | None:
        """The weights a candidate keeps, trained again (seeded, so the same): with K folds
        only the first fold's model trains."""
        if self.folds == 1:
            return self(arch, lambda e: None).get("state_dict")
        from .train import candidate_seed, train_candidate

        dd = self.device_data()
        res = train_candidate(
            arch,
            dd.fold(*self.split.splits[0]),
            self.config.training_recipe(),
            seed=candidate_seed(self.config.seed, arch),  # crossval.fold_seed of fold 0
            device=dd.device,
            should_stop=self.should_stop,
        )
        return res.state_dict


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
