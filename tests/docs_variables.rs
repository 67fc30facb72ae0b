//! `docs/variables.md` is rendered from the vocabulary table (src/config/vocabulary.rs) and
//! committed; this test fails when the committed file differs, so the reference cannot drift.
//!
//! After changing the table, rewrite it with
//! `SWUPDATE_LAUNCHER_BLESS=1 cargo test --test docs_variables` and commit the result.

use std::path::Path;

const BLESS: &str = "SWUPDATE_LAUNCHER_BLESS=1 cargo test --test docs_variables";

#[test]
fn variables_md_is_the_rendered_vocabulary() {
    let rendered = swupdate_launcher::config::vocabulary::render_markdown();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/variables.md");
    if std::env::var_os("SWUPDATE_LAUNCHER_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &rendered).expect("write docs/variables.md");
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
            "docs/variables.md differs from the vocabulary table (first at line {}):\n  committed: {:?}\n  rendered:  {:?}\nrewrite it with: {BLESS}",
            first + 1,
            committed.lines().nth(first).unwrap_or("<end of file>"),
            rendered.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}
