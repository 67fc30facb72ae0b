//! Test keys ([`Pki`]) and signed `.swu` files ([`SwuBuilder`]).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    /// sw-description.sig and the image, in that order, into `out` as `cpio -o -H crc` would
    /// ([`newc_archive`]). The parts are kept in `OUT.parts/`.
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

        let archive = newc_archive(
            &parts,
            &["sw-description", "sw-description.sig", IMAGE_NAME],
        );
        fs::write(out, &archive.bytes).unwrap();
        let offset = archive.data_at[2];
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

/// A newc archive in memory and where each member's data starts in it.
pub struct NewcArchive {
    pub bytes: Vec<u8>,
    /// The offset of each member's data, in the order the members were given.
    pub data_at: Vec<usize>,
}

/// Newc with a checksum (`cpio -H crc`, magic 070702), what swupdate reads a `.swu` as.
const NEWC_CRC_MAGIC: &str = "070702";

/// The archive `cpio -o -H crc` writes for the files `names` of `dir`, in that order (GNU cpio
/// 2.13 byte for byte, so a `.swu` built here is the one a user packs): each member a header of
/// the magic and 13 eight-digit upper-case hex fields (inode, mode, uid, gid, links, mtime, size,
/// device major and minor, rdev major and minor, name size with its NUL, checksum = the sum of
/// the data's bytes), the name, the data, each padded to 4 bytes; then the `TRAILER!!!` member;
/// then zeros to a 512-byte block, as cpio writes whole blocks. Written here rather than by
/// the cpio tool so that the tests need no cpio and know where each member's data is.
pub fn newc_archive(dir: &Path, names: &[&str]) -> NewcArchive {
    let mut bytes = Vec::new();
    let mut data_at = Vec::new();
    for name in names {
        let path = dir.join(name);
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(
            meta.is_file(),
            "{}: only regular files go into a .swu",
            path.display()
        );
        let data = fs::read(&path).unwrap();
        let checksum = data
            .iter()
            .fold(0u32, |sum, b| sum.wrapping_add(u32::from(*b)));
        let fields = [
            meta.ino(),
            u64::from(meta.mode()),
            u64::from(meta.uid()),
            u64::from(meta.gid()),
            meta.nlink(),
            u64::try_from(meta.mtime()).unwrap_or(0),
            meta.size(),
            u64::from(libc::major(meta.dev())),
            u64::from(libc::minor(meta.dev())),
            u64::from(libc::major(meta.rdev())),
            u64::from(libc::minor(meta.rdev())),
        ];
        newc_member(&mut bytes, &fields, name, checksum);
        data_at.push(bytes.len());
        bytes.extend_from_slice(&data);
        pad_to(&mut bytes, 4);
    }
    // The trailer: every field 0 but the link count (1) and the name size.
    newc_member(
        &mut bytes,
        &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        "TRAILER!!!",
        0,
    );
    pad_to(&mut bytes, 512);
    NewcArchive { bytes, data_at }
}

/// A member's header and name, padded to 4 bytes (the header is 110 bytes long).
fn newc_member(out: &mut Vec<u8>, fields: &[u64; 11], name: &str, checksum: u32) {
    out.extend_from_slice(NEWC_CRC_MAGIC.as_bytes());
    let name_size = name.len() as u64 + 1;
    for field in fields.iter().chain([&name_size, &u64::from(checksum)]) {
        // Each field is 32 bits wide: cpio writes the low ones of a larger inode number.
        out.extend_from_slice(format!("{:08X}", field & 0xffff_ffff).as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad_to(out, 4);
}

fn pad_to(out: &mut Vec<u8>, block: usize) {
    out.resize(out.len().next_multiple_of(block), 0);
}
