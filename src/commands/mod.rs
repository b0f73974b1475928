//! One module per command: options in, exit code out (no domain logic here).

pub(crate) mod cleanup;
pub(crate) mod doctor;
pub(crate) mod lint;
pub(crate) mod plan;
pub(crate) mod regress;
pub(crate) mod report;
pub(crate) mod run;
mod setup_args;

use crate::errors::ExpectedError;

/// The one runtime of a command that talks to processes or the network: current-thread (the
/// work is waiting, not computing).
fn runtime() -> Result<tokio::runtime::Runtime, ExpectedError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ExpectedError::Runtime { source })
}
