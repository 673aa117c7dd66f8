//! placeholder: filled by the reports work.
