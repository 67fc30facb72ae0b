//! The verification stage's part of the plan: the product's program, the unprivileged user it
//! runs as, its directory and its time limit (run by [`crate::verify`]).

use std::path::Path;

use crate::accounts::Accounts;
use crate::config::settings::{Setting, Settings};
use crate::error::Error;
use crate::plan::values::{
    absolute_path, default_of, non_empty, setting_error, traced, whole_number,
};
use crate::plan::{
    DEFAULT_VERIFY_DIR, DEFAULT_VERIFY_TIMEOUT, SWUPDATE_VERIFY_DIR, SWUPDATE_VERIFY_PROGRAM,
    SWUPDATE_VERIFY_TIMEOUT, SWUPDATE_VERIFY_USER, Verification,
};
use crate::rootfs::Root;

pub(super) fn verification(
    vars: &Settings,
    program: &Setting,
    root: &Root,
    accounts: &dyn Accounts,
) -> Result<Verification, Error> {
    let mut argv = shell_words::split(&program.value).map_err(|_| {
        setting_error(
            SWUPDATE_VERIFY_PROGRAM,
            program,
            "has an unterminated quote",
        )
    })?;
    let Some(first) = argv.first_mut() else {
        return Err(setting_error(
            SWUPDATE_VERIFY_PROGRAM,
            program,
            "names no program",
        ));
    };
    if !Path::new(first.as_str()).is_absolute() {
        return Err(setting_error(
            SWUPDATE_VERIFY_PROGRAM,
            program,
            format!("`{first}` is not an absolute path"),
        ));
    }
    *first = root
        .host(Path::new(first.as_str()))
        .to_string_lossy()
        .into_owned();
    let user = match non_empty(vars, SWUPDATE_VERIFY_USER) {
        Some(s) => {
            let (u, g) = match s.value.split_once(':') {
                Some((u, g)) => (u, Some(g)),
                None => (s.value.as_str(), None),
            };
            let unknown = |what: &str, name: &str| {
                setting_error(
                    SWUPDATE_VERIFY_USER,
                    s,
                    format!("no {what} `{name}` on the device"),
                )
            };
            let (uid, primary) = match u.parse::<u32>() {
                Ok(uid) => (uid, uid),
                Err(_) => accounts.user(u).ok_or_else(|| unknown("user", u))?,
            };
            let gid = match g {
                None => primary,
                Some(g) => match g.parse::<u32>() {
                    Ok(gid) => gid,
                    Err(_) => accounts.group(g).ok_or_else(|| unknown("group", g))?,
                },
            };
            if uid == 0 || gid == 0 {
                return Err(setting_error(
                    SWUPDATE_VERIFY_USER,
                    s,
                    "is root; the verification program must run unprivileged",
                ));
            }
            traced((uid, gid), SWUPDATE_VERIFY_USER, s)
        }
        None => default_of((65534, 65534), SWUPDATE_VERIFY_USER),
    };
    let dir = match non_empty(vars, SWUPDATE_VERIFY_DIR) {
        Some(s) => absolute_path(SWUPDATE_VERIFY_DIR, s, root)?,
        None => default_of(
            root.host(Path::new(DEFAULT_VERIFY_DIR)),
            SWUPDATE_VERIFY_DIR,
        ),
    };
    let timeout = match non_empty(vars, SWUPDATE_VERIFY_TIMEOUT) {
        Some(s) => whole_number(SWUPDATE_VERIFY_TIMEOUT, s, 1)?,
        None => default_of(DEFAULT_VERIFY_TIMEOUT, SWUPDATE_VERIFY_TIMEOUT),
    };
    Ok(Verification {
        argv: traced(argv, SWUPDATE_VERIFY_PROGRAM, program),
        user,
        dir,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::plan::build::tests::file_mode;
    use crate::plan::{SWUPDATE_VERIFY_PROGRAM, SWUPDATE_VERIFY_USER};

    fn verify_user(value: &str) -> Result<(u32, u32), Error> {
        let p = file_mode()
            .var(SWUPDATE_VERIFY_PROGRAM, "/usr/libexec/unpack")
            .var(SWUPDATE_VERIFY_USER, value)
            .build()?;
        Ok(p.verification.unwrap().user.value)
    }

    #[test]
    fn the_verification_user_may_be_numbers_or_names() {
        assert_eq!(verify_user("1000").unwrap(), (1000, 1000));
        assert_eq!(verify_user("1000:100").unwrap(), (1000, 100));
        assert_eq!(verify_user("verify").unwrap(), (990, 985));
        assert_eq!(verify_user("verify:updaters").unwrap(), (990, 977));
        assert_eq!(verify_user("1000:updaters").unwrap(), (1000, 977));
    }

    #[test]
    fn an_unknown_verification_user_is_an_error() {
        let e = verify_user("nobody").unwrap_err();
        assert!(
            e.message.contains("no user `nobody` on the device"),
            "{}",
            e.message
        );
        assert!(verify_user("verify:wheel").is_err());
    }

    #[test]
    fn root_is_never_the_verification_user() {
        assert!(
            verify_user("0")
                .unwrap_err()
                .message
                .contains("unprivileged")
        );
        assert!(verify_user("1000:0").is_err());
    }
}
