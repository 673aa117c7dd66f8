//! The HTTP surface: /metrics, /healthz, /readyz and the /api/v1 report routes.

pub mod api;
