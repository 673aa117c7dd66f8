//! Integration tests: alerts.
