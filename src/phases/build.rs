//! Phase 1: `docker build` / `podman build` per image, tagged with the fully-qualified reference.

use std::sync::Arc;

use super::RunContext;
use super::classify::{self, Source};
use crate::exec::ExecError;
use crate::model::{Failure, FailureClass};
use crate::plan::PlannedImage;
use crate::runner::{Step, StepContext, StepResult};
use crate::tools::ContainerEngine;

/// The build command for one image (argv; no shell).
pub(crate) fn build_command(engine: &ContainerEngine, image: &PlannedImage) -> crate::exec::ProcessSpec {
    let mut spec = engine
        .command()
        .arg("build")
        .arg("-t")
        .arg(&image.reference)
        .arg("-f")
        .arg(image.dockerfile.display().to_string());
    for (key, value) in &image.build_args {
        spec = spec.arg("--build-arg").arg(format!("{key}={value}"));
    }
    spec.arg(image.context.display().to_string())
}

/// One build step per image (the engine is the one preflight found).
pub(crate) fn steps(context: &RunContext) -> Result<Vec<Step>, &'static str> {
    let engine = context.engine().ok_or("no container engine answered in preflight")?;
    Ok(context
        .plan
        .images
        .iter()
        .map(|image| step(Arc::clone(&engine), image.clone()))
        .collect())
}

fn step(engine: Arc<ContainerEngine>, image: PlannedImage) -> Step {
    let name = image.name.clone();
    Step::new(name, move |context: StepContext| async move {
        let spec = build_command(&engine, &image);
        let dockerfile = image.dockerfile.display().to_string();
        match context.exec(&spec, Some(image.timeout)).await {
            Ok(outcome) if outcome.success() => StepResult::ok(),
            Ok(outcome) if outcome.cancelled => StepResult::ok(),
            Ok(outcome) if outcome.timed_out => StepResult::failed(
                Failure::new(
                    FailureClass::Infrastructure,
                    format!("build timed out after {}", humantime::format_duration(image.timeout)),
                )
                .hint("raise `timeout:` for this image or find the slow step in the log")
                .file(dockerfile)
                .tail(outcome.tail),
            ),
            Ok(outcome) => {
                let text = outcome.tail_text();
                let (class, pattern) = classify::classify(Source::Build, &text);
                let message = format!(
                    "`{} build` of {} failed ({})",
                    engine.kind.as_str(),
                    image.reference,
                    outcome.ending()
                );
                let line = failing_instruction_line(&image.dockerfile, &outcome.tail);
                let mut failure = Failure::new(class, message).at(dockerfile, line).tail(outcome.tail);
                if let Some(pattern) = pattern {
                    failure = failure.hint(pattern.hint);
                }
                StepResult::failed(failure)
            }
            Err(error @ ExecError::Log { .. }) => {
                StepResult::failed(Failure::new(FailureClass::Infrastructure, error.to_string()))
            }
            Err(error) => StepResult::failed(
                Failure::new(FailureClass::Infrastructure, error.to_string())
                    .hint("is the container engine installed?"),
            ),
        }
    })
}

/// The Dockerfile line of the last step the build log announced (`Step 3/4 : RUN make` from
/// Docker, `STEP 3/4: RUN make` from Podman/Buildah).
fn failing_instruction_line(dockerfile: &std::path::Path, tail: &[String]) -> Option<usize> {
    let instruction = tail.iter().rev().find_map(|line| {
        let rest = line
            .trim_start()
            .strip_prefix("Step ")
            .or_else(|| line.trim_start().strip_prefix("STEP "))?;
        let (numbers, text) = rest.split_once(':')?;
        numbers.contains('/').then(|| text.trim().to_owned())
    })?;
    let text = std::fs::read_to_string(dockerfile).ok()?;
    crate::lint::locate_instruction(&text, &instruction)
}
