"""Headless Debian ``chromium`` driven over the DevTools protocol: load a report offline, run script in it, move
the real mouse pointer, collect console errors, take screenshots.

The protocol runs over ``--remote-debugging-pipe`` (file descriptors 3 and 4, NUL-terminated JSON), so no port,
no WebSocket library and no network are involved.

``python -m tests.report.chromium [STATE_DIR]`` redraws ``docs/report.png`` from the warehouse in STATE_DIR, or
from a synthetic OBT shaped like the real one when no folder is given.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def executable() -> str | None:
    return shutil.which("chromium")


class Browser:
    """One headless Chromium with one page; ``with Browser(workdir) as b: b.open(html)``."""

    def __init__(self, workdir: Path, width: int = 1280, height: int = 900, timeout: float = 60.0) -> None:
        binary = executable()
        if binary is None:
            raise RuntimeError("chromium is not installed")
        self.timeout = timeout
        self.width, self.height = width, height
        self.errors: list[str] = []  # console errors, uncaught exceptions and failed loads, as text
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        to_browser, self._write_fd = os.pipe()
        self._read_fd, from_browser = os.pipe()

        def on_fds_3_and_4() -> None:
            # Chromium reads commands on fd 3 and answers on fd 4; copy high first so that 3 and 4 are free.
            read_end = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self._process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={workdir / 'chromium-profile'}", "--remote-debugging-pipe"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=on_fds_3_and_4,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._session = ""
        try:
            self._attach()
        except BaseException:
            self.close()
            raise

    def _attach(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        metrics = {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", metrics)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # Closing our end of the pipe is Chromium's cue to quit; terminate in case it does not.
        os.close(self._write_fd)
        os.close(self._read_fd)
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    # -- the protocol ---------------------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, browser: bool = False) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session and not browser:
            message["sessionId"] = self._session
        os.write(self._write_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive(time.monotonic() + self.timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._note(reply)

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._read_fd], [], [], remaining)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._read_fd, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def _note(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(i)
            self._note(self._receive(deadline))

    # -- what tests use ---------------------------------------------------------------------------------------

    def open(self, html: Path) -> None:
        """Load ``html`` and wait for its load event (the report draws its charts before that)."""
        self._events.clear()
        self.send("Page.navigate", {"url": html.resolve().as_uri()})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def centre_of(self, selector: str) -> tuple[float, float]:
        """Scroll the first element matching ``selector`` into view; its centre in viewport coordinates."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        if box is None:
            raise LookupError(f"nothing matches {selector}")
        return box[0], box[1]

    def hover(self, selector: str) -> None:
        """Move the mouse pointer onto the element, as a user would."""
        x, y = self.centre_of(selector)
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def click(self, selector: str) -> None:
        x, y = self.centre_of(selector)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def screenshot(self, png: Path, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params |= {
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": self.width, "height": size["height"], "scale": 1},
            }
        png.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", params)["data"]))
        return png


def draw_docs_image(state_dir: Path | None, target: Path) -> Path:
    """The report of the warehouse in ``state_dir`` (or of a synthetic OBT) as a screenshot at ``target``."""
    from obt.warehouse import open_warehouse
    from obt_tools.analytics.report import collect_report, write_report
    from obt_tools.cli.report import settings_for
    from tests.report.synthetic_obt import create_synthetic_warehouse

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if state_dir is None:
            state_dir = work / "state"
            state_dir.mkdir()
            create_synthetic_warehouse(state_dir / "warehouse.duckdb")
        settings = settings_for(state_dir)
        html = write_report(collect_report(open_warehouse(settings), settings), work / "report")
        with Browser(work, width=1280, height=2400) as browser:
            browser.open(html)
            browser.screenshot(target)
    return target


def _main(argv: list[str]) -> int:
    target = draw_docs_image(
        Path(argv[0]) if argv else None, Path(__file__).resolve().parents[2] / "docs" / "report.png"
    )
    print(f"{target}: {target.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
