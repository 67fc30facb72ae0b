//! Properties of the two parsers: no input makes them panic, and every fragment inside the
//! documented subset gives exactly what `/bin/sh` gives when it sources the same file.
//! Case counts are fixed, so the run time is bounded.

use std::collections::HashMap;
use std::io::Write;
use std::process::Command;

use proptest::prelude::*;
use swupdate_launcher::config::{envfile, fragment};
use swupdate_launcher::plan::url;
use swupdate_launcher::swupdate::options as swupdate_options;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Bytes biased towards the characters the parsers care about.
fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        "A", "=", " ", "\t", "\n", "\r", "'", "\"", "\\", "$", "{", "}", ":-", "-", "#", ";", "&",
        "|", "(", ")", "`", "~", "export ", "${", "$(", "é", "\u{a0}", "x", "1", "_", "\0",
        "\u{feff}", ":", "\\}",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat().into_bytes()),
    ]
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn environment_file_parser_never_panics(bytes in tricky_bytes()) {
        let _ = envfile::parse(&bytes);
    }

    #[test]
    fn fragment_parser_never_panics(bytes in tricky_bytes()) {
        let _ = fragment::evaluate(&bytes, &|n| (n == "A").then(|| "a".to_string()));
        let _ = fragment::evaluate_with(&bytes, &|_| Some("x".into()), fragment::Rules::AGENT);
    }

    #[test]
    fn agent_rules_never_expand(bytes in tricky_bytes()) {
        // Whatever the lookup holds, no value of the agent's file can contain it.
        if let Ok(v) = fragment::evaluate_with(&bytes, &|_| Some("LOOKED-UP".into()), fragment::Rules::AGENT) {
            for a in v {
                prop_assert!(!a.value.contains("LOOKED-UP"), "{:?}", a);
            }
        }
    }

    #[test]
    fn url_handling_never_panics(s in "\\PC{0,40}|https?://[ -~]{0,40}") {
        if let Ok(u) = url::Url::parse(&s) {
            let _ = (u.for_downloader(), u.credentials(), u.redacted());
        }
        let _ = url::redact_text(&s);
    }

    #[test]
    fn option_checker_never_panics(words in prop::collection::vec("-{0,2}[a-zA-Z=é-]{0,6}", 0..6)) {
        let _ = swupdate_options::check(&words);
    }

    #[test]
    fn error_positions_are_inside_the_input(bytes in tricky_bytes()) {
        let text = String::from_utf8_lossy(&bytes);
        let lines = text.split('\n').count();
        if let Err(e) = fragment::evaluate(&bytes, &|_| None) {
            prop_assert!(e.line >= 1 && e.line <= lines, "line {} of {}", e.line, lines);
            prop_assert!(e.column >= 1);
        }
        // systemd ends a line at a CR too (an upper bound: CRLF counts twice here).
        let env_lines = text.split(['\n', '\r']).count();
        if let Err(e) = envfile::parse(&bytes) {
            prop_assert!(e.line >= 1 && e.line <= env_lines, "line {} of {}", e.line, env_lines);
        }
    }
}

// --- differential test against /bin/sh ---

const NAMES: [&str; 3] = ["A", "B", "C"];

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES.to_vec()).prop_map(String::from)
}

/// A word in the documented subset, as source text.
fn word(depth: u32) -> BoxedStrategy<String> {
    let literal = "[a-z0-9/._:,+@%=#-]{1,4}".prop_map(String::from);
    let single = "[a-z $\"\\\\#;&|()`~:}\r]{0,5}".prop_map(|s| format!("'{s}'"));
    let escaped = prop::sample::select(vec![
        "\\ ", "\\$", "\\'", "\\\"", "\\\\", "\\;", "\\#", "\\~", "\\:", "\\}",
    ])
    .prop_map(String::from);
    // Refused on purpose (tilde expansion, DOS line ends, NUL, BOM): the property below
    // accepts a refusal only for these, and compares everything else with sh.
    let hostile =
        prop::sample::select(vec!["~", ":~", "~/x", "\r", "\0", "\u{feff}"]).prop_map(String::from);
    let plain_expansion = name().prop_map(|n| format!("${n}"));
    let braced = name().prop_map(|n| format!("${{{n}}}"));
    let leaf = prop_oneof![
        4 => literal,
        2 => single,
        2 => escaped,
        2 => plain_expansion,
        2 => braced,
        1 => hostile,
    ];
    if depth == 0 {
        return prop::collection::vec(leaf, 1..4)
            .prop_map(|v| v.concat())
            .boxed();
    }
    let default = (
        name(),
        prop::sample::select(vec![":-", "-"]),
        word(depth - 1),
    )
        .prop_map(|(n, op, w)| format!("${{{n}{op}{w}}}"));
    let dq_piece = prop_oneof![
        "[a-z '#;&|()]{1,4}".prop_map(String::from),
        prop::sample::select(vec!["\\$", "\\\"", "\\\\", "\\`", "\\n", "\\a"])
            .prop_map(String::from),
        name().prop_map(|n| format!("${n}")),
        name().prop_map(|n| format!("${{{n}}}")),
        (
            name(),
            prop::sample::select(vec![":-", "-"]),
            prop_oneof![
                "[a-z :~]{0,3}".prop_map(String::from),
                Just("\\}x".to_string())
            ]
        )
            .prop_map(|(n, op, w)| format!("${{{n}{op}{w}}}")),
        Just("~".to_string()),
        Just(":~".to_string()),
    ];
    let double = prop::collection::vec(dq_piece, 0..4).prop_map(|v| format!("\"{}\"", v.concat()));
    prop::collection::vec(prop_oneof![leaf, default, double], 1..4)
        .prop_map(|v| v.concat())
        .boxed()
}

