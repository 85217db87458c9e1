"""The Mini-NAS search space: an architecture is plain data, the bounds are settings.

A network is a VGG-like stack of ``depth`` layers after a stem. Layer i (0-based) has
stride 2 and doubles its channels when i is depth//3 or 2*depth//3 (as in DARTS), so the
three stages have C, 2C and 4C channels. Each layer is ``sep`` (depthwise k x k + pointwise
1 x 1) or ``conv`` (plain k x k), each conv followed by BatchNorm + ReLU.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from .settings import SettingError, setting, settings_of

OPS = ("sep", "conv")
KERNELS = (3, 5, 7)
STEMS = ("cifar", "imagenet")

# Hard limits of the space as the paper defines it; user bounds must sit inside them.
DEPTH_LIMITS = (1, 30)
WIDTH_LIMITS = (4, 512)

# The cifar stem outputs STEM_MULTIPLIER * width channels (paper §4.2.2: "doubled").
STEM_MULTIPLIER = 2
# The imagenet stem: three stride-2 3x3 convs, 224 -> 28; their widths relative to C.
IMAGENET_STEM_INPUT = 224


@dataclass(frozen=True)
class Arch:
    """One candidate network: depth, width, and the op and kernel of every layer."""

    depth: int
    width: int
    ops: tuple[str, ...]
    kernels: tuple[int, ...]
    stem: str = "cifar"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "kernels", tuple(int(k) for k in self.kernels))
        self.validate()

    @classmethod
    def initial(cls, depth: int, width: int, stem: str = "cifar") -> Arch:
        """Algorithm 1's starting point: all layers sep with 3x3 kernels."""
        return cls(depth, width, ("sep",) * depth, (3,) * depth, stem)

    @classmethod
    def from_dict(cls, data: dict) -> Arch:
        try:
            return cls(
                int(data["depth"]),
                int(data["width"]),
                tuple(data["ops"]),
                tuple(data["kernels"]),
                data.get("stem", "cifar"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an architecture: {data!r}") from exc

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ops"] = list(self.ops)
        d["kernels"] = list(self.kernels)
        return d

    @property
    def key(self) -> str:
        """A stable string that names this architecture (used for memoisation)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def short(self) -> str:
        """A compact human-readable form, e.g. ``L4 C32 s3 s3 c5 s3``."""
        layers = " ".join(f"{o[0]}{k}" for o, k in zip(self.ops, self.kernels, strict=True))
        return f"L{self.depth} C{self.width} {layers}"

    def validate(self) -> None:
        lo, hi = DEPTH_LIMITS
        if not isinstance(self.depth, int) or not lo <= self.depth <= hi:
            raise ValueError(f"depth must be an integer in [{lo}, {hi}], got {self.depth!r}")
        lo, hi = WIDTH_LIMITS
        if not isinstance(self.width, int) or not lo <= self.width <= hi:
            raise ValueError(f"width must be an integer in [{lo}, {hi}], got {self.width!r}")
        if len(self.ops) != self.depth:
            raise ValueError(f"ops has {len(self.ops)} entries for depth {self.depth}")
        if len(self.kernels) != self.depth:
            raise ValueError(f"kernels has {len(self.kernels)} entries for depth {self.depth}")
        for op in self.ops:
            if op not in OPS:
                raise ValueError(f"unknown op {op!r} (expected one of {', '.join(OPS)})")
        for k in self.kernels:
            if k < 1 or k % 2 == 0:
                raise ValueError(f"kernel must be a positive odd integer, got {k!r}")
        if self.stem not in STEMS:
            raise ValueError(f"unknown stem {self.stem!r} (expected one of {', '.join(STEMS)})")

    def replace(self, **changes) -> Arch:
        d = self.to_dict()
        d.update(changes)
        return Arch.from_dict(d)

    def with_layer(self, i: int, op: str | None = None, kernel: int | None = None) -> Arch:
        ops, kernels = list(self.ops), list(self.kernels)
        if op is not None:
            ops[i] = op
        if kernel is not None:
            kernels[i] = kernel
        return self.replace(ops=ops, kernels=kernels)

    # ---- shape bookkeeping shared by the builder, the counters and the table ----

    def reductions(self) -> tuple[int, ...]:
        """0-based indices of the stride-2, channel-doubling layers."""
        if self.depth < 3:
            return ()
        return tuple(sorted({self.depth // 3, 2 * self.depth // 3}))

    def stem_channels(self) -> int:
        return STEM_MULTIPLIER * self.width

    def layer_specs(self) -> list[dict]:
        """Per layer: in/out channels, stride, op, kernel (no spatial sizes)."""
        specs, cin, c = [], self.stem_channels(), self.width
        red = self.reductions()
        for i in range(self.depth):
            stage_in = c
            stride = 1
            if i in red:
                stride, c = 2, c * 2
            specs.append(
                {
                    "cin": cin,
                    "cout": c,
                    "stage_ch": stage_in,
                    "stride": stride,
                    "op": self.ops[i],
                    "k": self.kernels[i],
                }
            )
            cin = c
        return specs

    def out_channels(self) -> int:
        return self.layer_specs()[-1]["cout"]


def stem_output_size(stem: str, image_size: int) -> int:
    """Spatial size after the stem (the imagenet stem first resizes to 224)."""
    if stem == "imagenet":
        return IMAGENET_STEM_INPUT // 8
    return image_size


def default_stem(image_size: int) -> str:
    """DESIGN.md: images up to 64 px use the cifar stem, larger ones the imagenet stem."""
    return "cifar" if image_size <= 64 else "imagenet"


def _conv_out(size: int, stride: int) -> int:
    # 'same' padding: out = ceil(size / stride)
    return -(-size // stride)


def _stem_layers(arch: Arch, in_ch: int) -> list[tuple[int, int, int, int]]:
    """(cin, cout, k, stride) of each stem conv (each followed by BN; ReLU between)."""
    c2 = arch.stem_channels()
    if arch.stem == "cifar":
        return [(in_ch, c2, 3, 1)]
    # imagenet: three stride-2 3x3 convs, widths C/2 -> C -> 2C (as DARTS' ImageNet stem)
    c0 = max(arch.width // 2, 8)
    return [(in_ch, c0, 3, 2), (c0, arch.width, 3, 2), (arch.width, c2, 3, 2)]


def count_params(arch: Arch, in_ch: int = 3, num_classes: int = 10) -> int:
    """Trainable parameters of the built model (convs have no bias; BN has 2 per channel)."""
    total = 0
    for cin, cout, k, _ in _stem_layers(arch, in_ch):
        total += k * k * cin * cout + 2 * cout
    for s in arch.layer_specs():
        cin, cout, k = s["cin"], s["cout"], s["k"]
        if s["op"] == "sep":
            total += k * k * cin + cin * cout + 2 * cout
        else:
            total += k * k * cin * cout + 2 * cout
    total += arch.out_channels() * num_classes + num_classes
    return total


def count_macs(arch: Arch, in_ch: int = 3, image_size: int = 32, num_classes: int = 10) -> int:
    """Multiply-accumulates of one forward pass of one image (convs and the head)."""
    size = IMAGENET_STEM_INPUT if arch.stem == "imagenet" else image_size
    total = 0
    for cin, cout, k, stride in _stem_layers(arch, in_ch):
        size = _conv_out(size, stride)
        total += k * k * cin * cout * size * size
    for s in arch.layer_specs():
        size = _conv_out(size, s["stride"])
        cin, cout, k = s["cin"], s["cout"], s["k"]
        if s["op"] == "sep":
            total += (k * k * cin + cin * cout) * size * size
        else:
            total += k * k * cin * cout * size * size
    total += arch.out_channels() * num_classes
    return total


def table(arch: Arch, image_size: int = 32) -> list[dict]:
    """The paper's Table-1 view: Layer, Ch, Dims, Stride, Op, K (Ch and Dims at the layer's input)."""
    size = stem_output_size(arch.stem, image_size)
    rows = []
    for i, s in enumerate(arch.layer_specs()):
        rows.append(
            {
                "layer": i + 1,
                "ch": s["stage_ch"],
                "dims": f"{size}x{size}",
                "stride": s["stride"],
                "op": "Sep" if s["op"] == "sep" else "Conv",
                "k": f"{s['k']}x{s['k']}",
            }
        )
        size = _conv_out(size, s["stride"])
    return rows


def format_table(arch: Arch, image_size: int = 32) -> str:
    """Table-1 rows as aligned text for the CLI."""
    head = f"{'Layer':>5}  {'Ch':>4}  {'Dims':>7}  {'Stride':>6}  {'Op':<4}  {'K':<3}"
    lines = [head, "-" * len(head)]
    for r in table(arch, image_size):
        lines.append(
            f"{r['layer']:>5}  {r['ch']:>4}  {r['dims']:>7}  {r['stride']:>6}  {r['op']:<4}  {r['k']:<3}"
        )
    return "\n".join(lines)


@dataclass
class SearchSpace:
    """User bounds of one search; all must lie inside the space's hard limits."""

    min_depth: int = setting(
        3,
        label="Shallowest network (layers, D_min)",
        help="layers of the first network (D_min)",
        bounds=DEPTH_LIMITS,
    )
    max_depth: int = setting(
        15,
        label="Deepest network (layers, D_max)",
        help="the depth phase stops here (D_max)",
        bounds=DEPTH_LIMITS,
    )
    min_width: int = setting(
        16,
        label="Narrowest first layers (channels, W_min)",
        help="the width phase stops here (W_min)",
        bounds=WIDTH_LIMITS,
    )
    max_width: int = setting(
        64,
        label="Widest first layers (channels, W_max)",
        help="first-stage channels while depth grows (W_max)",
        bounds=WIDTH_LIMITS,
    )
    width_step: int = setting(
        16,
        label="Width step (channels narrowed at a time)",
        help="the width phase narrows by this much",
        lo=1,
        hi=WIDTH_LIMITS[1],
    )
    ops: tuple[str, ...] = setting(
        OPS,
        label="Layer types to try",
        help="per-layer operations the op phase may choose",
        choices=(("sep", "sep (depthwise + pointwise)"), ("conv", "conv (plain)")),
    )
    kernels: tuple[int, ...] = setting(
        KERNELS,
        label="Kernel sizes to try",
        help="per-layer kernel sizes the kernel phase may choose",
        choices=tuple((k, f"{k}x{k}") for k in KERNELS),
    )

    def __post_init__(self) -> None:
        self.ops = tuple(self.ops)
        self.kernels = tuple(self.kernels)
        self.validate()

    def validate(self) -> None:
        """Raise SettingError naming the first bad bound."""
        for s in settings_of(SearchSpace):
            s.check(getattr(self, s.name))
        for lo, hi in (("min_depth", "max_depth"), ("min_width", "max_width")):
            if getattr(self, lo) > getattr(self, hi):
                raise SettingError(f"{hi} must be at least {lo} ({getattr(self, lo)})", hi)
        if self.width_step > self.max_width:
            raise SettingError(
                f"width_step must not exceed max_width ({self.max_width})", "width_step"
            )

    def widths_down(self) -> list[int]:
        """Widths tried in the width phase, below max_width, down to min_width."""
        out, w = [], self.max_width - self.width_step
        while w >= self.min_width:
            out.append(w)
            w -= self.width_step
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ops"], d["kernels"] = list(self.ops), list(self.kernels)
        return d
