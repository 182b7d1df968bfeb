//! Keep the resident set to what scrapes use.
//!
//! Most of a Rust binary's resident memory is its own code and constants: the
//! kernel maps file pages in 64 kB windows around every page touched, and
//! start-up (argument parsing, logging and TLS set-up) touches much that never
//! runs again. Once serving, we drop the pages of read-only file mappings that
//! were never written, so only what scrapes use is faulted back in (from the
//! page cache). Writable and relocated (RELRO) mappings are left alone.

/// Allocator settings for a small, long-running process. Call first thing in
/// `main`, before any thread exists (arenas are per thread once created).
pub fn tune_allocator() {
    // SAFETY: mallopt only tunes the allocator. One arena: the few helper
    // threads do not need their own, and each would keep pages resident.
    // A fixed mmap threshold: a scrape's large, short-lived buffers (the
    // exposition text, the gzip state) go back to the system after each
    // scrape instead of staying in the heap between scrapes.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// Drop resident pages of read-only file mappings and return freed heap to
/// the system.
pub fn trim_after_startup() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut dropped = 0usize;
    for (start, end) in droppable(&smaps) {
        // SAFETY: a private, read-only, file-backed mapping none of whose pages
        // was ever written (no anonymous copies): dropping them only makes the
        // next access read the file again, as reclaim under memory pressure does.
        if unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) }
            == 0
        {
            dropped += end - start;
        }
    }
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
    tracing::debug!(mapped_bytes = dropped, "dropped start-up pages");
}

/// Address ranges of private, non-writable, file-backed mappings without
/// anonymous (copied-on-write) pages, from /proc/self/smaps text. RELRO
/// sections were written during relocation, so they have anonymous pages and
/// are never returned.
pub fn droppable(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or("");
        if let Some((lo, hi)) = first
            .split_once('-')
            .filter(|(lo, _)| lo.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            current = None;
            let perms = f.next().unwrap_or("");
            let (_off, _dev, inode) = (f.next(), f.next(), f.next().unwrap_or("0"));
            let path = f.next().unwrap_or("");
            let p = perms.as_bytes();
            let eligible = p.len() == 4
                && p[0] == b'r'
                && p[1] == b'-'
                && p[3] == b'p'
                && inode != "0"
                && path.starts_with('/');
            if eligible {
                if let (Ok(a), Ok(b)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    current = Some((a, b));
                }
            }
        } else if first == "Anonymous:" {
            if let Some(range) = current.take() {
                if f.next() == Some("0") {
                    out.push(range);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_clean_read_only_file_mappings() {
        let smaps = "55d0-55e0 r--p 00000000 fe:00 12 /usr/bin/x\nRss: 8 kB\nAnonymous: 0 kB\n\
55e0-55f0 r-xp 00001000 fe:00 12 /usr/bin/x\nAnonymous: 0 kB\n\
55f0-5600 r--p 00002000 fe:00 12 /usr/bin/x\nAnonymous: 8 kB\n\
5600-5610 rw-p 00003000 fe:00 12 /usr/bin/x\nAnonymous: 0 kB\n\
5610-5620 r-xs 00000000 fe:00 13 /dev/shm/y\nAnonymous: 0 kB\n\
7ff0-7ff2 r-xp 00000000 00:00 0 [vdso]\nAnonymous: 0 kB\n";
        assert_eq!(
            super::droppable(smaps),
            vec![(0x55d0, 0x55e0), (0x55e0, 0x55f0)]
        );
    }

    #[test]
    fn code_keeps_running_after_the_trim() {
        super::trim_after_startup();
        // Everything still works: code pages come back from the file.
        let v: Vec<String> = (0..1000).map(|i| format!("{i}")).collect();
        assert_eq!(v[999], "999");
        super::trim_after_startup();
        assert!(std::fs::read_to_string("/proc/self/stat").is_ok());
    }
}
