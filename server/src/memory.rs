//! How the server process takes memory from the OS.

/// Turns transparent huge pages off for this process.
///
/// mimalloc, the server's allocator, asks for them on its arenas (`MADV_HUGEPAGE`), so the first
/// touch of any 2 MiB region (including memory it gave back to the OS and touches again) faults
/// in and zeroes all of it at once. In the flash-crowd benchmark that zeroing was 60 % of the
/// server's CPU while the buys were being placed, and a viewer held 37 KiB instead of 24. With
/// 4 KiB pages the same work touches only what it uses. Called first thing in `main`: it also
/// covers regions mapped before the call.
pub fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
        let refused = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0;
        if refused {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "could not turn transparent huge pages off"
            );
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn transparent_huge_pages_are_off_for_the_process_once_asked() {
        super::no_transparent_huge_pages();
        // SAFETY: as above.
        let off = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(off, 1);
    }
}
