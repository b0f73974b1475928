//! Kubernetes, shared by the cluster readiness gate and the deploy phase: the client and
//! discovery, manifests read into objects that remember their file and line, server-side apply,
//! kstatus-grade readiness rules, the one readiness wait, and diagnostics of what did not become
//! ready.

pub(crate) mod apply;
pub(crate) mod client;
pub(crate) mod diagnose;
pub(crate) mod manifests;
pub(crate) mod objects;
pub(crate) mod readiness;
pub(crate) mod wait;
pub(crate) mod yaml;
