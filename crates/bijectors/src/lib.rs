//! `bijectors`: filled by its own issue.
