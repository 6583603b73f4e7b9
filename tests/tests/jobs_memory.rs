//! The job queue's conformance suite against the in-memory backend.

use adapter_memory::MemoryStorage;
use std::sync::Arc;
use tests::jobs_conformance::FreshQueue;

tests::job_queue_conformance!(memory, async {
    let storage = MemoryStorage::new();
    Some(FreshQueue {
        signal: storage.job_signal(),
        storage: Arc::new(storage),
    })
});
