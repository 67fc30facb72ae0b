"""Signed `.swu` files for the booted tiers, built the way tests/support/swu.rs builds them.

A self-signed certificate with extendedKeyUsage=emailProtection (swupdate's default purpose),
`openssl cms -sign ... -outform DER -nosmimecap -binary` over sw-description, and the archive
`cpio -o -H crc` writes (newc_archive, written here: no cpio needed) with sw-description first,
then its signature, then the image: one `raw` image whose `device` is a regular file of the
device, so an install writes into that file for real.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

IMAGE_NAME = "image.bin"
# More than a socket buffer: swupdate 2022.12's IPC client can race a tiny one-shot install
# (tests/support/mod.rs says why).
IMAGE_LEN = 1 << 20


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


def test_image(length: int = IMAGE_LEN, seed: int = 1) -> bytes:
    """Reproducible, incompressible bytes."""
    return random.Random(seed).randbytes(length)


def _lc(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Swu:
    path: Path
    image: bytes

    def tampered(self, out: Path) -> Path:
        """A copy with one byte of the image payload flipped; signature and sw-description intact."""
        data = bytearray(self.path.read_bytes())
        at = data.find(self.image) + len(self.image) // 2
        data[at] ^= 0xFF
        out.write_bytes(bytes(data))
        return out


def build_swu(out: Path, pki: Pki, device: str, *, image: bytes | None = None,
              version: str = "2.0.0", hardware: tuple[str, ...] = ("1.0",),
              selection: tuple[str, str] | None = None) -> Swu:
    """Packs and signs a `.swu` with one raw image for `device` (a path on the device).

    `selection` = (set, copy) nests the image as `software = { SET: { COPY: { images ... } } }`,
    which swupdate installs only with `-e SET,COPY`."""
    image = test_image() if image is None else image
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    (parts / IMAGE_NAME).write_bytes(image)
    sha = hashlib.sha256(image).hexdigest()
    images = (f"images: ( {{ filename = {_lc(IMAGE_NAME)}; device = {_lc(device)}; "
              f"type = \"raw\"; sha256 = {_lc(sha)}; }} );")
    body = images
    if selection:
        body = f"{selection[0]}: {{ {selection[1]}: {{ {images} }}; }};"
    hw = ", ".join(_lc(h) for h in hardware)
    (parts / "sw-description").write_text(
        f"software =\n{{\n\tversion = {_lc(version)};\n\thardware-compatibility = [ {hw} ];\n"
        f"\t{body}\n}}\n")
    subprocess.run(
        ["openssl", "cms", "-sign", "-in", str(parts / "sw-description"),
         "-out", str(parts / "sw-description.sig"), "-signer", str(pki.cert),
         "-inkey", str(pki.key), "-outform", "DER", "-nosmimecap", "-binary"],
        check=True, capture_output=True)
    out.write_bytes(newc_archive(parts, ("sw-description", "sw-description.sig", IMAGE_NAME)))
    return Swu(out, image)


def newc_archive(directory: Path, names: tuple[str, ...]) -> bytes:
    """What `cpio -o -H crc` writes for the files `names` of `directory`, in that order (as
    tests/support/swu.rs's newc_archive, which a Rust test compares with cpio byte for byte):
    per member the magic 070702 and 13 eight-digit upper-case hex fields (inode, mode, uid, gid,
    links, mtime, size, device major and minor, rdev major and minor, name size with its NUL,
    checksum = the sum of the data's bytes), the name and the data, each padded to 4 bytes; then
    the TRAILER!!! member and zeros to a 512-byte block."""
    out = bytearray()
    for name in names:
        st = os.lstat(directory / name)
        data = (directory / name).read_bytes()
        fields = (st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_nlink, int(st.st_mtime),
                  len(data), os.major(st.st_dev), os.minor(st.st_dev), os.major(st.st_rdev),
                  os.minor(st.st_rdev))
        _newc_member(out, fields, name, sum(data))
        out += data
        out += bytes(-len(out) % 4)
    _newc_member(out, (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0), "TRAILER!!!", 0)
    out += bytes(-len(out) % 512)
    return bytes(out)


def _newc_member(out: bytearray, fields: tuple[int, ...], name: str, checksum: int) -> None:
    """A member's header (110 bytes) and NUL-terminated name, padded to 4 bytes."""
    out += b"070702"
    for field in (*fields, len(name) + 1, checksum):
        out += b"%08X" % (field & 0xFFFFFFFF)
    out += name.encode() + b"\0"
    out += bytes(-len(out) % 4)
