//! The reference documents generated from the code: each is committed, and this test fails when
//! the committed file differs from what the code renders now, so the docs cannot drift.
//!
//! After changing the exit-code list (src/error.rs), the command line (src/cli.rs) or the
//! vocabulary (src/config/vocabulary.rs), rewrite
//! them with `SWUPDATE_LAUNCHER_BLESS=1 cargo test --test integration generated_docs` and commit the result.

use std::path::Path;

const BLESS: &str = "SWUPDATE_LAUNCHER_BLESS=1 cargo test --test integration generated_docs";

/// Compares `docs/<name>` with `rendered`, or writes it when blessing.
fn check(name: &str, rendered: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    if std::env::var_os("SWUPDATE_LAUNCHER_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, rendered).expect("write the blessed file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/{name} differs from what the code renders {}\nrewrite it with: {BLESS}",
        first_difference(&committed, rendered)
    );
}

/// Where two texts first differ, with both lines, for a failure message.
fn first_difference(committed: &str, rendered: &str) -> String {
    let first = committed
        .lines()
        .zip(rendered.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| committed.lines().count().min(rendered.lines().count()));
    format!(
        "(first at line {}):\n  committed: {:?}\n  rendered:  {:?}",
        first + 1,
        committed.lines().nth(first).unwrap_or("<end of file>"),
        rendered.lines().nth(first).unwrap_or("<end of file>"),
    )
}

#[test]
fn variables_md_is_the_rendered_vocabulary() {
    check(
        "variables.md",
        &swupdate_launcher::config::vocabulary::render_markdown(),
    );
}

/// The named checks of `src/compat.rs`, between the markers of
/// docs/swupdate-releases.md (the prose around them is written by hand).
#[test]
fn swupdate_releases_md_lists_the_checks() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/swupdate-releases.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (start, end) = (
        "<!-- checks: generated from src/compat.rs -->\n",
        "<!-- end of checks -->",
    );
    let (before, rest) = text.split_once(start).expect("the start marker");
    let (_, after) = rest.split_once(end).expect("the end marker");
    let rendered = format!(
        "{before}{start}{}{end}{after}",
        swupdate_launcher::compat::checks_markdown()
    );
    check("swupdate-releases.md", &rendered);
}

#[test]
fn exit_codes_md_is_the_kind_list() {
    check(
        "exit-codes.md",
        &swupdate_launcher::error::exit_codes_markdown(),
    );
}

/// The units' exit-status lists are configuration, not documentation, so they stay numbers;
/// each number must still be one of the launcher's codes, or the unit means something else.
#[test]
fn the_units_exit_status_lists_name_launcher_codes() {
    let codes: Vec<u8> = swupdate_launcher::error::Kind::ALL
        .iter()
        .map(|k| k.exit_code())
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("systemd/") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !matches!(key, "RestartPreventExitStatus" | "SuccessExitStatus") {
                continue;
            }
            for word in value.split_whitespace() {
                // Signal names (SIGTERM) are systemd's, not exit codes.
                let Ok(code) = word.parse::<u8>() else {
                    continue;
                };
                assert!(
                    codes.contains(&code),
                    "{}: {key}={code} is not a launcher exit code (docs/exit-codes.md)",
                    path.display()
                );
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "no exit-status list found in systemd/");
}

#[test]
fn the_man_page_is_the_cli_table_and_the_kind_list() {
    check("swupdate-launcher.1", &swupdate_launcher::cli::man_page());
}

/// Copies a directory tree (files, directories and symlinks as they are).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type().expect("file type");
        if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).expect("readlink"), &dst)
                .expect("symlink");
        } else if t.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// The README's device example is real output: `explain` on conf.d-examples/download copied
