"""Extraction cost of big real files: a ~200 MB ZIP archive and a 50-page PDF.

Each case runs in its own process so its peak memory (max RSS) is its own:
extraction alone (what an isolated worker does) and the whole pipeline
(worker + scan + decision). Numbers are printed, never asserted.

    .venv/bin/python bench/extraction.py
"""

from __future__ import annotations

import io
import random
import resource
import secrets
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def make_archive(path: Path, megabytes: int = 200) -> None:
    from detection import products_csv

    rng = random.Random(7)
    member = products_csv(10 * 1024 * 1024, rng)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for i in range(megabytes // 10):
            archive.writestr(f"exports/products-{i:02d}.csv", member)


def make_pdf(path: Path, pages: int = 50) -> None:
    from fpdf import FPDF

    document = FPDF()
    document.add_font("DejaVu", "", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    document.set_font("DejaVu", size=10)
    rng = random.Random(7)
    words = "quarterly revenue pipeline partner campaign budget forecast region market launch".split()
    for _ in range(pages):
        document.add_page()
        for _ in range(45):
            document.cell(0, 5, " ".join(rng.choice(words) for _ in range(14)), new_x="LMARGIN", new_y="NEXT")
    path.write_bytes(bytes(document.output()))


def run_case(mode: str, path: Path) -> None:
    """Child process: do one measurement, print one line."""
    from detectors.extract import extract, fresh_context
    from detectors.findings import Part
    from detectors.limits import Limits
    from gateway.records import Envelope
    from gateway.runtime import Runtime
    from gateway.settings import Settings

    blob = path.read_bytes()
    start = time.perf_counter()
    if mode == "extract":
        parts = [i for i in extract(blob, path.name, fresh_context(Limits())) if isinstance(i, Part)]
        detail = f"{len(parts)} parts, {sum(len(p.text) for p in parts) / 1e6:.1f} M chars"
    else:
        runtime = Runtime.build(Settings(policies_dir=ROOT / "policies", hash_key=secrets.token_hex(16),
                                         data_dir=path.parent / "data"))
        start = time.perf_counter()
        report = runtime.pipeline.inspect(blob, Envelope(path.name, "wetransfer.com"), "en")
        runtime.close()
        detail = f"decision {report.decision.value}, {report.scan.parts} parts"
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{path.name:<14} {len(blob) / 1e6:7.1f} MB  {mode:<8} {seconds:7.2f} s  peak RSS {peak:6.0f} MB  {detail}")


def main() -> None:
    if len(sys.argv) == 3:
        run_case(sys.argv[1], Path(sys.argv[2]))
        return
    folder = Path(subprocess.check_output(["mktemp", "-d"], text=True).strip())
    archive, pdf = folder / "exports.zip", folder / "report.pdf"
    make_archive(archive)
    make_pdf(pdf)
    unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(archive.read_bytes())).infolist())
    print(f"archive: {unpacked / 1e6:.0f} MB unpacked in {archive.stat().st_size / 1e6:.0f} MB; pdf: 50 pages")
    for path in (archive, pdf):
        for mode in ("extract", "pipeline"):
            subprocess.run([sys.executable, __file__, mode, str(path)], check=True)
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
