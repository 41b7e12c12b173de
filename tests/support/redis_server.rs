//! Throwaway Redis servers for tests (being written).
