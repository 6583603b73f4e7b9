//! The storage conformance suite against the in-memory backend.

use std::sync::Arc;

use adapter_memory::MemoryStorage;

tests::storage_conformance!(memory, async { Some(Arc::new(MemoryStorage::new()) as _) });
