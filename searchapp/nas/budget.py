"""Device budgets: the limits a search's candidates must fit, and the check (no torch).

``Budget.from_config(config)`` reads the settings ``max_params``, ``max_macs``, ``max_ram_kb``,
``max_flash_kb`` and ``target``: a board (targets.BOARDS) sets the RAM and flash limits to its
SRAM and flash minus the reserves of targets.py, unless max_ram_kb / max_flash_kb are given,
which win. ``budget.over(figures)`` names the first figure over its limit (None: it fits), and
``budget.check_space(...)`` refuses, before anything is trained, a search whose smallest
architecture does not fit. The figures are footprint.figures().
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .footprint import Figures, figures
from .settings import SettingError
from .space import Arch, SearchSpace, default_stem
from .targets import CUSTOM, NO_TARGET, board

# The limits in the order they are checked: (figure, setting, what the figure is, unit)
LIMITS = (
    ("params", "max_params", "parameters", ""),
    ("macs", "max_macs", "MACs", ""),
    ("ram_kb", "max_ram_kb", "peak RAM", "KB"),
    ("flash_kb", "max_flash_kb", "flash", "KB"),
)


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

    def over(self, fig: Figures) -> str | None:
        """Why ``fig`` is over budget ("peak RAM 210.5 KB over the 192.0 KB budget of
        nano33ble"), naming the first figure over its limit; None when it fits."""
        key = self.first_over(fig)
        if key is None:
            return None
        _, _, what, unit = next(lim for lim in LIMITS if lim[0] == key)
        return (
            f"{what} {_amount(getattr(fig, key), unit)} over the "
            f"{_amount(self.limits[key], unit)} budget{self._whose(key)}"
        )

    def first_over(self, fig: Figures) -> str | None:
        """The first figure ("params", "macs", "ram_kb", "flash_kb") over its limit, or None."""
        for key, _, _, _ in LIMITS:
            limit = self.limits.get(key)
            if limit is not None and getattr(fig, key) > limit:
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
        key = self.first_over(fig)
        if key is not None:
            raise BudgetError(
                f"no architecture within the bounds fits the budget: the smallest ({arch.short}, "
                f"{image_size}x{image_size} px, {num_classes} classes) needs "
                f"{fig.params:,} parameters, {fig.macs:,} MACs, {fig.ram_kb:,.1f} KB peak RAM "
                f"and {fig.flash_kb:,.1f} KB flash; its {self.over(fig)}. Raise the limit, or lower "
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
    ``custom`` needs at least one limit."""
    if getattr(config, "target", NO_TARGET) == CUSTOM and not any(
        getattr(config, name, None) is not None for _, name, _, _ in LIMITS
    ):
        raise SettingError(
            "the custom target needs at least one limit: max_params, max_macs, max_ram_kb "
            "or max_flash_kb",
            "target",
        )
