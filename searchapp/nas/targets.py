"""Microcontroller boards a search can target: SRAM and flash from the vendors' datasheets.

Plain data, no torch (the web form reads it). A board's budget is its SRAM and flash minus a
reserve for everything that is not the model or TensorFlow Lite Micro: ``RAM_RESERVE_KB`` for
the stack, the heap and the application's buffers (a camera frame, say); ``FLASH_RESERVE_KB``
for the bootloader or OS and the application. An explicit ``max_ram_kb`` / ``max_flash_kb``
replaces the board's figure. What the model needs on a board (``budget.py``) is TFLM's tensor
arena with the board's kernels (footprint ``board_ram_kb``) and, in flash, the ``.tflite`` plus
TFLM's own code for the ops it uses (``code_bytes``, by core family).

TFLM's code size (``CODE_BYTES``): ``framework`` is the interpreter, allocator and memory
planner (an application that builds a ``MicroInterpreter`` with no kernels, less an empty one:
the method of TFLM's examples/memory_footprint/README.md, which publishes 9,732 bytes for a
Cortex-M3 "bluepill" build of 2021); ``ops`` is the kernels every exported model registers
(DEPTHWISE_CONV_2D, CONV_2D, MEAN, FULLY_CONNECTED: CMSIS-NN's on Cortex-M, with every data
type path their registration pulls in), ``pad`` and ``resize`` what PAD and RESIZE_BILINEAR add.
No per-op figures are published; these are measured (a proxy, labelled as such): tflite-micro
90b983c and CMSIS-NN 99f736a compiled with arm-none-eabi-gcc 12.2 ``-Os``, linked with
``--gc-sections`` (text + data; Cortex-M4 and M7 with their FPUs, M0+ without). Xtensa
(ESP32-S3, ESP-NN kernels) has no compiler here: its row repeats Cortex-M4's, a labelled proxy
(TFLM's reference kernels alone are 22,160 bytes there, CMSIS-NN's 60,328).

1 KB is 1,024 bytes throughout (as the datasheets count memory).
"""

from __future__ import annotations

from dataclasses import dataclass

RAM_RESERVE_KB = 64
FLASH_RESERVE_KB = 160

# TFLM's code in flash by core family, bytes (see the module docstring: measured, a proxy)
CODE_BYTES: dict[str, dict[str, int]] = {
    "cortex-m4": {"framework": 24608, "ops": 60328, "pad": 3416, "resize": 2612},
    "cortex-m7": {"framework": 24608, "ops": 57656, "pad": 3384, "resize": 2292},
    "cortex-m0plus": {"framework": 24960, "ops": 60992, "pad": 3544, "resize": 3504},
    "xtensa": {"framework": 24608, "ops": 60328, "pad": 3416, "resize": 2612},  # proxy: M4
}


def code_bytes(family: str, op_kinds=()) -> int:
    """TFLM's code for a model whose ops are of `op_kinds` (footprint.Op kinds) on `family`."""
    size = CODE_BYTES[family]
    return (
        size["framework"]
        + size["ops"]
        + (size["pad"] if "pad" in op_kinds else 0)
        + (size["resize"] if "resize" in op_kinds else 0)
    )


@dataclass(frozen=True)
class Board:
    name: str  # the setting's value: --target NAME
    label: str
    mcu: str
    ram_kb: int  # on-chip SRAM
    flash_kb: int  # flash the program and the model share
    datasheet: str  # document title and URL the figures come from
    family: str = "cortex-m4"  # the core, for TFLM's code size (CODE_BYTES)

    @property
    def ram_budget_kb(self) -> float:
        """SRAM left for the model's tensor arena: ram_kb - RAM_RESERVE_KB."""
        return float(self.ram_kb - RAM_RESERVE_KB)

    @property
    def flash_budget_kb(self) -> float:
        """Flash left for the model (.tflite) and TFLM's code: flash_kb - FLASH_RESERVE_KB."""
        return float(self.flash_kb - FLASH_RESERVE_KB)

    def code_kb(self, op_kinds=()) -> float:
        """TFLM's code for those ops on this board's core, KB (one decimal, rounded up)."""
        return -(-code_bytes(self.family, op_kinds) * 10 // 1024) / 10

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "mcu": self.mcu,
            "ram_kb": self.ram_kb,
            "flash_kb": self.flash_kb,
            "ram_budget_kb": self.ram_budget_kb,
            "flash_budget_kb": self.flash_budget_kb,
            "family": self.family,
        }


BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        Board(
            "nano33ble",
            "Arduino Nano 33 BLE Sense",
            "nRF52840",
            ram_kb=256,
            flash_kb=1024,
            # "nRF52840 Product Specification v1.7", Nordic Semiconductor, section 1 (key
            # features: 1 MB flash, 256 KB RAM), https://docs.nordicsemi.com/bundle/ps_nrf52840/
            # page/keyfeatures_html5.html; board: "Arduino Nano 33 BLE Sense product reference
            # manual" (ABX00031), https://docs.arduino.cc/resources/datasheets/ABX00031-datasheet.pdf
            datasheet="Nordic nRF52840 Product Specification v1.7; Arduino ABX00031 datasheet",
            family="cortex-m4",
        ),
        Board(
            "stm32f746",
            "STM32F746G Discovery",
            "STM32F746NG",
            ram_kb=320,
            flash_kb=1024,
            # "STM32F745xx STM32F746xx datasheet" DS10916, STMicroelectronics (1 MB flash, 320 KB
            # SRAM incl. 64 KB DTCM), https://www.st.com/resource/en/datasheet/stm32f746ng.pdf;
            # board: user manual UM1907 "Discovery kit for STM32F7 Series with STM32F746NG MCU"
            datasheet="ST DS10916 (STM32F746xx datasheet); ST UM1907",
            family="cortex-m7",
        ),
        Board(
            "rp2040",
            "Raspberry Pi Pico",
            "RP2040",
            ram_kb=264,
            flash_kb=2048,
            # "RP2040 Datasheet", Raspberry Pi Ltd (264 KB on-chip SRAM),
            # https://datasheets.raspberrypi.com/rp2040/rp2040-datasheet.pdf; flash is off-chip:
            # "Raspberry Pi Pico Datasheet" (2 MB QSPI flash),
            # https://datasheets.raspberrypi.com/pico/pico-datasheet.pdf
            datasheet="Raspberry Pi RP2040 Datasheet; Raspberry Pi Pico Datasheet",
            family="cortex-m0plus",
        ),
        Board(
            "esp32s3",
            "ESP32-S3-DevKitC-1 (N8, 8 MB flash)",
            "ESP32-S3",
            ram_kb=512,
            flash_kb=8192,
            # "ESP32-S3 Series Datasheet", Espressif (512 KB SRAM), https://www.espressif.com/
            # sites/default/files/documentation/esp32-s3_datasheet_en.pdf; flash depends on the
            # module: we take the ESP32-S3-WROOM-1-N8 (8 MB) of the DevKitC-1 N8, "ESP32-S3-WROOM-1
            # / WROOM-1U Datasheet", https://www.espressif.com/sites/default/files/documentation/
            # esp32-s3-wroom-1_wroom-1u_datasheet_en.pdf. PSRAM variants (N8R8) are not counted.
            datasheet="Espressif ESP32-S3 Series Datasheet; ESP32-S3-WROOM-1 Datasheet (N8)",
            family="xtensa",
        ),
    )
}

NO_TARGET = "none"
CUSTOM = "custom"
TARGET_CHOICES: tuple[tuple[str, str], ...] = (
    (NO_TARGET, "none (no limit)"),
    *(
        (b.name, f"{b.label}: {b.ram_kb} KB RAM, {b.flash_kb // 1024} MB flash")
        for b in BOARDS.values()
    ),
    (CUSTOM, "custom (the limits below)"),
)


def board(name: str) -> Board | None:
    """The board called `name`; None for "none" and "custom"."""
    return BOARDS.get(name)
