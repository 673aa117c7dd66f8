//! placeholder: filled by the alerts work.
