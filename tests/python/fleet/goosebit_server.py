"""gooseBit (PyPI `goosebit`), a real hawkBit DDI server, on 127.0.0.1, driven through its own API.

The server runs from the tier's venv (`scripts/test-fleet` installs it): its SQLite database is
migrated with aerich first (gooseBit does not create its schema itself), then uvicorn serves the
app on 127.0.0.1 only (`python -m goosebit` would bind 0.0.0.0). What the API calls do, read in
gooseBit 0.2.12's source:

- `POST /setup` (form username/password) creates the first user and returns a bearer token;
  `POST /login` logs in again (tokens are signed with a key made at start, so a restarted server
  wants a new one unless `GOOSEBIT_SECRET_KEY` is fixed: it is, here);
- `PUT /api/v1/software` (multipart `file`) reads the .swu's sw-description (version,
  hardware-compatibility) and returns the software id;
- `PUT /api/v1/devices` creates devices (with `auth_token`: what provisioning registers for
  target-token authentication); `PATCH /api/v1/devices` assigns software (`software`: an id,
  "rollout" or "latest") or sets `force_update`;
- `PUT /api/v1/rollouts` (name, feed, software_id) rolls a software out to every compatible device
  of a feed in rollout mode (the default mode of a new device);
- `GET /api/v1/devices` lists devices: `last_state` (registered, running, error, finished),
  `sw_version`, `hw_revision`, `last_seen`, `polling`.

A device whose last report failed is in state "error" and gets no further update until
`force_update`; success sets its `sw_version` to the reported software's version.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

VENV = Path(os.environ.get("FLEET_VENV", Path(__file__).resolve().parents[3] / ".venv-fleet"))
PYTHON = VENV / "bin" / "python"
AERICH = VENV / "bin" / "aerich"

ADMIN = ("admin@fleet.test", "fleet-test-password")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_packages() -> Path:
    out = subprocess.run([str(PYTHON), "-c", "import goosebit, pathlib; "
                          "print(pathlib.Path(goosebit.__file__).parent.parent)"],
                         check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


class GooseBit:
    """One gooseBit server with its own database and artifacts directory under `workdir`."""

    def __init__(self, workdir: Path, *, poll_time: str = "00:00:03",
                 device_auth: str | None = None):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "goosebit.log"
        self.token: str | None = None
        self.env = dict(os.environ)
        self.env.update({
            "GOOSEBIT_DB_URI": f"sqlite://{workdir / 'db.sqlite3'}",
            "GOOSEBIT_ARTIFACTS_DIR": str(workdir / "artifacts"),
            "GOOSEBIT_POLL_TIME": poll_time,
            # Fixed, so that a restarted server accepts the tokens it gave out before.
            "GOOSEBIT_SECRET_KEY": secrets.token_hex(32),
            "GOOSEBIT_TRACK_DEVICE_IP": "false",
        })
        if device_auth:
            self.env["GOOSEBIT_DEVICE_AUTH__ENABLE"] = "true"
            self.env["GOOSEBIT_DEVICE_AUTH__MODE"] = device_auth

    # -- life cycle ---------------------------------------------------------------------------
    def migrate(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "pyproject.toml").write_text(
            "[tool.aerich]\n"
            'tortoise_orm = "goosebit.db.config.TORTOISE_CONF"\n'
            f'location = "{site_packages() / "goosebit" / "db" / "migrations"}"\n'
            'src_folder = "./."\n')
        subprocess.run([str(AERICH), "upgrade"], cwd=self.workdir, env=self.env, check=True,
                       capture_output=True, timeout=180)

    def start(self, timeout: float = 60) -> None:
        assert self.proc is None
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [str(PYTHON), "-c", "import sys, uvicorn; from goosebit import app; "
             "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]))", str(self.port)],
            cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL, stdout=logf,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"goosebit exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"goosebit did not listen in {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> "GooseBit":
        self.migrate()
        self.start()
        self.setup()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- API ------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, body: bytes | None = None,
                 content_type: str | None = None, auth: bool = True) -> dict:
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        if auth and self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                data = r.read()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{method} {path}: {e.code} {e.read()[:2000]!r}") from None
        return json.loads(data) if data else {}

    def _json(self, method: str, path: str, payload: dict) -> dict:
        return self._request(method, path, body=json.dumps(payload).encode(),
                             content_type="application/json")

    def setup(self) -> None:
        form = f"username={ADMIN[0]}&password={ADMIN[1]}".encode()
        self.token = self._request("POST", "/setup", body=form, auth=False,
                                   content_type="application/x-www-form-urlencoded")["access_token"]

    def upload(self, swu: Path) -> int:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{swu.name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + swu.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        return self._request("PUT", "/api/v1/software", body=body,
                             content_type=f"multipart/form-data; boundary={boundary}")["id"]

    def register_device(self, device_id: str, auth_token: str, feed: str | None = None) -> None:
        """What the fleet operator's provisioning does in strict mode: the device and its token
        (and the feed, the group of devices a rollout goes to)."""
        body = {"devices": [device_id], "auth_token": auth_token}
        if feed:
            body["feed"] = feed
        self._json("PUT", "/api/v1/devices", body)

    def assign(self, device_id: str, software_id: int | str) -> None:
        self._json("PATCH", "/api/v1/devices", {"devices": [device_id], "software": str(software_id)})

    def force_update(self, device_id: str) -> None:
        self._json("PATCH", "/api/v1/devices", {"devices": [device_id], "force_update": True})

    def rollout(self, name: str, software_id: int, feed: str = "default") -> int:
        return self._json("PUT", "/api/v1/rollouts",
                          {"name": name, "feed": feed, "software_id": software_id})["id"]

    def rollouts(self) -> list[dict]:
        return self._request("GET", "/api/v1/rollouts")["rollouts"]

    def devices(self) -> dict[str, dict]:
        devices = self._request("GET", "/api/v1/devices")["devices"]
        for d in devices:  # gooseBit spells them "Registered", "Running", "Error", "Finished"
            d["last_state"] = d["last_state"].lower()
        return {d["id"]: d for d in devices}

    def device(self, device_id: str) -> dict | None:
        return self.devices().get(device_id)

    def wait_device(self, device_id: str, predicate, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.device(device_id)
            if last is not None and predicate(last):
                return last
            time.sleep(0.5)
        raise AssertionError(f"gooseBit: device {device_id} never {what} in {timeout}s; last: "
                             f"{json.dumps(last, indent=1)}\nserver log tail:\n"
                             f"{self.ddi_log()[-3000:]}")

    def ddi_log(self) -> str:
        """The server's log without the test's own API calls."""
        return "\n".join(line for line in self.log.read_text().splitlines()
                         if "/api/v1/" not in line)


if __name__ == "__main__":  # a manual run: python goosebit_server.py DIR
    with GooseBit(Path(sys.argv[1])) as g:
        print(g.url, g.token)
        input("enter to stop")
