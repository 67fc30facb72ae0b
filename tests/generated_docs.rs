//! The reference documents generated from the code: each is committed, and this test fails when
//! the committed file differs from what the code renders now, so the docs cannot drift.
//!
//! After changing the exit-code list (src/error.rs) or the command line (src/cli.rs), rewrite
//! them with `SWUPDATE_LAUNCHER_BLESS=1 cargo test --test generated_docs` and commit the result.

use std::path::Path;

const BLESS: &str = "SWUPDATE_LAUNCHER_BLESS=1 cargo test --test generated_docs";

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
    if committed != rendered {
        let first = committed
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(rendered.lines().count()));
        panic!(
            "docs/{name} differs from what the code renders (first at line {}):\n  committed: {:?}\n  rendered:  {:?}\nrewrite it with: {BLESS}",
            first + 1,
            committed.lines().nth(first).unwrap_or("<end of file>"),
            rendered.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
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
