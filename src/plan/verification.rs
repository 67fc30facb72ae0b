//! The verification stage's part of the plan: the product's program, the unprivileged user it
//! runs as, its directory and its time limit (run by [`crate::verify`]).

use std::path::PathBuf;

use crate::accounts::Accounts;
use crate::config::settings::{Setting, Settings};
use crate::config::vocabulary::names::{
    SWUPDATE_VERIFY_DIR, SWUPDATE_VERIFY_PROGRAM, SWUPDATE_VERIFY_TIMEOUT, SWUPDATE_VERIFY_USER,
};
use crate::error::Error;
use crate::plan::values::{absolute_path, or_default, setting_error, traced, whole_number};
use crate::plan::{Account, Program, Traced, Verification};

pub(super) fn verification(
    vars: &Settings,
    program: &Setting,
    accounts: &dyn Accounts,
) -> Result<Verification, Error> {
    let program = program_words(program)?;
    let user = user(&*or_default(vars, SWUPDATE_VERIFY_USER)?, accounts)?;
    let dir = absolute_path(
        SWUPDATE_VERIFY_DIR,
        &*or_default(vars, SWUPDATE_VERIFY_DIR)?,
    )?;
    let timeout = whole_number(
        SWUPDATE_VERIFY_TIMEOUT,
        &*or_default(vars, SWUPDATE_VERIFY_TIMEOUT)?,
        1,
    )?;
    Ok(Verification {
        program,
        user,
        dir,
        timeout,
    })
}

/// The program's words, split with shell quoting; the first an absolute device path.
fn program_words(program: &Setting) -> Result<Traced<Program>, Error> {
    let words = shell_words::split(&program.value).map_err(|_| {
        setting_error(
            SWUPDATE_VERIFY_PROGRAM,
            program,
            "has an unterminated quote",
        )
    })?;
    let mut words = words.into_iter();
    let Some(first) = words.next() else {
        return Err(setting_error(
            SWUPDATE_VERIFY_PROGRAM,
            program,
            "names no program",
        ));
    };
    let path = PathBuf::from(first);
    let args = words.collect();
    if !path.is_absolute() {
        return Err(setting_error(
            SWUPDATE_VERIFY_PROGRAM,
            program,
            format!("`{}` is not an absolute path", path.display()),
        ));
    }
    Ok(traced(
        Program { path, args },
        SWUPDATE_VERIFY_PROGRAM,
        program,
    ))
}

/// `SWUPDATE_VERIFY_USER` (or its default), read as for the verification stage: the user the
/// product's contained programs run as (the health checks of `confirm` too).
pub fn verification_user(vars: &Settings, accounts: &dyn Accounts) -> Result<Account, Error> {
    Ok(user(&*or_default(vars, SWUPDATE_VERIFY_USER)?, accounts)?.value)
}

/// `user[:group]`, numbers or the device's names (a user's primary group when none is given);
/// never root.
fn user(s: &Setting, accounts: &dyn Accounts) -> Result<Traced<Account>, Error> {
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
    Ok(traced(Account { uid, gid }, SWUPDATE_VERIFY_USER, s))
}

#[cfg(test)]
mod tests {
    use crate::config::vocabulary::names::{SWUPDATE_VERIFY_PROGRAM, SWUPDATE_VERIFY_USER};
    use crate::error::Error;
    use crate::plan::build::tests::file_mode;

    fn verify_user(value: &str) -> Result<(u32, u32), Error> {
        let p = file_mode()
            .var(SWUPDATE_VERIFY_PROGRAM, "/usr/libexec/unpack")
            .var(SWUPDATE_VERIFY_USER, value)
            .build()?;
        let user = p.verification.unwrap().user.value;
        Ok((user.uid, user.gid))
    }

    #[test]
    fn the_program_is_the_first_word_and_its_arguments_the_rest() {
        let p = file_mode()
            .var(
                SWUPDATE_VERIFY_PROGRAM,
                "/usr/libexec/unpack --key '/etc/a b.pem'",
            )
            .build()
            .unwrap();
        let program = p.verification.unwrap().program.value;
        assert_eq!(program.path, std::path::Path::new("/usr/libexec/unpack"));
        assert_eq!(program.args, ["--key", "/etc/a b.pem"]);
    }

    #[test]
    fn a_relative_or_empty_program_path_is_an_error() {
        for bad in ["unpack --strict", "''"] {
            let e = file_mode()
                .var(SWUPDATE_VERIFY_PROGRAM, bad)
                .build()
                .unwrap_err();
            assert!(
                e.message.contains("is not an absolute path"),
                "{bad}: {}",
                e.message
            );
        }
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
