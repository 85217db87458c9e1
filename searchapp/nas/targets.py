"""Microcontroller boards a search can target: SRAM and flash from the vendors' datasheets.

Plain data, no torch (the web form reads it). A board's budget is its SRAM and flash minus a
reserve for everything that is not the model: ``RAM_RESERVE_KB`` for the stack, the heap, the
runtime's own state and the application's buffers (a camera frame, say); ``FLASH_RESERVE_KB``
for the program: the bootloader or OS, TensorFlow Lite Micro's interpreter and kernels and the
application. An explicit ``max_ram_kb`` / ``max_flash_kb`` replaces the board's figure.

1 KB is 1,024 bytes throughout (as the datasheets count memory).
"""

from __future__ import annotations

from dataclasses import dataclass

RAM_RESERVE_KB = 64
FLASH_RESERVE_KB = 256


@dataclass(frozen=True)
class Board:
    name: str  # the setting's value: --target NAME
    label: str
    mcu: str
    ram_kb: int  # on-chip SRAM
    flash_kb: int  # flash the program and the model share
    datasheet: str  # document title and URL the figures come from

    @property
    def ram_budget_kb(self) -> float:
        """SRAM left for the model's tensor arena: ram_kb - RAM_RESERVE_KB."""
        return float(self.ram_kb - RAM_RESERVE_KB)

    @property
    def flash_budget_kb(self) -> float:
        """Flash left for the model (.tflite) itself: flash_kb - FLASH_RESERVE_KB."""
        return float(self.flash_kb - FLASH_RESERVE_KB)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "mcu": self.mcu,
            "ram_kb": self.ram_kb,
            "flash_kb": self.flash_kb,
            "ram_budget_kb": self.ram_budget_kb,
            "flash_budget_kb": self.flash_budget_kb,
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
