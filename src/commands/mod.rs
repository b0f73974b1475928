//! One module per command: options in, exit code out (no domain logic here).

pub(crate) mod cleanup;
pub(crate) mod coverage;
pub(crate) mod doctor;
pub(crate) mod lint;
pub(crate) mod plan;
pub(crate) mod regress;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod services;
mod setup_args;

use std::io::{IsTerminal, Write};

use crate::errors::ExpectedError;
use crate::report::printer::Printer;

/// The one runtime of a command that talks to processes or the network: current-thread (the
/// work is waiting, not computing).
fn runtime() -> Result<tokio::runtime::Runtime, ExpectedError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ExpectedError::Runtime { source })
}

/// Write `text` to standard output, styled only when colour is on and it is a terminal. A
/// closed pipe (`| head`) ends the output quietly, as cargo and ripgrep do; any other failure
/// (a full disk behind a redirect) is an error, never a silent success.
pub(crate) fn write_stdout(printer: &Printer, text: &str) -> Result<(), ExpectedError> {
    let styled = printer.color && std::io::stdout().is_terminal();
    let text = if styled {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(anstream::adapter::strip_str(text).to_string())
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(ExpectedError::WriteOutput {
            path: "standard output".into(),
            source,
        }),
    }
}
