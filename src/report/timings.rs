//! Writes `timings.json` when the run finishes, whatever the outcome.

use std::path::PathBuf;

use crate::files;
use crate::model::{Event, Reporter};

pub(crate) struct TimingsFile {
    pub(crate) path: PathBuf,
    pub(crate) error: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Reporter for TimingsFile {
    fn handle(&mut self, event: &Event<'_>) {
        let Event::RunFinished { record } = event else { return };
        let result = serde_json::to_string_pretty(record)
            .map_err(|error| error.to_string())
            .and_then(|mut text| {
                text.push('\n');
                files::write_atomically(&self.path, text.as_bytes()).map_err(|error| error.to_string())
            });
        if let Err(error) = result {
            *self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(format!("failed to write {}: {error}", self.path.display()));
        }
    }
}
