//! One module per command family: options in, exit code out.

pub(crate) mod lint;
pub(crate) mod setup;
