//! The one `main` edge of every SRP binary: run, and on failure print
//! `error: ` with the whole cause chain once, on stderr, and exit non-zero.
//! (Returning `anyhow::Result` from `main` prints the Debug form with a
//! "Caused by" list instead; logging and printing both said it twice.)

use std::process::ExitCode;

/// `fn main() -> ExitCode { srp_daemon::edge::run(real_main) }`: exit 1 on
/// failure. Binaries with their own codes (srp-gate's 1 = blocked,
/// 2 = error; the disk guard's `--once`) map their outcomes themselves.
pub fn run(main: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    match main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// `error: outer: inner: root`, the form the edge prints.
pub fn describe(e: &anyhow::Error) -> String {
    format!("error: {e:#}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn prints_every_cause_once() {
        let e = Err::<(), _>(std::io::Error::other("disk on fire"))
            .context("writing /var/lib/x/db")
            .unwrap_err();
        assert_eq!(describe(&e), "error: writing /var/lib/x/db: disk on fire");
    }
}
