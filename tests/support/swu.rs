//! Test keys ([`Pki`]) and signed `.swu` files ([`SwuBuilder`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{HW_REVISION, IMAGE_LEN, require_tools, tool};

// ---------------------------------------------------------------------------------------------
// Keys

/// A self-signed signing key and certificate, as swupdate's `-k` verifies them.
pub struct Pki {
    pub key: PathBuf,
    pub cert: PathBuf,
}

impl Pki {
    /// Generates `NAME.key.pem` and `NAME.cert.pem` (CN=NAME) in `dir`.
    pub fn generate(dir: &Path, name: &str) -> Pki {
        require_tools();
        fs::create_dir_all(dir).unwrap();
        let key = dir.join(format!("{name}.key.pem"));
        let cert = dir.join(format!("{name}.cert.pem"));
        tool(
            Command::new("openssl")
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .args(["-days", "2", "-subj"])
                .arg(format!("/CN={name}"))
                .args(["-addext", "extendedKeyUsage=emailProtection"]),
        );
        Pki { key, cert }
    }
}

// ---------------------------------------------------------------------------------------------
// .swu files

/// `len` bytes that depend on `seed` only (xorshift64*): reproducible, incompressible.
pub fn test_image(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Creates (or overwrites) a regular file standing in for a partition, filled with a pattern
/// no test image contains; returns its bytes, to compare with after a failed update.
pub fn prefill(target: &Path, len: usize) -> Vec<u8> {
    let pattern = b"untouched target ";
    let bytes: Vec<u8> = pattern.iter().copied().cycle().take(len).collect();
    fs::write(target, &bytes).unwrap();
    bytes
}

/// Builds a signed `.swu` with one `raw` image installed into `device` (a regular file's path).
pub struct SwuBuilder {
    device: PathBuf,
    image: Vec<u8>,
    version: String,
    hardware: Vec<String>,
    /// sw-description's `update-type` (swupdate 2025.12+), if any.
    update_type: Option<String>,
}

/// The image's name inside the archive.
pub const IMAGE_NAME: &str = "image.bin";

/// A string in libconfig syntax.
fn libconfig_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl SwuBuilder {
    /// A 1 MiB test image for `device`, version 1.0.0, compatible with hardware revision 1.0.
    pub fn new(device: impl Into<PathBuf>) -> SwuBuilder {
        SwuBuilder {
            device: device.into(),
            image: test_image(IMAGE_LEN, 1),
            version: "1.0.0".into(),
            hardware: vec![HW_REVISION.into()],
            update_type: None,
        }
    }

    /// Declares `update-type` in sw-description.
    pub fn update_type(mut self, name: &str) -> SwuBuilder {
        self.update_type = Some(name.into());
        self
    }

    pub fn image(mut self, bytes: Vec<u8>) -> SwuBuilder {
        self.image = bytes;
        self
    }

    pub fn version(mut self, version: &str) -> SwuBuilder {
        self.version = version.into();
        self
    }

    pub fn hardware_compatibility(mut self, revisions: &[&str]) -> SwuBuilder {
        self.hardware = revisions.iter().map(|r| r.to_string()).collect();
        self
    }

    fn sw_description(&self, sha256: &str) -> String {
        let hardware: Vec<String> = self.hardware.iter().map(|h| libconfig_string(h)).collect();
        format!(
            "software =\n{{\n\tversion = {};\n{}\thardware-compatibility = [ {} ];\n\timages: (\n\t\t{{\n\t\t\tfilename = {};\n\t\t\tdevice = {};\n\t\t\ttype = \"raw\";\n\t\t\tsha256 = {};\n\t\t}}\n\t);\n}}\n",
            libconfig_string(&self.version),
            self.update_type.as_ref().map_or(String::new(), |t| format!(
                "\tupdate-type = {};\n",
                libconfig_string(t)
            )),
            hardware.join(", "),
            libconfig_string(IMAGE_NAME),
            libconfig_string(self.device.to_str().expect("a UTF-8 target path")),
            libconfig_string(sha256),
        )
    }

    /// Writes sw-description, signs it with `pki` (CMS), and packs sw-description,
    /// sw-description.sig and the image, in that order, with `cpio -o -H crc` into `out`. The
    /// parts are kept in `OUT.parts/`.
    pub fn build(&self, out: &Path, pki: &Pki) -> Swu {
        require_tools();
        let mut parts = out.as_os_str().to_owned();
        parts.push(".parts");
        let parts = PathBuf::from(parts);
        fs::create_dir_all(&parts).unwrap();
        fs::write(parts.join(IMAGE_NAME), &self.image).unwrap();

        let digest = tool(
            Command::new("openssl")
                .args(["dgst", "-sha256", "-r"])
                .arg(parts.join(IMAGE_NAME)),
        );
        let digest = String::from_utf8(digest).unwrap();
        let sha256 = digest.split_whitespace().next().unwrap().to_string();
        assert_eq!(sha256.len(), 64, "openssl dgst said {digest:?}");
        fs::write(parts.join("sw-description"), self.sw_description(&sha256)).unwrap();

        tool(
            Command::new("openssl")
                .args(["cms", "-sign", "-in"])
                .arg(parts.join("sw-description"))
                .arg("-out")
                .arg(parts.join("sw-description.sig"))
                .arg("-signer")
                .arg(&pki.cert)
                .arg("-inkey")
                .arg(&pki.key)
                .args(["-outform", "DER", "-nosmimecap", "-binary"]),
        );

        let mut cpio = Command::new("cpio")
            .args(["-o", "-H", "crc"])
            .current_dir(&parts)
            .stdin(Stdio::piped())
            .stdout(fs::File::create(out).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start cpio");
        cpio.stdin
            .take()
            .unwrap()
            .write_all(format!("sw-description\nsw-description.sig\n{IMAGE_NAME}\n").as_bytes())
            .unwrap();
        let done = cpio.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "cpio failed: {}",
            String::from_utf8_lossy(&done.stderr)
        );

        let archive = fs::read(out).unwrap();
        let names = cpio_names(&archive);
        assert_eq!(
            names,
            ["sw-description", "sw-description.sig", IMAGE_NAME],
            "sw-description must come first, then its signature"
        );
        let (offset, len) = cpio_entry(&archive, IMAGE_NAME).expect("the image in the archive");
        assert_eq!(&archive[offset..offset + len], &self.image[..]);
        Swu {
            path: out.to_path_buf(),
            image: self.image.clone(),
            image_offset: offset,
        }
    }
}

/// A built `.swu`.
pub struct Swu {
    pub path: PathBuf,
    /// What a successful install writes into the target.
    pub image: Vec<u8>,
    /// Where the image's bytes start in the archive.
    image_offset: usize,
}

impl Swu {
    /// A copy at `out` with one byte of the image payload flipped (signature and sw-description
    /// intact): swupdate must notice that the image is not the one that was signed.
    pub fn tampered(&self, out: &Path) -> PathBuf {
        let mut bytes = fs::read(&self.path).unwrap();
        let at = self.image_offset + self.image.len() / 2;
        bytes[at] ^= 0xff;
        fs::write(out, bytes).unwrap();
        out.to_path_buf()
    }
}

/// One header of the SVR4 "newc"/"crc" format: magic, then 13 eight-digit hex fields.
struct CpioHeader {
    filesize: usize,
    namesize: usize,
}

const CPIO_HEADER_LEN: usize = 110;

fn cpio_header(h: &[u8]) -> Option<CpioHeader> {
    if h.len() < CPIO_HEADER_LEN || !(h.starts_with(b"070701") || h.starts_with(b"070702")) {
        return None;
    }
    let field = |i: usize| {
        let digits = std::str::from_utf8(&h[6 + 8 * i..14 + 8 * i]).ok()?;
        usize::from_str_radix(digits, 16).ok()
    };
    Some(CpioHeader {
        filesize: field(6)?,
        namesize: field(11)?,
    })
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Every entry of an archive: (name, data offset, data length), up to the trailer.
fn cpio_entries(archive: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(h) = archive.get(pos..).and_then(cpio_header) {
        let name_at = pos + CPIO_HEADER_LEN;
        let name = &archive[name_at..name_at + h.namesize.saturating_sub(1)];
        let name = String::from_utf8_lossy(name).into_owned();
        if name == "TRAILER!!!" {
            break;
        }
        let data = align4(name_at + h.namesize);
        out.push((name, data, h.filesize));
        pos = align4(data + h.filesize);
    }
    out
}

fn cpio_names(archive: &[u8]) -> Vec<String> {
    cpio_entries(archive).into_iter().map(|e| e.0).collect()
}

fn cpio_entry(archive: &[u8], name: &str) -> Option<(usize, usize)> {
    cpio_entries(archive)
        .into_iter()
        .find(|e| e.0 == name)
        .map(|e| (e.1, e.2))
}
