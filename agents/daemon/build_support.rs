// Shared by build.rs (`include!`) and the crate's unit tests, so that the
// precedence of the build-time inputs is tested like any other code.

/// The commit: SRP_GIT_COMMIT, else Jenkins' GIT_COMMIT, else `git`, else "unknown".
pub fn resolve_commit(
    env: &dyn Fn(&str) -> Option<String>,
    git_head: &dyn Fn() -> Option<String>,
) -> String {
    nonempty(env("SRP_GIT_COMMIT"))
        .or_else(|| nonempty(env("GIT_COMMIT")))
        .or_else(|| nonempty(git_head()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The CI build number: SRP_BUILD_NUMBER, else BUILD_NUMBER (Jenkins), else none.
pub fn resolve_build_number(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    nonempty(env("SRP_BUILD_NUMBER")).or_else(|| nonempty(env("BUILD_NUMBER")))
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// A build script's whole work: bake `SRP_BUILD_COMMIT` and
/// `SRP_BUILD_NUMBER_BAKED` (empty for "none") into the crate, for
/// `srp_daemon::build_info!`. Each binary crate's build.rs includes this file
/// and calls it, so every binary reports the commit it was built from.
#[allow(dead_code)]
pub fn emit_build_env() {
    println!("cargo:rerun-if-changed=build.rs");
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
    let build = resolve_build_number(&env).unwrap_or_default();
    println!("cargo:rustc-env=SRP_BUILD_NUMBER_BAKED={build}");
}

#[allow(dead_code)]
fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The current commit, and rebuild triggers so that a new commit refreshes it.
#[allow(dead_code)]
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
