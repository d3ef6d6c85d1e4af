//! The workspace property-test suite lives in `tests/`; this library holds shared strategies and law checkers.
