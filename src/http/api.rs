//! placeholder: the /api/v1 report routes.
