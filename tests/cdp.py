"""A small headless-Chromium driver for the browser tests (Chrome DevTools Protocol over a pipe).

Chromium runs with ``--remote-debugging-pipe``: it reads commands on its fd 3 and
writes answers on fd 4, NUL-terminated JSON. No websocket library, no network
port; networking is off except for 127.0.0.1 (the tests' own ``serve``). Every
read has a deadline, so a stuck browser fails the test instead of hanging it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT = 60.0


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


class CDPError(RuntimeError):
    """Chromium answered a command with an error, or did not answer in time."""


class Browser:
    """One headless Chromium; :meth:`open` gives a :class:`Page`."""

    def __init__(self, chromium: str, profile: str, *, width: int = 1400, height: int = 800) -> None:
        self.width, self.height = width, height
        cmd_r, self._cmd_w = os.pipe()  # we write commands, Chromium reads them as fd 3
        self._res_r, res_w = os.pipe()  # Chromium writes answers as fd 4, we read them
        hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 100)
        hi_w = fcntl.fcntl(res_w, fcntl.F_DUPFD_CLOEXEC, 100)
        os.close(cmd_r)
        os.close(res_w)

        def child_fds() -> None:  # runs in the child between fork and exec
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        args = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-sync", "--disable-extensions", "--no-default-browser-check",
            "--proxy-server=127.0.0.1:9",  # loopback (the tests' own server) bypasses the proxy
            f"--user-data-dir={profile}", f"--window-size={width},{height}", "--hide-scrollbars",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            close_fds=False, preexec_fn=child_fds,
        )
        os.close(hi_r)
        os.close(hi_w)
        self._next_id = 0
        self._buf = b""
        self.console: list[str] = []
        self.exceptions: list[str] = []

    # ------------------------------------------------------------ protocol

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("Chromium did not answer in time")
            ready, _, _ = select.select([self._res_r], [], [], left)
            if ready:
                chunk = os.read(self._res_r, 1 << 20)
                if not chunk:
                    raise CDPError("Chromium closed the debugging pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise CDPError(f"{method}: {answer['error']}")
                return answer.get("result", {})  # type: ignore[no-any-return]
            self._event(answer)

    def _event(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        params = msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.exceptions.append(str(details.get("exception", {}).get("description", details.get("text"))))

    def open(self, url: str) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.send("Runtime.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        page.goto(url)
        return page

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (CDPError, OSError):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._cmd_w, self._res_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab: navigate, evaluate JavaScript, wait for a condition, take a screenshot."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def goto(self, url: str, *, ready: str = "document.body && document.body.dataset.ready === 'true'",
             timeout: float = DEFAULT_TIMEOUT) -> None:
        self.send("Page.navigate", {"url": url})
        if not self.wait_for(ready, timeout=timeout):
            raise CDPError(f"{url}: page not ready after {timeout} s; exceptions: {self.browser.exceptions}")

    def eval(self, expression: str, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise CDPError(f"{expression}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, condition: str, *, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """True once the JavaScript *condition* holds (checked in the page every 50 ms), False after *timeout*."""
        ms = int(timeout * 1000)
        js = (
            "new Promise(function (resolve) { var t0 = Date.now(); (function check() {"
            f" var ok = false; try {{ ok = !!({condition}); }} catch (e) {{}}"
            f" if (ok) resolve(true); else if (Date.now() - t0 > {ms}) resolve(false);"
            " else setTimeout(check, 50); })(); })"
        )
        return bool(self.eval(js, timeout=timeout + 10))

    def key(self, key: str) -> None:
        """Press one key (dispatched as a keydown on the window, as the viewer listens)."""
        self.eval(f"window.dispatchEvent(new KeyboardEvent('keydown', {{key: {json.dumps(key)}}}))")

    def mouse(self, kind: str, x: float, y: float, *, clicks: int = 1) -> None:
        """A real mouse event at (x, y) CSS pixels: ``kind`` is pressed, released or moved."""
        params: dict[str, Any] = {"type": f"mouse{kind.capitalize()}" if kind != "moved" else "mouseMoved",
                                  "x": x, "y": y}
        if kind in ("pressed", "released"):
            params.update(button="left", clickCount=clicks)
        elif kind == "moved":
            params.update(button="left", buttons=1)
        self.send("Input.dispatchMouseEvent", params)

    def drag(self, x0: float, y0: float, x1: float, y1: float, *, steps: int = 5) -> None:
        self.mouse("pressed", x0, y0)
        for k in range(1, steps + 1):
            self.mouse("moved", x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)
        self.mouse("released", x1, y1)

    def rect(self, selector: str) -> dict[str, float]:
        """The bounding box of the first element matching *selector* (CSS pixels)."""
        return self.eval(  # type: ignore[no-any-return]
            f"(function () {{ var r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return {left: r.left, top: r.top, width: r.width, height: r.height}; })()")

    def click(self, selector: str) -> None:
        self.eval(f"document.querySelector({json.dumps(selector)}).click()")

    def frame(self) -> None:
        """Wait until the page has drawn what it scheduled (two animation frames)."""
        self.send("Page.bringToFront")  # a background tab draws no frames
        self.eval("new Promise(function (r) { requestAnimationFrame(function () { requestAnimationFrame(r); }); })")

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        self.frame()
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out
