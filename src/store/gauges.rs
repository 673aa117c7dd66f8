//! placeholder: filled by the gauges work.
