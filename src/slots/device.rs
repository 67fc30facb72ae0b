//! How a slot's device is written, and which block device a spelling names (pure): the
//! spellings of a slot's `device=` and `writes=`, and of the kernel command line's `root=`.
//!
//! - `/dev/...`: an absolute path under `/dev`, normalised (`//` and `/./` folded), no `..`;
//! - `PARTUUID=`, `PARTLABEL=`, `UUID=`, `LABEL=`: the link udev makes for it under
//!   `/dev/disk/by-partuuid`, `by-partlabel`, `by-uuid` and `by-label`, with the name escaped as
//!   udev's blkid builtin escapes it (`blkid_encode_string`: every byte but ASCII letters,
//!   digits, `#+-.:=@_` and UTF-8 sequences as `\xNN`, so `/` is `\x2f` and a blank `\x20`).
//!
//! A device is then the block device's number (`st_rdev`) the path resolves to, never the
//! path's text: two spellings of one partition are the same device.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A block device's number (major, minor), as `st_rdev` and `st_dev` carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DevNum {
    pub major: u32,
    pub minor: u32,
}

impl DevNum {
    /// From a `dev_t` (`st_rdev`, `st_dev`).
    pub fn from_dev_t(dev: u64) -> DevNum {
        DevNum {
            major: libc::major(dev as libc::dev_t),
            minor: libc::minor(dev as libc::dev_t),
        }
    }

    /// `MAJ:MIN`, as sysfs writes it (`/sys/class/block/*/dev`).
    pub fn parse(text: &str) -> Option<DevNum> {
        let (major, minor) = text.trim().split_once(':')?;
        Some(DevNum {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

impl fmt::Display for DevNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// The tags udev makes a `/dev/disk/by-*` link for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    PartUuid,
    PartLabel,
    Uuid,
    Label,
}

impl Tag {
    const ALL: [Tag; 4] = [Tag::PartUuid, Tag::PartLabel, Tag::Uuid, Tag::Label];

    /// The spelling's prefix, `=` included.
    pub fn prefix(self) -> &'static str {
        match self {
            Tag::PartUuid => "PARTUUID=",
            Tag::PartLabel => "PARTLABEL=",
            Tag::Uuid => "UUID=",
            Tag::Label => "LABEL=",
        }
    }

    /// udev's directory of links for the tag.
    pub fn directory(self) -> &'static str {
        match self {
            Tag::PartUuid => "/dev/disk/by-partuuid",
            Tag::PartLabel => "/dev/disk/by-partlabel",
            Tag::Uuid => "/dev/disk/by-uuid",
            Tag::Label => "/dev/disk/by-label",
        }
    }
}

/// One spelling of a block device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spelling {
    /// A normalised absolute path under `/dev`.
    Path(PathBuf),
    /// A tag and its value, as written.
    Tagged(Tag, String),
}

impl Spelling {
    /// Reads a spelling; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Spelling, String> {
        for tag in Tag::ALL {
            if let Some(value) = text.strip_prefix(tag.prefix()) {
                if value.is_empty() {
                    return Err(format!("`{text}` names no {}", tag.prefix()));
                }
                if value.chars().any(char::is_control) {
                    return Err(format!("`{}` has a control character", text.escape_default()));
                }
                if tag == Tag::PartUuid && value.contains('/') {
                    return Err(format!(
                        "`{text}`: the kernel's PARTUUID=.../PARTNROFF= form is not a slot device; name the partition itself"
                    ));
                }
                return Ok(Spelling::Tagged(tag, unescape(value)?));
            }
        }
        if !text.starts_with('/') {
            return Err(format!(
                "`{text}` is not a device: write /dev/..., PARTUUID=, PARTLABEL=, UUID= or LABEL="
            ));
        }
        let mut path = PathBuf::from("/");
        for c in Path::new(text).components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(part) => path.push(part),
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(format!("`{text}` has a `..` component"));
                }
            }
        }
        if !path.starts_with("/dev") || path == Path::new("/dev") {
            return Err(format!("`{text}` is outside /dev"));
        }
        Ok(Spelling::Path(path))
    }

    /// The device path that names the block device: the path itself, or udev's link.
    pub fn device_path(&self) -> PathBuf {
        match self {
            Spelling::Path(p) => p.clone(),
            Spelling::Tagged(tag, value) => {
                // GPT partition UUIDs are lowercase in udev's links; the kernel's root= takes
                // either case.
                let value = match tag {
                    Tag::PartUuid => value.to_ascii_lowercase(),
                    _ => value.clone(),
                };
                Path::new(tag.directory()).join(udev_escape(&value))
            }
        }
    }
}

