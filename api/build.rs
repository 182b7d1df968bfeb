//! Bakes the git commit and the CI build number into the binary for `/version`
//! and `srp_build_info`. Jenkins passes them in the environment; a developer
//! build falls back to `git rev-parse HEAD`, then to "unknown". The precedence
//! lives in build_support.rs, where it is unit-tested.

use std::process::Command;

include!("build_support.rs");

fn main() {
    println!("cargo:rerun-if-changed=build_support.rs");
    for var in [
        "SRP_GIT_COMMIT",
        "GIT_COMMIT",
        "SRP_BUILD_NUMBER",
        "BUILD_NUMBER",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let env = |name: &str| std::env::var(name).ok();
    let commit = resolve_commit(&env, &git_head);
    println!("cargo:rustc-env=SRP_BUILD_COMMIT={commit}");
    // An empty value means "no build number"; build_info.rs turns it into None.
    let build = resolve_build_number(&env).unwrap_or_default();
    println!("cargo:rustc-env=SRP_BUILD_NUMBER_BAKED={build}");
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The current commit, and rebuild triggers so that a new commit refreshes it.
fn git_head() -> Option<String> {
    let head = git(&["rev-parse", "HEAD"])?;
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let path = format!("{git_dir}/{reference}");
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
        let packed = format!("{git_dir}/packed-refs");
        if std::path::Path::new(&packed).exists() {
            println!("cargo:rerun-if-changed={packed}");
        }
    }
    Some(head)
}
