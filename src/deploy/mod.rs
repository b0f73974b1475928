//! Phase 4, deploy: manifests and their images (checked in preflight), the cluster readiness
//! gate, server-side apply with discovery, kstatus-grade readiness, one wait per group, and
//! diagnostics for whatever does not become ready.

pub(crate) mod apply;
pub(crate) mod diagnose;
pub(crate) mod gate;
pub(crate) mod manifests;
pub(crate) mod objects;
pub(crate) mod phase;
pub(crate) mod readiness;
#[cfg(test)]
mod tests;
pub(crate) mod wait;
