//! The job queue's conformance suite against PostgreSQL: each test on a
//! fresh schema, with its own `LISTEN` connection.

tests::job_queue_conformance!(postgres, tests::pg::PgTestStorage::fresh_queue());