fn statement() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec((name(), prop_oneof![Just(String::new()), word(2)]), 1..3),
        prop::sample::select(vec!["", " # note", " \\\n"]),
    )
        .prop_map(|(export, assigns, tail)| {
            let a: Vec<String> = assigns.iter().map(|(n, w)| format!("{n}={w}")).collect();
            let tail = if tail == " \\\n" { "" } else { tail };
            format!(
                "{}{}{tail}",
                if export { "export " } else { "" },
                a.join(" ")
            )
        })
}

fn script() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => statement(),
            1 => Just("# comment".to_string()),
            1 => Just(String::new()),
        ],
        1..6,
    )
    .prop_map(|lines| lines.join("\n") + "\n")
}

/// What dash makes of the script: each of A, B, C, or None when unset.
fn shell(text: &str, env: &HashMap<&str, &str>) -> Vec<Option<String>> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#". "$1" && for v in A B C; do eval "if [ \"\${$v+set}\" ]; then printf 's%s\0' \"\$$v\"; else printf 'u\0'; fi"; done"#)
        .arg("sh")
        .arg(f.path())
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sh failed on {text:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(|s| s.strip_prefix('s').map(String::from))
        .collect()
}

fn ours(text: &str, env: &HashMap<&str, &str>) -> Vec<Option<String>> {
    ours_or_refusal(text, env).unwrap_or_else(|e| panic!("refused {text:?}: {e:?}"))
}

fn ours_or_refusal(
    text: &str,
    env: &HashMap<&str, &str>,
) -> Result<Vec<Option<String>>, swupdate_launcher::config::syntax::SyntaxError> {
    let assigned = fragment::evaluate(text.as_bytes(), &|n| env.get(n).map(|v| v.to_string()))?;
    Ok(NAMES
        .iter()
        .map(|n| {
            assigned
                .iter()
                .rev()
                .find(|a| a.name == *n)
                .map(|a| a.value.clone())
                .or_else(|| env.get(n).map(|v| v.to_string()))
        })
        .collect())
}

/// The refusals the subset documents for input sh would take.
fn documented_refusal(text: &str, e: &swupdate_launcher::config::syntax::SyntaxError) -> bool {
    let m = &e.message;
    (m.contains("tilde") && text.contains('~'))
        || (m.contains("carriage return") && text.contains('\r'))
        || (m.contains("NUL") && text.contains('\0'))
        || (m.contains("byte order mark") && text.starts_with('\u{feff}'))
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn fragments_in_the_subset_evaluate_exactly_as_sh_does(
        text in script(),
        c_set in any::<bool>(),
    ) {
        let mut env = HashMap::new();
        if c_set {
            env.insert("C", "from env");
        }
        match ours_or_refusal(&text, &env) {
            Ok(v) => prop_assert_eq!(v, shell(&text, &env), "script: {:?}", text),
            Err(e) => prop_assert!(documented_refusal(&text, &e), "refused {:?}: {:?}", text, e),
        }
    }
}

#[test]
fn dash_agrees_on_the_forms_the_issue_names() {
    let env = HashMap::new();
    for text in [
        "A=${U:-\\}x}\n",
        "A=\"${U:-\\}x}\"\n",
        "A=\"x:~\"\n",
        "A=x\\:~\n",
        "A=\"${U:-~}\"\n",
        "A=a#b # c\n",
        "A='a\rb'\n",
    ] {
        assert_eq!(ours(text, &env), shell(text, &env), "{text:?}");
    }
}

#[test]
fn tilde_refusals_are_where_sh_expands_home() {
    // Each refused form really depends on HOME in sh: the refusal is not over-cautious.
    for text in ["A=x:~\n", "A=${U:-~}\n", "A=:~\n", "A=~\n"] {
        assert!(ours_or_refusal(text, &HashMap::new()).is_err(), "{text:?}");
        let h1 = shell(text, &HashMap::from([("HOME", "/h1")]));
        let h2 = shell(text, &HashMap::from([("HOME", "/h2")]));
        assert_ne!(h1, h2, "{text:?}");
    }
}

#[test]
fn the_differential_harness_sees_a_difference() {
    // If the harness compared nothing, this would pass vacuously; it must not.
    let env = HashMap::new();
    assert_ne!(shell("A=1\n", &env), shell("A=2\n", &env));
    assert_eq!(
        shell("A='x y'\nB=$A\n", &env),
        ours("A='x y'\nB=$A\n", &env)
    );
}
