//! Kubernetes, shared by the cluster readiness gate and the deploy phase: the client and
//! discovery, manifests read into objects that remember their file and line, server-side apply,
//! kstatus-grade readiness rules, the readiness wait (polling in `wait.rs`, event-driven in
//! `watch.rs`, one set of rules), and diagnostics of what did not become
//! ready.

pub(crate) mod apply;
pub(crate) mod client;
pub(crate) mod diagnose;
pub(crate) mod manifests;
pub(crate) mod objects;
pub(crate) mod readiness;
pub(crate) mod wait;
pub(crate) mod watch;
pub(crate) mod yaml;
