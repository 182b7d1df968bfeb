//! Keep the resident set to what scrapes use.
//!
//! Most of a Rust binary's resident memory is its own code: the kernel maps
//! file pages in 64 kB windows around every page touched, and start-up
//! (argument parsing, logging and TLS set-up) touches code that never runs
//! again. Once serving, we drop the mappings of executable text so that only
//! the code scrapes actually run is faulted back in (from the page cache).
//! Only read-execute mappings are dropped: they are never written, so
//! MADV_DONTNEED on them just re-reads the file on the next touch. Writable or
//! relocated (RELRO) mappings are left alone.

/// Drop resident executable pages and return freed heap to the system.
pub fn trim_after_startup() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let mut dropped = 0usize;
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(_off), Some(_dev), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let path = f.next().unwrap_or("");
        // Private, read+execute, file-backed (not [vdso]/[vsyscall]).
        if perms != "r-xp" || inode == "0" || !path.starts_with('/') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: the range is an existing private, never-written text mapping;
        // dropping its pages only makes the next access re-read the file.
        if unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) }
            == 0
        {
            dropped += end - start;
        }
    }
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
    tracing::debug!(mapped_text_bytes = dropped, "dropped start-up code pages");
}

#[cfg(test)]
mod tests {
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
