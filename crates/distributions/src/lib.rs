//! `distributions`: filled by its own issue.
