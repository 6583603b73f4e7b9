//! The storage conformance suite against PostgreSQL: each test on a fresh
//! schema of the machine's database (see `tests::pg`).

tests::storage_conformance!(postgres, tests::pg::PgTestStorage::fresh());
