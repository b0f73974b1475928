//! Phase 4, deploy: manifests and their images (checked today, before anything else runs), and
//! kstatus-grade readiness rules. Server-side apply and the readiness wait against the cluster
//! are being built on top of these (issue 4); until then `run` validates deploy groups only.

pub(crate) mod manifests;
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "the deploy phase's readiness wait, being built, is its caller")
)]
pub(crate) mod readiness;