/// to `device/`, with what a device adds (a swupdate binary, a certificate, os-release). The
/// block between the fences after "## On a device" is rewritten when blessing.
#[test]
fn the_readmes_explain_example_is_what_explain_prints() {
    use std::os::unix::fs::PermissionsExt;
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().expect("tempdir");
    let device = work.path().join("device");
    copy_tree(&top.join("conf.d-examples/download"), &device);
    let add = |p: &str, text: &str| {
        let p = device.join(p);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    };
    add("usr/bin/swupdate", "#!/bin/sh\n");
    std::fs::set_permissions(
        device.join("usr/bin/swupdate"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    add("etc/swupdate/public.pem", "certificate\n");
    add(
        "etc/os-release",
        "NAME=\"Product OS\"\nVERSION_ID=\"2026.10\"\n",
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_swupdate-launcher"))
        .current_dir(work.path())
        .args(["--root", "device", "explain"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run the launcher");
    let shown =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "explain failed:\n{shown}");

    let path = top.join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme
        .find("## On a device")
        .and_then(|h| readme[h..].find("```\n").map(|f| h + f + 4))
        .expect("README.md has a fenced block after '## On a device'");
    let end = start
        + readme[start..]
            .find("```\n")
            .expect("the block's closing fence");
    let rendered = format!("{}{shown}{}", &readme[..start], &readme[end..]);
    // The README shows a build without `streaming`; with it, explain's "Preflight:" line says
    // what that build does instead, and only that line may differ.
    let streaming = cfg!(feature = "streaming");
    if std::env::var_os("SWUPDATE_LAUNCHER_BLESS").is_some_and(|v| v == "1") {
        assert!(
            !streaming,
            "bless README.md from a build without `streaming` (no --all-features)"
        );
        std::fs::write(&path, rendered).expect("write README.md");
        return;
    }
    let (readme, rendered) = if streaming {
        let without = |t: &str| {
            t.lines()
                .filter(|l| !l.starts_with("Preflight: "))
                .collect::<Vec<_>>()
                .join("\n")
        };
        (without(&readme), without(&rendered))
    } else {
        (readme, rendered)
    };
    assert!(
        readme == rendered,
        "README.md's explain example differs from what explain prints now {}\nrewrite it with: {BLESS}",
        first_difference(&readme, &rendered)
    );
}

/// Every `.rs` file below `src/`, relative to it (`config/load.rs`).
fn source_files() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&src).unwrap();
                found.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// docs/design.md's code map: its table rows, each `(where, concern)`.
fn code_map() -> Vec<(String, String)> {
    let design =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/design.md"))
            .unwrap();
    design
        .split("## Code map")
        .nth(1)
        .unwrap_or("")
        .split("\n## ")
        .next()
        .unwrap_or("")
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            (cells.len() >= 2 && l.starts_with("| `")).then(|| {
                (
                    cells[0].trim_start_matches("| ").to_string(),
                    cells[1..].join(" | "),
                )
            })
        })
        .collect()
}

#[test]
fn the_code_map_names_every_source_file() {
    let map = code_map();
    assert!(
        map.len() >= 8,
        "docs/design.md's code map not found: {map:?}"
    );
    for file in source_files() {
        let named_flat = map
            .iter()
            .any(|(at, _)| at.contains(&format!("`src/{file}`")));
        let named_in_folder = file.split_once('/').is_some_and(|(folder, name)| {
            map.iter().any(|(at, concern)| {
                at == &format!("`src/{folder}/`")
                    && (concern.contains(&format!("`{name}`")) || name == "mod.rs")
            })
        });
        assert!(
            named_flat || named_in_folder,
            "docs/design.md's code map does not name src/{file}"
        );
    }
}

#[test]
fn the_code_map_names_no_file_that_is_gone() {
    let files = source_files();
    for (at, concern) in code_map() {
        for path in at.split('`').skip(1).step_by(2) {
            if let Some(rel) = path.strip_prefix("src/") {
                let exists = if rel.ends_with('/') {
                    files.iter().any(|f| f.starts_with(rel))
                } else {
                    files.iter().any(|f| f == rel)
                };
                assert!(
                    exists,
                    "docs/design.md's code map names {path}, which is gone"
                );
            }
        }
        if let Some(folder) = at.strip_prefix("`src/").and_then(|f| f.strip_suffix("/`")) {
            for name in concern.split('`').skip(1).step_by(2) {
                if name.ends_with(".rs") {
                    assert!(
                        files.contains(&format!("{folder}/{name}")),
                        "docs/design.md's code map names src/{folder}/{name}, which is gone"
                    );
                }
            }
        }
    }
}

/// docs/migration-ab.md shows each pair of tests/migration/ (what the booted tier runs) as it
/// is: a pair changed without the guide, or the guide without the pair, fails here.
#[test]
fn the_migration_guide_quotes_every_migration_pair_as_it_is() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(top.join("docs/migration-ab.md")).unwrap_or_default();
    let mut pairs = 0;
    for entry in std::fs::read_dir(top.join("tests/migration")).expect("tests/migration") {
        let dir = entry.expect("an entry").path();
        if !dir.is_dir() {
            continue;
        }
        pairs += 1;
        for name in ["fragment.sh", "launcher.conf", "environment"] {
            let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
                assert_ne!(
                    name,
                    "launcher.conf",
                    "{} has no launcher.conf",
                    dir.display()
                );
                assert_ne!(name, "fragment.sh", "{} has no fragment.sh", dir.display());
                continue;
            };
            assert!(
                guide.contains(&format!("```sh\n{text}```\n")),
                "docs/migration-ab.md does not show {}/{name} as it is",
                dir.display()
            );
        }
    }
    assert_eq!(pairs, 8, "one pair per pattern of issue 20 point 5");
}
