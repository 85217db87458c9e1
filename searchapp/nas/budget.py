"""Device budgets: the limits a search's candidates must fit, and the check (no torch).

``Budget.from_config(config)`` reads the settings ``max_params``, ``max_macs``, ``max_ram_kb``,
``max_flash_kb`` and ``target``: a board (targets.BOARDS) sets the RAM and flash limits to its
SRAM and flash minus the reserves of targets.py, unless max_ram_kb / max_flash_kb are given,
which win. ``budget.over(figures)`` names the first figure over its limit (None: it fits), and
``budget.check_space(...)`` refuses, before anything is trained, a search whose smallest
architecture does not fit. The figures are footprint.figures(); with a board, ``figure`` takes
what the model needs on that board: RAM is TFLM's arena with the board's kernels
(``board_ram_kb``), flash is the .tflite plus TFLM's code for its ops (targets.code_bytes).
``max_latency_ms`` limits the estimated time of one inference on the board (latency.py), which
``latency_ms(arch, ...)`` gives and ``over(figures, latency_ms)`` checks; it needs a board.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .footprint import Figures, figures, ops
from .latency import board_latency_ms
from .settings import SettingError
from .space import Arch, SearchSpace, default_stem
from .targets import BOARDS, CUSTOM, NO_TARGET, board

# The limits in the order they are checked: (figure, setting, what the figure is, unit)
LIMITS = (
    ("params", "max_params", "parameters", ""),
    ("macs", "max_macs", "MACs", ""),
    ("ram_kb", "max_ram_kb", "peak RAM", "KB"),
    ("flash_kb", "max_flash_kb", "flash", "KB"),
    ("board_latency_ms", "max_latency_ms", "latency on the board", "ms"),
)
SIZE_LIMITS = tuple(name for _, name, _, _ in LIMITS if name != "max_latency_ms")


class BudgetError(SettingError):
    """No architecture within the search's bounds fits its budget; ``field`` names the limit
    (the board's ``target`` when the limit is the board's)."""


def _amount(value: float, unit: str) -> str:
    if unit:
        return f"{value:,.1f} {unit}"
    return f"{value:,.0f}" if value < 10**6 else f"{value / 1e6:,.2f}M"


@dataclass(frozen=True)
class Budget:
    """The limits of one search: ``limits`` holds the set ones, keyed by figure."""

    limits: dict = field(default_factory=dict)  # {"params"|"macs"|"ram_kb"|"flash_kb": limit}
    target: str = NO_TARGET
    sources: dict = field(default_factory=dict)  # figure -> setting that set it

    @classmethod
    def from_config(cls, config) -> Budget:
        """From a SearchConfig (or anything with the five settings as attributes)."""
        limits, sources = {}, {}
        target = getattr(config, "target", NO_TARGET) or NO_TARGET
        b = board(target)
        for fig, name, _, _ in LIMITS:
            value = getattr(config, name, None)
            if value is None and b is not None:
                value = {"ram_kb": b.ram_budget_kb, "flash_kb": b.flash_budget_kb}.get(fig)
                name = "target"
            if value is not None:
                limits[fig], sources[fig] = value, name
        return cls(limits, target, sources)

    @property
    def active(self) -> bool:
        return bool(self.limits)

    def latency_ms(self, arch: Arch, in_ch: int, image_size: int, num_classes: int):
        """The estimated ms of one inference of ``arch`` on the target board; None without one."""
        if board(self.target) is None:
            return None
        return board_latency_ms(ops(arch, in_ch, image_size, num_classes), self.target)

    def over(self, fig: Figures, latency_ms: float | None = None) -> str | None:
        """Why ``fig`` (and ``latency_ms``, the estimate on the board) is over budget ("peak RAM
        210.5 KB over the 192.0 KB budget of nano33ble"), naming the first figure over its
        limit; None when it fits."""
        key = self.first_over(fig, latency_ms)
        if key is None:
            return None
        _, _, what, unit = next(lim for lim in LIMITS if lim[0] == key)
        if key == "board_latency_ms":
            what = f"latency on {self.target}"
        return (
            f"{what} {_amount(self.figure(fig, key, latency_ms), unit)}{self._parts(fig, key)} over the "
            f"{_amount(self.limits[key], unit)} budget{self._whose(key)}"
        )

    def figure(self, fig: Figures, key: str, latency_ms: float | None = None) -> float | None:
        """The figure checked against the limit `key`: on a board, RAM is the tensor arena with
        the board's kernels and flash adds TFLM's code for the model's ops; the latency is
        ``latency_ms``."""
        if key == "board_latency_ms":
            return latency_ms
        b = board(self.target)
        if b is not None and key == "ram_kb" and fig.board_ram_kb is not None:
            return fig.board_ram_kb
        if b is not None and key == "flash_kb":
            return round(fig.flash_kb + b.code_kb(fig.op_kinds), 1)
        return getattr(fig, key)

    def _parts(self, fig: Figures, key: str) -> str:
        b = board(self.target)
        if b is None or key != "flash_kb":
            return ""
        return f" (model {fig.flash_kb:,.1f} KB + TFLM code {b.code_kb(fig.op_kinds):,.1f} KB)"

    def first_over(self, fig: Figures, latency_ms: float | None = None) -> str | None:
        """The first figure ("params", "macs", "ram_kb", "flash_kb", "board_latency_ms") over
        its limit, or None."""
        for key, _, _, _ in LIMITS:
            limit = self.limits.get(key)
            value = self.figure(fig, key, latency_ms)
            if limit is not None and value is not None and value > limit:
                return key
        return None

    def _whose(self, key: str) -> str:
        if self.sources.get(key) == "target":
            return f" of {self.target}"
        return f" ({self.sources.get(key, 'max_' + key)})"

    def smallest(self, space: SearchSpace, stem: str) -> Arch:
        """The smallest network Algorithm 1 can start from within ``space``: least depth and
        width, sep where allowed, the smallest kernel (as search.py's plain networks). Its
        parameters, MACs and flash are the least of the space; a conv first layer can need a
        little less RAM (it skips the depthwise pair at full resolution), but Algorithm 1 only
        reaches one from a plain network that fits."""
        op = "sep" if "sep" in space.ops else space.ops[0]
        depth = space.min_depth
        return Arch(depth, space.min_width, (op,) * depth, (min(space.kernels),) * depth, stem)

    def check_space(
        self,
        space: SearchSpace,
        in_ch: int,
        image_size: int,
        num_classes: int,
        stem: str | None = None,
    ) -> Figures:
        """Raise BudgetError, naming the smallest figures, when even the smallest architecture
        of ``space`` is over budget; returns its figures otherwise."""
        arch = self.smallest(space, stem or default_stem(image_size))
        fig = figures(arch, in_ch, image_size, num_classes)
        latency = self.latency_ms(arch, in_ch, image_size, num_classes)
        key = self.first_over(fig, latency)
        if key is not None:
            on_board = f", {latency:,.1f} ms on {self.target}" if latency is not None else ""
            raise BudgetError(
                f"no architecture within the bounds fits the budget: the smallest ({arch.short}, "
                f"{image_size}x{image_size} px, {num_classes} classes) needs "
                f"{fig.params:,} parameters, {fig.macs:,} MACs, "
                f"{self.figure(fig, 'ram_kb'):,.1f} KB peak RAM and "
                f"{self.figure(fig, 'flash_kb'):,.1f} KB flash{on_board}; its "
                f"{self.over(fig, latency)}. "
                "Raise the limit, or lower "
                "the minimum depth or width",
                self.sources.get(key, "target"),
            )
        return fig

    def describe(self) -> str:
        """'peak RAM <= 192.0 KB, flash <= 768.0 KB (target nano33ble)'."""
        parts = [
            f"{what} <= {_amount(self.limits[key], unit)}"
            for key, _, what, unit in LIMITS
            if key in self.limits
        ]
        tail = f" (target {self.target})" if self.target not in (NO_TARGET, CUSTOM) else ""
        return ", ".join(parts) + tail

    def to_dict(self) -> dict:
        return {"target": self.target, "limits": dict(self.limits)}


def validate_settings(config) -> None:
    """The budget settings as a whole (each one's bounds are checked as any setting's):
    ``custom`` needs at least one size limit; ``max_latency_ms`` needs a board."""
    target = getattr(config, "target", NO_TARGET) or NO_TARGET
    if getattr(config, "max_latency_ms", None) is not None and board(target) is None:
        raise SettingError(
            f"max_latency_ms needs a board to estimate the latency on: set target to one of "
            f"{', '.join(BOARDS)} (target is {target})",
            "max_latency_ms",
        )
    if target == CUSTOM and not any(
        getattr(config, name, None) is not None for name in SIZE_LIMITS
    ):
        raise SettingError(
            "the custom target needs at least one limit: max_params, max_macs, max_ram_kb "
            "or max_flash_kb",
            "target",
        )
