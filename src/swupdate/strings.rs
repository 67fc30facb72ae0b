//! The option tables of the `-d` string (swupdate's downloader, `corelib/downloader.c`) and of
//! the `-w` string (its webserver, `mongoose/mongoose_interface.c`), read by
//! [`super::getopt`] once swupdate has split the string on whitespace (no quotes). The `-u`
//! string's table is suricatta's ([`super::suricatta`]).

use super::getopt::{Arg, Opt, Role, Table, l};
use super::release::{Release, rel};

const Y22: Release = rel(2022, 12);

const fn o(
    short: char,
    since: Release,
    longs: &'static [super::getopt::Long],
    arg: Arg,
    secret: bool,
) -> Opt {
    Opt {
        short: Some(short),
        since,
        longs,
        arg,
        build: None,
        role: Role::Free,
        secret,
    }
}

/// The downloader's options (`-d`), 2022.12 to 2026.05.x.
pub static DOWNLOADER: Table = Table {
    what: "an option of swupdate's downloader (-d)",
    options: &[
        o('u', Y22, &[l("url", Y22)], Arg::Required, false),
        o('r', Y22, &[l("retries", Y22)], Arg::Required, false),
        o('t', Y22, &[l("timeout", Y22)], Arg::Required, false),
        // `user:password`.
        o('a', Y22, &[l("authentication", Y22)], Arg::Required, true),
        o(
            'w',
            rel(2023, 5),
            &[l("retrywait", rel(2023, 5))],
            Arg::Required,
            false,
        ),
        o(
            'n',
            rel(2024, 5),
            &[l("max-download-speed", rel(2024, 5))],
            Arg::Required,
            false,
        ),
    ],
};

/// The webserver's options (`-w`), 2022.12 to 2026.05.x: none is secret (the credentials are
/// in the file `--global-auth-file` names). `-s`, `-C`, `-K` need a TLS build of mongoose.
pub static WEBSERVER: Table = Table {
    what: "an option of swupdate's webserver (-w)",
    options: &[
        o('l', Y22, &[l("listing", Y22)], Arg::None, false),
        o('p', Y22, &[l("port", Y22)], Arg::Required, false),
        o('s', Y22, &[l("ssl", Y22)], Arg::None, false),
        o('C', Y22, &[l("ssl-cert", Y22)], Arg::Required, false),
        o('K', Y22, &[l("ssl-key", Y22)], Arg::Required, false),
        o('r', Y22, &[l("document-root", Y22)], Arg::Required, false),
        o('t', Y22, &[l("timeout", Y22)], Arg::Required, false),
        // In the short option string, with no long name and no use.
        o('a', Y22, &[], Arg::Required, false),
        Opt {
            short: None,
            since: Y22,
            longs: &[l("auth-domain", Y22)],
            arg: Arg::Required,
            build: None,
            role: Role::Free,
            secret: false,
        },
        Opt {
            short: None,
            since: Y22,
            longs: &[l("global-auth-file", Y22)],
            arg: Arg::Required,
            build: None,
            role: Role::Free,
            secret: false,
        },
    ],
};
