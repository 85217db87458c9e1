"""Disk and memory of a small upload that decodes big: 2,000 solid-colour PNGs.

    python bench/dataset_memory.py [--images 2000] [--side 512] [--json-out FILE]

Writes N solid-colour side x side PNGs (10 classes), then uploads them through the web's own
code path twice, each in a fresh child process so that its memory is its own: as a folder
(searchapp.uploads.start_upload / add_files in batches of UPLOAD_BATCH_FILES / finish_upload)
and as one zip (searchapp.uploads.dataset_from_zip), each then packed by the packing job
(searchapp.tasks.pack.run_pack_job) in the same child, as a worker runs it. Each child sets
Django up on a temporary
SQLite file and MEDIA_ROOT, reads its RSS when idle (everything imported, nothing uploaded),
resets the kernel's peak-RSS mark, uploads and packs, and reports the peak above idle. A third
child asks for a 512 px working resolution, which the pixel budget refuses before decoding.

Prints one JSON object: bytes uploaded, bytes of the dataset on disk, peak RSS above idle,
seconds. Targets: on disk <= 20 MB, memory while packing <= 300 MB above idle.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_DISK_BYTES = 20 * 10**6
TARGET_PEAK_BYTES = 300 * 10**6


def write_pngs(folder: Path, n: int, side: int) -> int:
    """n solid-colour PNGs in 10 class folders; returns their total bytes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    total = 0
    for i in range(n):
        cls = folder / f"class{i % 10}"
        cls.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        Image.new("RGB", (side, side), colour).save(buf, "PNG")
        (cls / f"{i:05d}.png").write_bytes(buf.getvalue())
        total += len(buf.getvalue())
    return total


def write_zip(folder: Path, target: Path) -> int:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*.png")):
            zf.write(p, p.relative_to(folder.parent).as_posix())
    return target.stat().st_size


# ----------------------------------------------------------------------------- the child


def _rss(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(mode: str, source: Path, work: Path, max_side: str) -> dict:
    """One upload in this process (Django set up here); returns what it measured."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="mininas_web.settings",
        SECRET_KEY="bench-dataset-memory",
        DEBUG="0",  # DEBUG keeps every query in memory
        DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
        MEDIA_ROOT=str(work / "media"),
        REDIS_URL="redis://127.0.0.1:1/0",  # no queue: the job runs here
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
    from django.core.management import call_command

    from searchapp import uploads
    from searchapp.models import Dataset
    from searchapp.storage import dataset_dir, folder_bytes
    from searchapp.tasks.pack import run_pack_job

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-dataset-memory")
    files = sorted(p for p in source.rglob("*.png")) if mode != "zip" else []

    idle = _rss("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux >= 4.0)
    start = time.perf_counter()
    out: dict = {}
    try:
        if mode == "zip":
            with open(source, "rb") as f:
                uploaded = UploadedFile(f, name=source.name, size=source.stat().st_size)
                d = uploads.dataset_from_zip(
                    user, "bench", uploaded, uploads.working_side(max_side)
                )
        else:
            upload = uploads.start_upload(user, "bench")
            batch = settings.UPLOAD_BATCH_FILES
            for i in range(0, len(files), batch):  # one request's files at a time, as the page
                chunk = files[i : i + batch]
                objs = [SimpleUploadedFile(p.name, p.read_bytes()) for p in chunk]
                paths = [p.relative_to(source.parent).as_posix() for p in chunk]
                uploads.add_files(upload, objs, paths)
            d = uploads.finish_upload(upload, "bench", uploads.working_side(max_side))
        run_pack_job(d.pk)  # as a worker would
        d = Dataset.objects.get(pk=d.pk)
        if d.status != Dataset.Status.READY:
            raise uploads.UploadError(d.error)
        out.update(
            bytes_on_disk=folder_bytes(dataset_dir(d.pk)),
            npz_bytes=(dataset_dir(d.pk) / "data.npz").stat().st_size,
            images=d.num_train + d.num_test,
            image_size=d.image_size,
            resized=d.resized,
        )
    except uploads.UploadError as exc:
        out["refused"] = str(exc)
    out.update(
        seconds=round(time.perf_counter() - start, 2),
        idle_rss_bytes=idle,
        peak_rss_above_idle_bytes=_rss("VmHWM") - idle,
    )
    return out


def run_child(mode: str, source: Path, work: Path, max_side: str = "") -> dict:
    work.mkdir(parents=True)
    cmd = [sys.executable, __file__, "--child", mode, str(source), str(work), max_side]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{mode} upload failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, source, work, max_side = sys.argv[2:6]
        print(json.dumps(child(mode, Path(source), Path(work), max_side)))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--side", type=int, default=512)
    p.add_argument("--json-out", default=None, help="also write the JSON to this file")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mininas-dataset-bench-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "solid"
        png_bytes = write_pngs(folder, args.images, args.side)
        zip_bytes = write_zip(folder, tmp / "solid.zip")
        runs = {
            "folder": run_child("folder", folder, tmp / "folder"),
            "zip": run_child("zip", tmp / "solid.zip", tmp / "zip"),
            "zip_at_512px": run_child("zip", tmp / "solid.zip", tmp / "zip512", "512"),
        }
    for key in ("folder", "zip"):
        r = runs[key]
        r["disk_ok"] = r.get("bytes_on_disk", 10**12) <= TARGET_DISK_BYTES
        r["memory_ok"] = r["peak_rss_above_idle_bytes"] <= TARGET_PEAK_BYTES
    out = {
        "images": args.images,
        "image_side_uploaded": args.side,
        "bytes_uploaded_pngs": png_bytes,
        "bytes_uploaded_zip": zip_bytes,
        "target_disk_bytes": TARGET_DISK_BYTES,
        "target_peak_rss_above_idle_bytes": TARGET_PEAK_BYTES,
        "runs": runs,
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
