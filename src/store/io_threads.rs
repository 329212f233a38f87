//! sled hands each sealed log buffer (one or two per transaction, one per flush) to
//! a pool of seven I/O threads and wakes all seven for it; six go back to sleep.
//! On a small machine those wake-ups preempt the threads serving sessions and the
//! store writer, which holds sled's global write lock while it commits, so every
//! session waits for them. Under SCHED_BATCH the I/O threads keep their share of
//! the CPU but no longer preempt on waking.

/// sled starts this many I/O threads with its first log write (and adds more only
/// while work queues up).
pub(super) const SLED_IO_THREADS: usize = 7;

/// Moves sled's I/O threads to SCHED_BATCH; returns how many there are now. The
/// store writer calls it after its flushes until all of them have started.
#[cfg(target_os = "linux")]
pub(super) fn yield_sled_io_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut moved = 0;
    for task in tasks.flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !name.starts_with("sled-io") {
            continue;
        }
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse::<libc::pid_t>().ok()) else {
            continue;
        };
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sched_setscheduler only reads `param`; a thread that has ended
        // meanwhile makes it fail with ESRCH, which is ignored.
        if unsafe { libc::sched_setscheduler(tid, libc::SCHED_BATCH, &param) } == 0 {
            moved += 1;
        }
    }
    moved
}

#[cfg(not(target_os = "linux"))]
pub(super) fn yield_sled_io_threads() -> usize {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use crate::store::testutil::temp_store;

    #[test]
    fn sled_io_threads_run_as_batch() {
        let store = temp_store();
        store.store.flush_blocking().expect("flush");
        // The threads name themselves once running: allow them a moment.
        for _ in 0..100 {
            if super::yield_sled_io_threads() >= super::SLED_IO_THREADS {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let batch = std::fs::read_dir("/proc/self/task")
            .expect("tasks")
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .unwrap_or_default()
                    .starts_with("sled-io")
            })
            .filter(|t| {
                // Field 41 of /proc/<tid>/stat is the policy; SCHED_BATCH is 3.
                let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                let after_name = stat.rsplit(')').next().unwrap_or("");
                after_name.split_whitespace().nth(38) == Some("3")
            })
            .count();
        assert!(
            batch >= super::SLED_IO_THREADS,
            "sled-io threads under SCHED_BATCH: {batch}"
        );
    }
}
