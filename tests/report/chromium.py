"""Headless Debian ``chromium``: render a report offline, read back its DOM, take screenshots.

``python -m tests.report.chromium [STATE_DIR]`` redraws ``docs/report.png`` from the warehouse in STATE_DIR, or
from a synthetic OBT shaped like the real one when no folder is given.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    # Every host name fails to resolve: a chart that needed the network would not render.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

# Appended to a copy of the report: after load, the page records how many images decoded to a non-zero size.
MARKER = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const drawn = images.filter((i) => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0);
  document.body.setAttribute("data-images", String(images.length));
  document.body.setAttribute("data-images-drawn", String(drawn.length));
});
</script>"""


def executable() -> str | None:
    return shutil.which("chromium")


def _run(html: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = executable()
    if binary is None:
        raise RuntimeError("chromium is not installed")
    command = [binary, *FLAGS, f"--user-data-dir={profile}", *args, html.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def rendered_image_counts(html: Path, workdir: Path) -> tuple[int, int]:
    """``(images, images drawn with a non-zero natural size)`` once Chromium has loaded ``html``."""
    marked = workdir / "marked.html"
    marked.write_text(html.read_text(encoding="utf-8").replace("</body>", MARKER + "</body>"), encoding="utf-8")
    dom = _run(marked, workdir / "profile-dom", "--virtual-time-budget=10000", "--dump-dom").stdout
    images = re.search(r'data-images="(\d+)"', dom)
    drawn = re.search(r'data-images-drawn="(\d+)"', dom)
    if not images or not drawn:
        raise AssertionError(f"the page never finished loading; DOM starts {dom[:300]!r}")
    return int(images.group(1)), int(drawn.group(1))


def screenshot(html: Path, png: Path, workdir: Path, width: int = 1280, height: int = 2200) -> Path:
    _run(html, workdir / "profile-shot", f"--window-size={width},{height}", f"--screenshot={png}")
    return png


def shrink(png: Path, colors: int = 128) -> Path:
    """A palette PNG: charts and text have few colours, so this cuts the size several times over."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)
    return png


def _main(argv: list[str]) -> int:
    from obt.warehouse import open_warehouse
    from obt_tools.analytics.insights import collect
    from obt_tools.analytics.report import write_report
    from obt_tools.cli.report import settings_for
    from tests.report.synthetic_obt import create_synthetic_warehouse

    target = Path(__file__).resolve().parents[2] / "docs" / "report.png"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        state_dir = Path(argv[0]) if argv else work / "state"
        if not argv:
            state_dir.mkdir()
            create_synthetic_warehouse(state_dir / "warehouse.duckdb")
        settings = settings_for(state_dir)
        html = write_report(collect(open_warehouse(settings), settings), work / "report")
        screenshot(html, work / "shot.png", work)
        shutil.copyfile(shrink(work / "shot.png"), target)
    print(f"{target}: {target.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
