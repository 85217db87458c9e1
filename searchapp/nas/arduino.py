"""The int8 model as an Arduino library a user can flash: ``model_arduino.zip`` (no torch).

The zip holds one folder, ``MiniNAS_Model/`` (what the Arduino IDE's "Add .ZIP Library" and
``arduino-cli lib install --zip-path`` expect):

- ``library.properties``: the library's name and version; it depends on ``Arduino_TensorFlowLite``
  (TensorFlow Lite Micro for Arduino, github.com/tensorflow/tflite-micro-arduino-examples);
- ``src/model_data.h`` / ``src/model_data.cpp``: the C array export (int8.write_c_array) with the
  tensor arena size (``MODEL_ARENA_BYTES``); the source is named ``.cpp`` because the Arduino
  builder compiles ``.cpp``, not ``.cc``;
- ``examples/classify_image/classify_image.ino`` + ``test_image.h``: a sketch that runs one test
  image (embedded as the model's int8 input) through ``tflite::MicroInterpreter`` with an arena of
  ``MODEL_ARENA_BYTES`` and prints the class, the expected label and the invoke time on Serial.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from .files import atomic_path

LIBRARY = "MiniNAS_Model"
EXAMPLE = "classify_image"

# TFLM builtin op -> MicroMutableOpResolver method (the ops an exported model can use)
RESOLVER = {
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "CONV_2D": "AddConv2D",
    "PAD": "AddPad",
    "MEAN": "AddMean",
    "FULLY_CONNECTED": "AddFullyConnected",
    "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESHAPE": "AddReshape",
    "QUANTIZE": "AddQuantize",
    "DEQUANTIZE": "AddDequantize",
    "SOFTMAX": "AddSoftmax",
    "AVERAGE_POOL_2D": "AddAveragePool2D",
    "ADD": "AddAdd",
}

PROPERTIES = """name={name}
version=1.0.0
author=Mini-NAS
maintainer=Mini-NAS
sentence=An int8 image classifier found by Mini-NAS ({classes} classes), for TensorFlow Lite Micro.
paragraph=Model {model}: input int8 {shape}, tensor arena {arena} bytes ({classnames}).
category=Data Processing
url=https://github.com/tensorflow/tflite-micro-arduino-examples
architectures=*
depends=Arduino_TensorFlowLite
includes=model_data.h
"""

SKETCH = """// Mini-NAS: classify one test image with TensorFlow Lite Micro and print the class.
// Needs the Arduino_TensorFlowLite library (github.com/tensorflow/tflite-micro-arduino-examples).
#include <TensorFlowLite.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include <model_data.h>
#include "test_image.h"

namespace {{
// MODEL_ARENA_BYTES (model_data.h): the arena TFLM needed for this model, plus a margin for the
// optimised kernels' scratch buffers.
alignas(16) uint8_t tensor_arena[MODEL_ARENA_BYTES];
}}  // namespace

void setup() {{
  Serial.begin(115200);
  while (!Serial && millis() < 5000) {{
  }}
  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {{
    Serial.println("The model's schema version is not this library's.");
    return;
  }}
  static tflite::MicroMutableOpResolver<{n_ops}> resolver;
{resolver}
  static tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, MODEL_ARENA_BYTES);
  if (interpreter.AllocateTensors() != kTfLiteOk) {{
    Serial.println("AllocateTensors failed: the tensor arena is too small.");
    return;
  }}
  TfLiteTensor* input = interpreter.input(0);
  for (int i = 0; i < g_test_image_len; ++i) {{
    input->data.int8[i] = g_test_image[i];
  }}
  const unsigned long start = micros();
  if (interpreter.Invoke() != kTfLiteOk) {{
    Serial.println("Invoke failed.");
    return;
  }}
  const unsigned long took = micros() - start;
  const TfLiteTensor* output = interpreter.output(0);
  int best = 0;
  for (int i = 1; i < MODEL_NUM_CLASSES; ++i) {{
    if (output->data.int8[i] > output->data.int8[best]) best = i;
  }}
  Serial.print("class: ");
  Serial.println(g_model_class_names[best]);
  Serial.print("label of the test image: ");
  Serial.println(g_test_image_label);
  Serial.print("class on the host (TFLM): ");
  Serial.println(g_test_image_host_class);
  Serial.print("invoke: ");
  Serial.print(took);
  Serial.println(" us");
  Serial.print("arena used: ");
  Serial.print((unsigned long)interpreter.arena_used_bytes());
  Serial.print(" of ");
  Serial.println((unsigned long)MODEL_ARENA_BYTES);
}}

void loop() {{}}
"""


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def image_header(image: np.ndarray, label: str, host_class: str, io_: dict) -> str:
    """test_image.h: one uint8 (H, W, 3) image as the model's int8 input (NHWC)."""
    q = np.round(image.astype(np.float32) / 255.0 / io_["input_scale"]) + io_["input_zero_point"]
    values = np.clip(q, -128, 127).astype(np.int8).ravel()
    rows = [
        "    " + ", ".join(str(int(v)) for v in values[i : i + 16]) + ","
        for i in range(0, len(values), 16)
    ]
    body = "\n".join(rows)
    shape = "x".join(map(str, image.shape))
    return f"""// One test image as the model's int8 input ({shape}, NHWC).
#ifndef MININAS_TEST_IMAGE_H_
#define MININAS_TEST_IMAGE_H_

#include <stdint.h>

static const int8_t g_test_image[] = {{
{body}
}};
static const int g_test_image_len = {len(values)};
static const char* const g_test_image_label = {_c_string(label)};
static const char* const g_test_image_host_class = {_c_string(host_class)};

#endif  // MININAS_TEST_IMAGE_H_
"""


def sketch(ops: list[str]) -> str:
    """The example sketch, registering the model's ops (ValueError for an op it cannot name)."""
    missing = [op for op in ops if op not in RESOLVER]
    if missing:
        raise ValueError(f"no Arduino op resolver entry for {', '.join(missing)}")
    lines = "\n".join(f"  resolver.{RESOLVER[op]}();" for op in ops)
    return SKETCH.format(n_ops=len(ops), resolver=lines)


def write_library(
    path: str | os.PathLike,
    c_files: tuple[str | os.PathLike, str | os.PathLike],
    tflm: dict,
    io_: dict,
    sample: tuple[np.ndarray, str, str],
    classes: list[str],
) -> None:
    """Write the zip: library.properties, src/ (the C array `c_files`: source, header) and
    examples/ (the sketch). `tflm` is exports.tflm ("file", "arena_bytes", "ops"); `sample` is
    (uint8 image, its label, the class TFLM gave it on the host)."""
    source, header = c_files
    image, label, host_class = sample
    properties = PROPERTIES.format(
        name=LIBRARY,
        classes=len(classes),
        model=tflm.get("file", "model_int8.tflite"),
        shape="x".join(map(str, io_["input_shape"])),
        arena=tflm["arena_bytes"],
        classnames=", ".join(classes)[:200].replace("\n", " "),
    )
    files = {
        "library.properties": properties,
        "src/model_data.h": Path(header).read_text(),
        "src/model_data.cpp": Path(source).read_text(),
        f"examples/{EXAMPLE}/{EXAMPLE}.ino": sketch(tflm["ops"]),
        f"examples/{EXAMPLE}/test_image.h": image_header(image, label, host_class, io_),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(f"{LIBRARY}/{name}", text)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buf.getvalue())
