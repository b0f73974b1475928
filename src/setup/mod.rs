//! The hybrid-parallel setup: plan, preflight, the four phases, and the engine that runs them.

pub(crate) mod build;
pub(crate) mod classify;
pub(crate) mod cluster;
pub(crate) mod engine;
pub(crate) mod load;
pub(crate) mod plan;
pub(crate) mod preflight;
pub(crate) mod reference;
pub(crate) mod run;
pub(crate) mod tools;
