"""The tensor arena TensorFlow Lite Micro needs to run an int8 model, from its ops alone (no torch).

This is TFLM's own arithmetic (tflite-micro, the commit of the pinned ``tflite-micro`` wheel),
applied to the op list ``footprint.ops`` builds; ``tflm.py`` measures the real arena of every
exported file and tests/nas/test_tflm_calibration.py checks the two against each other.

TFLM's MicroAllocator cuts one arena in two:

- the **head** (non-persistent): every activation tensor and every scratch buffer a kernel asks
  for, each rounded up to 16 bytes, laid out by ``GreedyMemoryPlanner``: buffers in decreasing
  size (ties: the later buffer first), each at the lowest offset that does not overlap a placed
  buffer alive at the same time. A tensor lives from the op that writes it to the last op that
  reads it (the input from the start, the output to the end); a scratch buffer for its op only.
  The head is the end of the highest buffer. ``plan_bytes`` runs the same algorithm.
- the **tail** (persistent): a ``TfLiteEvalTensor`` per tensor (weights included), a
  ``NodeAndRegistration`` per op, each kernel's op data (for a conv, depthwise conv and the
  fully-connected head also its per-channel int32 multipliers and shifts) and parsed builtin
  options, full ``TfLiteTensor`` structs and quantisation for the model's input and output, the
  scratch buffer handles, and the allocator objects themselves (``TAIL_FIXED_BYTES``).

While it plans, TFLM holds its planning tables in the head (an ``AllocationInfo`` per tensor and
scratch buffer, the planner's per-buffer arrays, the scratch requests), so a model with many
tensors and small activations needs ``tail + planning`` rather than ``tail + head``.

Kernels: ``reference`` is what the host interpreter runs (its only scratch is MEAN's); ``cmsis-nn``
adds CMSIS-NN's scratch buffers (the DSP build of Cortex-M4 / M7: ``Op.scratch_bytes``), which
is what a Cortex-M board with the optimised kernels needs. Struct sizes are those of a 64-bit
host; on a 32-bit board the persistent part is smaller (pointers of 4 bytes), so the figure is an
upper bound there.
"""

from __future__ import annotations

ALIGN = 16  # MicroArenaBufferAlignment()
KERNELS = ("reference", "cmsis-nn")

# Persistent allocations on a 64-bit host, bytes (sizeof, rounded up to ALIGN where TFLM does).
EVAL_TENSOR_BYTES = 24  # TfLiteEvalTensor, every tensor of the graph
NODE_BYTES = 64  # NodeAndRegistration, every op
IO_TENSOR_BYTES = 64 + 32 + 16  # TfLiteTensor + quantisation + the interpreter's pointer to it
# op data + parsed builtin options, by op kind (OpDataConv 76 -> 80 + TfLiteConvParams 28 -> 32)
OP_BYTES = {"conv": 112, "depthwise": 112, "fc": 80, "mean": 64, "pad": 64, "resize": 16}
PER_CHANNEL_OPS = ("conv", "depthwise", "fc")  # int32 multiplier + shift per output channel
SCRATCH_HANDLE_BYTES = 8
# The allocators, the planner object, subgraph tables and alignment gaps: fitted as the largest
# remainder over 19 exported architectures (measured 352-472 bytes), so the tail is never under.
TAIL_FIXED_BYTES = 480

# Planning tables, held in the head while TFLM plans
ALLOCATION_INFO_BYTES = 32  # per tensor and per scratch buffer
PLANNER_BUFFER_BYTES = 40  # GreedyMemoryPlanner::per_buffer_size(), per planned buffer
SCRATCH_REQUEST_BYTES = 16


def align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def plan_bytes(buffers: list[tuple[int, int, int]]) -> int:
    """GreedyMemoryPlanner's head size for buffers (size, first op, last op) in the order TFLM
    adds them (tensors by index, then scratch buffers)."""
    # TFLM fills its sort array from the back and bubble-sorts by size: ties keep later first
    order = sorted(reversed(range(len(buffers))), key=lambda i: -buffers[i][0])
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last) by offset
    top = 0
    for i in order:
        size, first, last = buffers[i]
        offset = 0
        for p_offset, p_size, p_first, p_last in placed:
            if p_first > last or first > p_last:
                continue  # not alive at the same time
            if p_offset - offset >= size:
                break  # the gap before this buffer is big enough
            offset = max(offset, p_offset + p_size)
        n = next((j for j, p in enumerate(placed) if p[0] > offset), len(placed))
        placed.insert(n, (offset, size, first, last))
        top = max(top, offset + size)
    return top


def scratch_buffers(op, kernels: str) -> list[int]:
    """The scratch buffers one op asks for, in bytes, in the order its kernel asks."""
    if op.kind == "mean":  # reference MEAN (both builds): int32 sums, input dims, axes
        return [4 * op.out_bytes, 4 * 4, 4 * 2]
    if kernels == "cmsis-nn" and op.scratch_bytes:
        return [op.scratch_bytes]
    return []


def arena_parts(op_list, kernels: str = "reference") -> dict:
    """{"head", "tail", "planning", "total"} in bytes for a chain of ops (footprint.Op)."""
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {', '.join(KERNELS)}")
    n = len(op_list)
    tensors = [(align(op_list[0].in_bytes), 0, 1)]  # the input, read by op 1
    tensors += [(align(op.out_bytes), i, min(i + 1, n)) for i, op in enumerate(op_list, 1)]
    scratch = [
        (align(b), i, i) for i, op in enumerate(op_list, 1) for b in scratch_buffers(op, kernels)
    ]
    head = plan_bytes(tensors + scratch)
    n_tensors = 1 + sum(op.tensors for op in op_list)
    tail = TAIL_FIXED_BYTES + EVAL_TENSOR_BYTES * n_tensors + NODE_BYTES * n + 2 * IO_TENSOR_BYTES
    tail += align(SCRATCH_HANDLE_BYTES * len(scratch)) if scratch else 0
    for op in op_list:
        tail += OP_BYTES[op.kind]
        if op.kind in PER_CHANNEL_OPS:
            tail += 2 * align(4 * op.channels)
    planning = (
        align(SCRATCH_REQUEST_BYTES * len(scratch))
        + ALIGN
        + align(ALLOCATION_INFO_BYTES * (n_tensors + len(scratch)))
        + PLANNER_BUFFER_BYTES * (len(tensors) + len(scratch))
    )
    return {"head": head, "tail": tail, "planning": planning, "total": tail + max(head, planning)}


def arena_bytes(op_list, kernels: str = "reference") -> int:
    """The smallest tensor arena TFLM allocates and runs the model in, estimated."""
    return arena_parts(op_list, kernels)["total"]
