"""Test helpers for real processes and a real browser: free ports and who listens on them,
waiting on a condition, process groups started and killed whole, and headless Chromium driven
over DevTools."""
from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import aiohttp

CHROMIUM = Path("/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (OSError, LookupError, ValueError):  # not up yet
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def start_process(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(process: subprocess.Popen) -> None:
    """The process and everything it started (one session): Ray's daemons, MLflow's workers."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


class Browser:
    """Headless Chromium driven over its DevTools protocol (aiohttp's websocket client, which
    Ray's dashboard already depends on): set a cookie, open a page, read its text, screenshot it."""

    FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-port=0", "--window-size=1400,900")

    def __init__(self, binary: Path, profile: Path) -> None:
        self.binary, self.profile, self.calls = binary, profile, 0
        self.loop = asyncio.new_event_loop()

    def __enter__(self) -> Browser:
        self.process = start_process([str(self.binary), *self.FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                              dict(os.environ), self.profile.with_suffix(".log"))
        port_file = self.profile / "DevToolsActivePort"
        port = wait_for("Chromium's DevTools port",
                        lambda: port_file.is_file() and port_file.read_text().split()[0], 60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            (page,) = [t for t in json.load(response) if t["type"] == "page"]
        self.session = self.loop.run_until_complete(self._session())
        connect = self.session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        self.socket = self.loop.run_until_complete(connect)
        return self

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def __exit__(self, *_: object) -> None:
        self.loop.run_until_complete(self.socket.close())
        self.loop.run_until_complete(self.session.close())
        self.loop.close()
        stop_process(self.process)

    def call(self, method: str, **params: object) -> dict:
        async def exchange() -> dict:
            self.calls += 1
            await self.socket.send_json({"id": self.calls, "method": method, "params": params})
            while True:
                message = await self.socket.receive_json(timeout=30)
                if message.get("id") == self.calls:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    return message["result"]

        return self.loop.run_until_complete(exchange())

    def set_cookie(self, name: str, value: str, url: str) -> None:
        assert self.call("Network.setCookie", name=name, value=value, url=url).get("success", True)

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def wait_for_text(self, ready: Callable[[str], bool], timeout: float) -> str:
        def text() -> str | None:
            page = self.call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''",
                             returnByValue=True)["result"]["value"]
            return page if ready(page) else None

        return wait_for("the page to show it", text, timeout)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path


def listening_hosts(port: int, states: tuple[str, ...] = ("0A",)) -> set[str]:
    """The local addresses a TCP port listens on, from Linux's /proc/net/tcp{,6} (state 0A;
    add 07 for a socket bound but not yet listening)."""
    hosts = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state in states and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # little-endian words
                hosts.add(str(ipaddress.ip_address(words)))
    return hosts
