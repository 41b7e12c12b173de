//! Throwaway PostgreSQL servers for tests (being written).
