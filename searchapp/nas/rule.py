"""The evidence rule: Algorithm 1's verdict on a change from its paired comparison.

A change that adds parameters (a deeper network, conv for sep, a larger kernel) is accepted
only when the 95% interval of its gain over the incumbent lies above the phase's threshold
(depth: ``l_gain``; op and kernel: 0). A change that removes parameters (a narrower network)
is accepted unless the interval shows a loss larger than the phase's threshold (width:
``c_drop``), i.e. unless all of it lies below minus the threshold. The comparison is paired, on
the same selection images (evidence.py). Plain arithmetic, no torch.
"""

from __future__ import annotations


def _pts(x: float) -> str:
    return f"{x:+.1f}"


def evidence_words(ev: dict) -> str:
    """'+2.5 points [-4.1, +9.0] on 400 images' (the incumbent is ``ev["vs"]``; its index is
    left out of the words, which stay those of the sequential search with N in flight)."""
    lo, hi = ev["ci95"]
    return f"{_pts(ev['diff'])} points [{_pts(lo)}, {_pts(hi)}] on {ev['n']:,} images"


def evidence_verdict(ev: dict, extra_params: int, gain: float, loss: float) -> tuple[bool, str]:
    """(accepted, words) for a change with ``extra_params`` more parameters than the incumbent
    (negative: fewer), whose paired comparison is ``ev``; ``gain`` and ``loss`` are the phase's
    thresholds in points (a change with as many parameters must show a gain too)."""
    lo, hi = ev["ci95"]
    said = evidence_words(ev)
    if extra_params >= 0:
        more = f"{extra_params:,} more parameters" if extra_params else "as many parameters"
        above = f" (above {_pts(gain)})" if gain else ""
        if lo > gain:
            return True, f"{said}: a clear gain{above} for {more}: accepted"
        return False, f"{said}: not enough for {more}" + (
            f" (the interval must lie above {_pts(gain)})" if gain else ""
        )
    fewer = f"{-extra_params:,} fewer parameters"
    beyond = f" (beyond {_pts(-loss)})" if loss else ""
    if hi < -loss:
        return False, f"{said}: a clear loss{beyond} for {fewer}"
    return True, f"{said}: no clear loss{beyond}, {fewer}: accepted"
