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
