//! The hybrid-parallel setup: plan, phases, and the engine that runs them.

pub(crate) mod reference;
