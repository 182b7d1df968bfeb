//! Path globs for waivers, with doublestar semantics as in Trivy's ignore
//! file: `*` and `?` stay within one path segment, `**` spans segments.

/// True when `path` matches `pattern` as a whole.
pub fn matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    match_segments(&pat, &segs)
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match pat.first() {
        None => segs.is_empty(),
        Some(&"**") => (0..=segs.len()).any(|i| match_segments(&pat[1..], &segs[i..])),
        Some(p) => match segs.first() {
            Some(s) if match_segment(p.as_bytes(), s.as_bytes()) => {
                match_segments(&pat[1..], &segs[1..])
            }
            _ => false,
        },
    }
}

fn match_segment(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => (0..=s.len()).any(|i| match_segment(&p[1..], &s[i..])),
        (Some(b'?'), Some(_)) => match_segment(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => match_segment(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn doublestar_and_segments() {
        assert!(matches("**/*-lock.json", "foo/bar/package-lock.json"));
        assert!(matches("**/*-lock.json", "package-lock.json"));
        assert!(!matches("*.json", "a/b.json"));
        assert!(matches("a/*/c", "a/b/c"));
        assert!(!matches("a/*/c", "a/b/x/c"));
        assert!(matches("a/**/c", "a/b/x/c"));
        assert!(matches("bar/package.json", "bar/package.json"));
        assert!(!matches("bar/package.json", "foo/bar/package.json"));
        assert!(matches("src/?.rs", "src/a.rs"));
    }
}
