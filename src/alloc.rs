//! The memory allocator: mimalloc rather than glibc's malloc. Sessions, the store
//! writer and sled's threads free each other's allocations all the time, and
//! glibc's per-arena locks made those frees wait on each other (futex waits in
//! perf under bench_imap); mimalloc frees to the owning thread without a lock.
//! Built without transparent huge pages (`no_thp`): a 2 MiB page for a few KiB of
//! live data would make an idle server's RSS several times what it holds.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands memory freed since the last collection back to the system now, rather
/// than keeping it for reuse: for after freeing large buffers that will not be
/// needed again soon (argon2's working memory once logins and creates stop, a
/// quiet connection's compressor).
pub fn return_free_memory() {
    // SAFETY: mi_collect only walks and purges the allocator's own free lists.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
