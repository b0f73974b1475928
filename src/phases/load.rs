//! Phase 3: images into the cluster. Docker: `kind load docker-image`. Podman: `podman save` to
//! an archive, then `kind load image-archive` (`kind load docker-image` cannot see Podman's
//! images). Bytes and bytes/s are recorded; archives are removed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::RunContext;
use super::classify::{self, Source};
use crate::exec::ProcessOutcome;
use crate::model::{Failure, FailureClass};
use crate::plan::PlannedImage;
use crate::runner::{Step, StepContext, StepResult};
use crate::tools::{ContainerEngine, EngineKind, Kind, QUERY_TIMEOUT};

/// How long saving or loading one image may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn failure(what: &str, outcome: &ProcessOutcome) -> Failure {
    let (class, pattern) = classify::classify(Source::Load, &outcome.tail_text());
    let reason = outcome.ending();
    let mut failure = Failure::new(class, format!("{what} failed: {reason}")).tail(outcome.tail.clone());
    if let Some(pattern) = pattern {
        failure = failure.hint(pattern.hint);
    }
    failure
}

/// One load step per image, into the run's cluster.
pub(crate) fn steps(context: &RunContext) -> Result<Vec<Step>, &'static str> {
    let engine = context.engine().ok_or("no container engine answered in preflight")?;
    let plan = &context.plan;
    let archives = plan.report_dir.join("archives");
    Ok(plan
        .images
        .iter()
        .map(|image| {
            step(
                Arc::clone(&engine),
                context.kind(),
                plan.cluster.name.clone(),
                image.clone(),
                archives.clone(),
            )
        })
        .collect())
}

fn step(
    engine: Arc<ContainerEngine>,
    kind: Arc<Kind>,
    cluster: String,
    image: PlannedImage,
    archives: PathBuf,
) -> Step {
    Step::new(image.name.clone(), move |context: StepContext| async move {
        let result = match engine.kind {
            EngineKind::Docker => load_from_docker(&context, &engine, &kind, &cluster, &image).await,
            EngineKind::Podman => load_through_archive(&context, &engine, &kind, &cluster, &image, &archives).await,
        };
        match result {
            Ok(bytes) => StepResult {
                bytes,
                ..StepResult::ok()
            },
            Err(failure) => StepResult::failed(failure),
        }
    })
}

async fn load_from_docker(
    context: &StepContext,
    engine: &ContainerEngine,
    kind: &Kind,
    cluster: &str,
    image: &PlannedImage,
) -> Result<Option<u64>, Failure> {
    let inspect = engine
        .command()
        .args(["image", "inspect", "--format", "{{.Size}}", &image.reference]);
    let bytes = match crate::exec::capture(&inspect, QUERY_TIMEOUT).await {
        Ok((true, stdout, _)) => stdout.trim().parse::<u64>().ok(),
        _ => None,
    };
    let spec = kind
        .command()
        .args(["load", "docker-image", &image.reference, "--name", cluster]);
    let outcome = context
        .exec(&spec, Some(LOAD_TIMEOUT))
        .await
        .map_err(|error| Failure::new(FailureClass::Infrastructure, error.to_string()))?;
    if outcome.success() || outcome.cancelled {
        Ok(bytes)
    } else {
        Err(failure(
            &format!("`kind load docker-image {}`", image.reference),
            &outcome,
        ))
    }
}

async fn load_through_archive(
    context: &StepContext,
    engine: &ContainerEngine,
    kind: &Kind,
    cluster: &str,
    image: &PlannedImage,
    archives: &std::path::Path,
) -> Result<Option<u64>, Failure> {
    std::fs::create_dir_all(archives).map_err(|error| {
        Failure::new(
            FailureClass::Infrastructure,
            format!("failed to create {}: {error}", archives.display()),
        )
    })?;
    let archive = archives.join(format!("{}.tar", image.name));
    // `podman save -o` refuses to overwrite a leftover archive.
    let _ = std::fs::remove_file(&archive);
    let archive_text = archive.display().to_string();
    let save = engine.command().args(["save", "-o", &archive_text, &image.reference]);
    let outcome = context
        .exec(&save, Some(LOAD_TIMEOUT))
        .await
        .map_err(|error| Failure::new(FailureClass::Infrastructure, error.to_string()))?;
    if outcome.cancelled {
        let _ = std::fs::remove_file(&archive);
        return Ok(None);
    }
    if !outcome.success() {
        let _ = std::fs::remove_file(&archive);
        return Err(failure(
            &format!("`{} save {}`", engine.kind.as_str(), image.reference),
            &outcome,
        ));
    }
    let bytes = std::fs::metadata(&archive).map(|metadata| metadata.len()).ok();
    let load = kind
        .command()
        .args(["load", "image-archive", &archive_text, "--name", cluster]);
    let outcome = context.exec(&load, Some(LOAD_TIMEOUT)).await;
    let _ = std::fs::remove_file(&archive);
    let outcome = outcome.map_err(|error| Failure::new(FailureClass::Infrastructure, error.to_string()))?;
    if outcome.success() || outcome.cancelled {
        Ok(bytes)
    } else {
        Err(failure(
            &format!("`kind load image-archive` of {}", image.reference),
            &outcome,
        ))
    }
}