impl fmt::Display for Spelling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spelling::Path(p) => write!(f, "{}", p.display()),
            Spelling::Tagged(tag, value) => write!(f, "{}{value}", tag.prefix()),
        }
    }
}

/// A tag's value with udev's `\xNN` escapes read back (a slot's words are blank-separated,
/// so a label with a blank is written `rootfs\x20a`, as udev names its link).
fn unescape(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], bytes.get(i + 1), hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'\\', Some(b'x'), Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{value}`: its \\x escapes are not UTF-8"))
}

/// A name as udev's blkid builtin writes it into a link name (`blkid_encode_string`).
pub fn udev_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii_alphanumeric() || "#+-.:=@_".contains(c) || !c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(text: &str) -> PathBuf {
        Spelling::parse(text).unwrap().device_path()
    }

    #[test]
    fn a_dev_path_is_normalised() {
        assert_eq!(path_of("/dev//mmcblk0p2"), PathBuf::from("/dev/mmcblk0p2"));
        assert_eq!(path_of("/dev/./mapper/root"), PathBuf::from("/dev/mapper/root"));
    }

    #[test]
    fn a_path_outside_dev_or_climbing_out_of_it_is_refused() {
        for bad in ["/tmp/disk", "/dev", "/dev/../etc/passwd", "/devices/x", "mmcblk0p2", ""] {
            assert!(Spelling::parse(bad).is_err(), "{bad}");
        }
        assert!(Spelling::parse("/tmp/disk").unwrap_err().contains("outside /dev"));
    }

    #[test]
    fn each_tag_resolves_through_its_udev_directory() {
        assert_eq!(path_of("PARTLABEL=rootfs-a"), PathBuf::from("/dev/disk/by-partlabel/rootfs-a"));
        assert_eq!(path_of("LABEL=root"), PathBuf::from("/dev/disk/by-label/root"));
        assert_eq!(path_of("UUID=1234-ABCD"), PathBuf::from("/dev/disk/by-uuid/1234-ABCD"));
        assert_eq!(
            path_of("PARTUUID=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"),
            PathBuf::from("/dev/disk/by-partuuid/4f68bce3-e8cd-4db1-96e7-fbcaf984b709")
        );
    }

    #[test]
    fn a_label_is_escaped_as_udev_names_its_link() {
        assert_eq!(udev_escape("root fs/a"), "root\\x20fs\\x2fa");
        assert_eq!(udev_escape("a\\b"), "a\\x5cb");
        assert_eq!(udev_escape("Ä#+-.:=@_9"), "Ä#+-.:=@_9");
        assert_eq!(path_of("LABEL=my root"), PathBuf::from("/dev/disk/by-label/my\\x20root"));
    }

    #[test]
    fn a_blank_in_a_label_is_written_as_udev_escapes_it() {
        let s = Spelling::parse("PARTLABEL=rootfs\\x20a").unwrap();
        assert_eq!(s, Spelling::Tagged(Tag::PartLabel, "rootfs a".into()));
        assert_eq!(s.device_path(), PathBuf::from("/dev/disk/by-partlabel/rootfs\\x20a"));
        assert_eq!(Spelling::parse("LABEL=a\\xzz").unwrap().device_path(), PathBuf::from("/dev/disk/by-label/a\\x5cxzz"));
    }

    #[test]
    fn an_empty_tag_or_the_partnroff_form_is_refused() {
        assert!(Spelling::parse("PARTLABEL=").is_err());
        assert!(Spelling::parse("PARTUUID=abc/PARTNROFF=1").is_err());
    }

    #[test]
    fn a_spelling_shows_as_written() {
        assert_eq!(Spelling::parse("PARTLABEL=a b").unwrap().to_string(), "PARTLABEL=a b");
        assert_eq!(Spelling::parse("/dev//sda1").unwrap().to_string(), "/dev/sda1");
    }

    #[test]
    fn device_numbers_read_as_sysfs_writes_them() {
        assert_eq!(DevNum::parse("259:3\n"), Some(DevNum { major: 259, minor: 3 }));
        assert_eq!(DevNum::parse("8"), None);
        assert_eq!(DevNum::from_dev_t(0x0802).to_string(), "8:2");
    }
}
