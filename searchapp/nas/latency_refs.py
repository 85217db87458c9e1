"""The published measurements ``latency`` is calibrated on and checked against.

Each row: the core, the board measured, its clock (MHz), the reference network (a key of
``latency.MODELS``), the measured ms of one inference, its use ("fit": it sets the core's
scale; "held back": it gives the error to expect) and the source, quoted with its address.
"""

from __future__ import annotations

MLPERF_V05 = "https://github.com/mlcommons/tiny_results_v0.5/tree/main/closed/reference/results"
PICO_BENCH = "https://github.com/raspberrypi/pico-tflmicro/blob/main/benchmark_results.txt"
CALIBRATION: list[dict] = [
    {
        "core": "cortex-m4",
        "board": "STM32 Nucleo-L4R5ZI (Cortex-M4F)",
        "mhz": 120.0,
        "model": "resnet8",
        "ms": 704.3,
        "use": "fit",
        "source": "MLPerf Tiny v0.5 reference (TFLM + CMSIS-NN), image classification: 100 "
        f"inferences in 70.425 s, {MLPERF_V05}/Nucleo-L4R5ZI/ic/performance/results.txt",
    },
    {
        "core": "cortex-m4",
        "board": "STM32 Nucleo-L4R5ZI (Cortex-M4F)",
        "mhz": 120.0,
        "model": "mobilenet_v1_025_rgb",
        "ms": 600.5,
        "use": "held back",
        "source": "MLPerf Tiny v0.5 reference, visual wake words: 100 inferences in 60.054 s, "
        f"{MLPERF_V05}/Nucleo-L4R5ZI/vww/performance/results.txt",
    },
    {
        "core": "cortex-m4",
        "board": "STM32 Nucleo-L4R5ZI (Cortex-M4F)",
        "mhz": 120.0,
        "model": "ds_cnn",
        "ms": 181.9,
        "use": "held back",
        "source": "MLPerf Tiny v0.5 reference, keyword spotting: 100 inferences in 18.192 s, "
        f"{MLPERF_V05}/Nucleo-L4R5ZI/kws/performance/results.txt",
    },
    {
        "core": "cortex-m4",
        "board": "STM32 Nucleo-F413ZH (Cortex-M4F)",
        "mhz": 100.0,
        "model": "mobilenet_v1_025_gray",
        "ms": 386.6,
        "use": "fit",
        "source": "TFLM's person_detection with CMSIS-NN on a NUCLEO-F413ZH (Mbed, 100 MHz): "
        "invoke 386,595 us, Samsung/ONE issue 7598 (comment of 2021-09-15), "
        "https://github.com/Samsung/ONE/issues/7598",
    },
    {
        "core": "cortex-m7",
        "board": "STM32 Nucleo-F767ZI (Cortex-M7), arena in external SDRAM",
        "mhz": 216.0,
        "model": "mobilenet_v1_025_gray",
        "ms": 393.8,
        "use": "held back",
        "source": "TFLM's person_detection with CMSIS-NN on an STM32F767ZI at 216 MHz, tensor "
        "arena in 187 MHz SDRAM over the FMC: invoke 393,753 us, Samsung/ONE issue 7598 "
        "(comment of 2021-11-07), https://github.com/Samsung/ONE/issues/7598",
    },
    {
        "core": "cortex-m7",
        "board": "STM32F746 (Cortex-M7)",
        "mhz": 216.0,
        "model": "cmsis_nn_cifar10",
        "ms": 99.1,
        "use": "fit",
        "source": "Lai, Suda, Chandra, 'CMSIS-NN: Efficient Neural Network Kernels for Arm "
        "Cortex-M CPUs', arXiv:1801.06601 (2018), section 5: 10.1 images/s (CMSIS-NN kernels "
        "without TFLM's interpreter), https://arxiv.org/abs/1801.06601",
    },
    {
        "core": "cortex-m7",
        "board": "STM32F746G-Discovery (Cortex-M7)",
        "mhz": 216.0,
        "model": "mobilenet_v2_030_80",
        "ms": 129.0,
        "use": "held back",
        "source": "Plumerai, 'The world's fastest deep learning inference software for Arm "
        "Cortex-M' (4 October 2021): MobileNetV2 alpha 0.30, 80x80, 1000 classes on an "
        "STM32F746G-Discovery at 216 MHz, TensorFlow Lite for Microcontrollers 2.5 with "
        "CMSIS-NN 129 ms, https://blog.plumerai.com/2021/10/cortex-m-inference-software/",
    },
    {
        "core": "cortex-m0plus",
        "board": "Raspberry Pi Pico (RP2040, Cortex-M0+), one core",
        "mhz": 125.0,
        "model": "mobilenet_v1_025_gray",
        "ms": 823.658,
        "use": "fit",
        "source": "pico-tflmicro (TFLM with CMSIS-NN for the Pico), benchmark_results.txt of "
        "January 2024: person_detection_benchmark without the multicore optimizations, "
        "'NoPersonDataIterations(1) took 823658 ticks (823 ms)'; no clock is set, so the Pico "
        f"SDK's default, 125 MHz, {PICO_BENCH}",
    },
    {
        "core": "cortex-m0plus",
        "board": "Raspberry Pi Pico (RP2040, Cortex-M0+), one core, per-op times",
        "mhz": 125.0,
        "model": "person_detection_dw",
        "ms": 271.890,
        "use": "held back",
        "source": "the same run's per-op lines (lines 2 to 27 alternate the blocks' "
        "DEPTHWISE_CONV_2D and CONV_2D): the 13 depthwise convs, 271,890 ticks (us) in all, "
        f"{PICO_BENCH}",
    },
    {
        "core": "cortex-m0plus",
        "board": "Raspberry Pi Pico (RP2040, Cortex-M0+), one core, per-op times",
        "mhz": 125.0,
        "model": "person_detection_1x1",
        "ms": 515.762,
        "use": "held back",
        "source": "the same run's per-op lines: the 13 1x1 CONV_2D, 515,762 ticks (us) in all, "
        f"{PICO_BENCH}",
    },
    {
        "core": "cortex-m0plus",
        "board": "Raspberry Pi Pico (RP2040, Cortex-M0+), the 2021 port",
        "mhz": 125.0,
        "model": "mobilenet_v1_025_gray",
        "ms": 2200.0,
        "use": "held back",
        "source": "E. Upton, tinyML Summit 2021 (March 2021): person detection on the Pico in "
        "2,200 ms with the original single-core TFLM port, as reported in 'Next Pi Silicon "
        "processor to feature machine learning acceleration', HEXUS, 8 March 2021, https://"
        "hocdirect.co.uk/2021/03/08/next-pi-silicon-processor-to-characteristic-machine-studying-"
        "acceleration/",
    },
    {
        "core": "xtensa",
        "board": "ESP32-S3 (Xtensa LX7)",
        "mhz": 240.0,
        "model": "mobilenet_v1_025_gray",
        "ms": 54.0,
        "use": "fit",
        "source": "esp-tflite-micro README, 'Performance Comparison': person detection with "
        "ESP-NN, invoke() 54 ms at 240 MHz, https://github.com/espressif/esp-tflite-micro",
    },
    {
        "core": "xtensa",
        "board": "ESP32-S3 (Xtensa LX7)",
        "mhz": 240.0,
        "model": "espnn_conv1x1_64",
        "ms": 461398 / 240e3,
        "use": "held back",
        "source": "ESP-NN README, kernelwise performance on ESP32-S3: convolution input 10x10, "
        "filter 64x1x1x64, 461,398 ticks, https://github.com/espressif/esp-nn",
    },
    {
        "core": "xtensa",
        "board": "ESP32-S3 (Xtensa LX7)",
        "mhz": 240.0,
        "model": "espnn_conv3x3_3_64",
        "ms": 643689 / 240e3,
        "use": "held back",
        "source": "ESP-NN README: convolution input 10x10, filter 64x3x3x3, 643,689 ticks, "
        "https://github.com/espressif/esp-nn",
    },
    {
        "core": "xtensa",
        "board": "ESP32-S3 (Xtensa LX7)",
        "mhz": 240.0,
        "model": "espnn_dw3x3_16",
        "ms": 191931 / 240e3,
        "use": "held back",
        "source": "ESP-NN README: depthwise conv input 18x18, filter 1x3x3x16, 191,931 ticks, "
        "https://github.com/espressif/esp-nn",
    },
]
