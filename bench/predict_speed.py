"""Try it: latency of one prediction through the API's code path, on this CPU.

    python bench/predict_speed.py [--repeats 50] [--depth 5] [--width 32] [--json-out F]

Builds, in a temporary folder (SQLite, media files), a user, a 10-class dataset of 32x32 images
and a finished search whose model.onnx is a real Mini-NAS network exported by the engine (as the
search job does; untrained weights time the same). Then POSTs one 32x32 PNG to
/api/searches/<id>/predict/ with Django's test client (the whole view: authentication, the
multipart body, decoding, ONNX Runtime on the CPU, the JSON answer) `--repeats` times.

Prints JSON: the first call (it loads the ONNX Runtime session) and the p50/p95/max of the others,
in milliseconds. Target: under 200 ms for a 32x32 model on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_MS = 200


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--depth", type=int, default=5)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="mininas-predict-bench-"))
    os.environ.update(
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="mininas_web.settings",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp / "media"),
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    import numpy as np
    import torch
    from PIL import Image

    from searchapp.models import Search
    from searchapp.nas.data import ImageData
    from searchapp.nas.export import Classifier, export_onnx
    from searchapp.nas.model import build_model
    from searchapp.nas.space import Arch
    from searchapp.storage import create_dataset_from_imagedata, search_dir

    rng = np.random.default_rng(0)
    classes = [f"class{i}" for i in range(10)]
    side = args.size

    def images(n):
        return rng.integers(0, 256, (n, side, side, 3), dtype=np.uint8)

    y = np.arange(50) % 10
    data = ImageData(images(50), y, images(20), np.arange(20) % 10, classes, source="bench")
    user = get_user_model().objects.create_user("bench", password="bench-password-123")
    dataset = create_dataset_from_imagedata(user, "bench", data, source="bench")
    search = Search.objects.create(owner=user, dataset=dataset, settings={})

    arch = Arch.from_dict(
        {
            "depth": args.depth,
            "width": args.width,
            "ops": ["sep"] * args.depth,
            "kernels": [3] * args.depth,
            "stem": "cifar",
        }
    )
    torch.manual_seed(0)
    model = Classifier(build_model(arch, 3, len(classes)), [0.5] * 3, [0.25] * 3, None).eval()
    folder = search_dir(search.pk)
    folder.mkdir(parents=True, exist_ok=True)
    export_onnx(model, side, folder / "model.onnx")
    search.status = "finished"
    search.outputs = {"onnx": f"searches/{search.pk}/model.onnx"}
    search.save()

    buf = io.BytesIO()
    Image.fromarray(images(1)[0]).save(buf, "PNG")
    png = buf.getvalue()
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    url = f"/api/searches/{search.pk}/predict/"

    def once() -> float:
        f = io.BytesIO(png)
        f.name = "one.png"
        t = time.perf_counter()
        r = client.post(url, {"image": f})
        ms = (time.perf_counter() - t) * 1000
        assert r.status_code == 200, r.content[:300]
        return ms

    first = once()
    times = sorted(once() for _ in range(args.repeats))
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    out = {
        "benchmark": "predict_speed",
        "image_size": side,
        "arch": arch.short,
        "classes": len(classes),
        "onnx_bytes": (folder / "model.onnx").stat().st_size,
        "cpu_count": os.cpu_count(),
        "first_ms": round(first, 1),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(times[-1], 1),
        "repeats": args.repeats,
        "target_ms": TARGET_MS,
        "meets_target": p95 < TARGET_MS,
    }
    shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    return out


if __name__ == "__main__":
    main()
