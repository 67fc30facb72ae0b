"""Signed `.swu` files as a product's build makes them, for the fleet tier.

The same recipe as the Rust tests' `tests/support` (and swupdate's documentation): sw-description
first, signed with `openssl cms -sign ... -outform DER -nosmimecap -binary` by a self-signed
certificate with `extendedKeyUsage=emailProtection` (swupdate's default purpose), then its
signature, then the images, packed with `cpio -o -H crc`. One `raw` image, written into a regular
file on the device (a stand-in partition), and `hardware-compatibility`, which both swupdate (`-H`
or `identify`) and gooseBit (to decide which devices may get it) read.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

IMAGE_NAME = "image.bin"


@dataclass
class Pki:
    key: Path
    cert: Path

    @staticmethod
    def generate(directory: Path, name: str) -> "Pki":
        directory.mkdir(parents=True, exist_ok=True)
        key, cert = directory / f"{name}.key.pem", directory / f"{name}.cert.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
             "-addext", "extendedKeyUsage=emailProtection"],
            check=True, capture_output=True)
        return Pki(key, cert)


def test_image(length: int, seed: int) -> bytes:
    """Reproducible, incompressible bytes."""
    return random.Random(seed).randbytes(length)


def _libconfig_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Swu:
    path: Path
    image: bytes
    version: str
    image_offset: int

    def tampered(self, out: Path) -> Path:
        """A copy with one byte of the image flipped; sw-description and signature intact."""
        data = bytearray(self.path.read_bytes())
        data[self.image_offset + len(self.image) // 2] ^= 0xFF
        out.write_bytes(bytes(data))
        return out


def build_swu(out: Path, pki: Pki, *, device: str, version: str, image: bytes,
              hardware: tuple[str, ...] = ("1.0",)) -> Swu:
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    (parts / IMAGE_NAME).write_bytes(image)
    sha256 = hashlib.sha256(image).hexdigest()
    hw = ", ".join(_libconfig_string(h) for h in hardware)
    (parts / "sw-description").write_text(
        "software =\n{\n"
        f"\tversion = {_libconfig_string(version)};\n"
        f"\thardware-compatibility = [ {hw} ];\n"
        "\timages: (\n\t\t{\n"
        f"\t\t\tfilename = {_libconfig_string(IMAGE_NAME)};\n"
        f"\t\t\tdevice = {_libconfig_string(device)};\n"
        '\t\t\ttype = "raw";\n'
        f"\t\t\tsha256 = {_libconfig_string(sha256)};\n"
        "\t\t}\n\t);\n}\n")
    subprocess.run(
        ["openssl", "cms", "-sign", "-in", str(parts / "sw-description"),
         "-out", str(parts / "sw-description.sig"), "-signer", str(pki.cert),
         "-inkey", str(pki.key), "-outform", "DER", "-nosmimecap", "-binary"],
        check=True, capture_output=True)
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "crc", "--quiet"], cwd=parts, check=True, stdout=f,
                       input=f"sw-description\nsw-description.sig\n{IMAGE_NAME}\n".encode())
    data = out.read_bytes()
    offset = data.find(image[:4096])
    assert offset > 0 and data[offset:offset + len(image)] == image, "image not found in the .swu"
    assert data[110:110 + len("sw-description")] == b"sw-description", "sw-description first"
    return Swu(out, image, version, offset)
