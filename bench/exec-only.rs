//! Reference for `scripts/bench profiles`: a Rust program that does nothing but exec its
//! arguments, built like the launcher (LTO, abort, opt-level "z", dynamic glibc). Compiled with
//! `--cfg raw_main` it skips the standard library's runtime set-up (`#![no_main]`: no stack
//! guard probe of /proc/self/maps, no sigaltstack, no SIGPIPE change, no stdio poll).
#![cfg_attr(raw_main, no_main)]

use std::os::unix::process::CommandExt;
use std::process::Command;

fn exec_args() -> i32 {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        return 64;
    };
    let _ = Command::new(program).args(args).exec();
    127
}

#[cfg(not(raw_main))]
fn main() {
    std::process::exit(exec_args());
}

#[cfg(raw_main)]
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    exec_args()
}
