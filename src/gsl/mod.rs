//! The GSL client: HTTP, auth, pacing, retries and typed models. It knows nothing of Postgres.

pub mod observe;

pub use observe::{CallObserver, NoopObserver, Operation};
