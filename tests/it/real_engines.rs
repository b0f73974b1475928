//! The named group of tests that need the machine's real Docker and Podman: real builds (build
//! args, the failing step's line from the real build log), saves, archives and the bundled
//! example. `.ci/test.sh` sets `HYBRID_E2E_REQUIRE_ENGINES=1`, so there a missing engine fails
//! these tests instead of skipping them; elsewhere they skip with a note.

use crate::run_cli::{SETUP_FAILED, bundled_example, example_timings, phase, project_on, remove_images};
use crate::support::{Engines, engine_ready, stderr, stdout};

#[test]
fn docker_builds_loads_and_tears_down() {
    if !engine_ready("docker") {
        return;
    }
    let project = project_on(Engines::Real, "docker", "it-docker", "", "echo worker > /worker");
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["status"], "ok");
    assert_eq!(timings["engine"], "docker");
    assert_eq!(timings["within_target"], true);
    let cluster = timings["cluster_name"].as_str().expect("cluster").to_owned();
    let api = timings["images"][0].as_str().expect("api ref").to_owned();
    assert!(api.starts_with("localhost/it-docker/api:e2e-"), "{api}");
    for name in ["build", "cluster", "load"] {
        assert_eq!(phase(&timings, name)["status"], "ok", "{name}");
        assert!(phase(&timings, name)["target_seconds"].as_f64().is_some());
    }
    assert_eq!(phase(&timings, "deploy")["status"], "skipped");
    let load = &phase(&timings, "load")["steps"][0];
    assert!(
        load["bytes"].as_u64().expect("bytes") > 0 && load["bytes_per_second"].as_f64().is_some(),
        "{load}"
    );
    assert!(project.path().join("hybrid-e2e-report/logs/build/api.log").is_file());
    // The build arg reached the image, under the fully-qualified reference.
    let run = std::process::Command::new("docker")
        .args(["run", "--rm", &api])
        .output()
        .expect("docker run");
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "msg=hello");
    let calls: Vec<String> = project.kind_calls().into_iter().map(|(args, _)| args).collect();
    assert!(
        calls.contains(&format!(
            "create cluster --name {cluster} --kubeconfig hybrid-e2e-report/kubeconfig --retain"
        )),
        "{calls:?}"
    );
    assert!(
        calls.contains(&format!("load docker-image {api} --name {cluster}")),
        "{calls:?}"
    );
    assert_eq!(
        calls.last(),
        Some(&format!("delete cluster --name {cluster}")),
        "success with preserve: on-failure deletes"
    );
    assert!(project.path().join("hybrid-e2e-report/kubeconfig").is_file());
    remove_images("docker", &timings);
}

#[test]
fn podman_saves_archives_and_loads_them_with_the_podman_provider() {
    if !engine_ready("podman") {
        return;
    }
    let project = project_on(
        Engines::Real,
        "podman",
        "it-podman",
        "cluster:\n  preserve: always\n",
        "echo worker > /worker",
    );
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["engine"], "podman");
    let cluster = timings["cluster_name"].as_str().expect("cluster").to_owned();
    let calls = project.kind_calls();
    assert!(
        calls.iter().all(|(_, provider)| provider.as_deref() == Some("podman")),
        "every kind call uses the podman provider: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|(args, _)| args.starts_with("load image-archive ") && args.ends_with(&format!("--name {cluster}")))
    );
    assert!(
        !calls.iter().any(|(args, _)| args.starts_with("load docker-image")),
        "docker-image cannot see Podman's images"
    );
    // The archives carried the fully-qualified references, and were removed afterwards.
    // The build arg reached the image Podman built.
    let api = timings["images"][0].as_str().expect("api ref");
    let label = std::process::Command::new("podman")
        .args(["image", "inspect", "--format", "{{.Config.Labels.msg}}", api])
        .output()
        .expect("podman inspect");
    assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), "hello");
    let mut loaded = project.loaded_images(&cluster);
    loaded.sort();
    let mut expected: Vec<String> = timings["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter_map(|image| image.as_str().map(str::to_owned))
        .collect();
    expected.sort();
    assert_eq!(loaded, expected);
    let archives = project.path().join("hybrid-e2e-report/archives");
    assert!(
        std::fs::read_dir(&archives).map(|entries| entries.count()).unwrap_or(0) == 0,
        "archives left behind"
    );
    let load = &phase(&timings, "load")["steps"][0];
    assert!(load["bytes"].as_u64().expect("archive bytes") > 100_000, "{load}");
    // preserve: always keeps the cluster; cleanup removes it and the images.
    assert!(!calls.iter().any(|(args, _)| args.starts_with("delete cluster")));
    let cleanup = project.run(&["cleanup"], &[]);
    assert_eq!(cleanup.status.code(), Some(0), "{}", stderr(&cleanup));
    assert!(
        stdout(&cleanup).contains(&format!("deleted cluster {cluster}")),
        "{}",
        stdout(&cleanup)
    );
    assert!(
        project
            .kind_calls()
            .iter()
            .any(|(args, _)| args == &format!("delete cluster --name {cluster}"))
    );
    let gone = std::process::Command::new("podman")
        .args(["image", "exists", expected[0].as_str()])
        .status()
        .expect("podman");
    assert!(!gone.success(), "cleanup removed the images");
}

#[test]
fn a_failing_dockerfile_step_is_an_application_failure_and_no_cluster_is_made() {
    if !engine_ready("docker") {
        return;
    }
    let project = project_on(Engines::Real, "docker", "it-buildfail", "", "echo compiling && exit 42");
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["status"], "failed");
    assert_eq!(timings["failure_class"], "application");
    assert_eq!(timings["failed_phase"], "build");
    let worker = phase(&timings, "build")["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["name"] == "worker")
        .expect("worker")
        .clone();
    assert_eq!(worker["status"], "failed");
    assert!(
        worker["file"]
            .as_str()
            .expect("file")
            .ends_with("docker/worker.Dockerfile")
    );
    assert_eq!(worker["line"], 3, "the failing RUN, found from the build log");
    assert!(
        worker["hint"]
            .as_str()
            .expect("hint")
            .contains("Dockerfile step failed"),
        "{worker}"
    );
    assert_eq!(phase(&timings, "cluster")["status"], "skipped");
    assert!(!project.kind_calls().iter().any(|(args, _)| args.starts_with("create")));
    let text = stderr(&output);
    assert!(
        text.contains("[application]") && text.contains("compiling"),
        "the tail of the output is shown: {text}"
    );
    remove_images("docker", &timings);
}

#[test]
fn a_failing_podman_build_is_an_application_failure_too() {
    if !engine_ready("podman") {
        return;
    }
    let project = project_on(Engines::Real, "podman", "it-podman-fail", "", "exit 7");
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["failure_class"], "application");
    let worker = &phase(&timings, "build")["steps"][1];
    assert_eq!(
        worker["line"], 3,
        "the failing RUN, from Podman's `STEP 3/3:` line: {worker}"
    );
    assert_eq!(
        worker["hint"], "a Dockerfile step failed; its output shows which and why",
        "the same hint as Docker: {worker}"
    );
    assert!(!project.kind_calls().iter().any(|(args, _)| args.starts_with("create")));
    remove_images("podman", &timings);
}

#[test]
fn the_bundled_example_runs_all_four_phases() {
    if !engine_ready("docker") {
        return;
    }
    // The fake API server starts a pod only for images the fake kind loaded (checked against the
    // real `docker image inspect`) under the manifests' names, or for the public postgres image.
    let project = bundled_example(fake_apiserver::Script::default(), Engines::Real);
    let output = project.run(&["run"], &[]);
    let timings = example_timings(&project);
    remove_images("docker", &timings);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let loads: Vec<String> = project
        .kind_calls()
        .into_iter()
        .map(|(args, _)| args)
        .filter(|args| args.starts_with("load docker-image "))
        .collect();
    for image in ["localhost/example/gateway:e2e", "localhost/example/datastorage:e2e"] {
        assert!(loads.iter().any(|call| call.contains(image)), "{image} in {loads:?}");
    }
    assert_eq!(timings["status"], "ok");
    for name in ["build", "cluster", "load", "deploy"] {
        assert_eq!(phase(&timings, name)["status"], "ok", "{name}");
    }
    let deploy = phase(&timings, "deploy");
    let steps: Vec<&str> = deploy["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|step| step["name"].as_str())
        .collect();
    assert_eq!(steps, vec!["namespaces-crds", "postgres", "datastorage", "gateway"]);
    // depends_on: each group started applying after the one before was ready.
    let finished = |name: &str| {
        deploy["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|step| step["name"] == name))
            .and_then(|step| step["finished_at"].as_str())
            .expect("finished_at")
            .to_owned()
    };
    assert!(finished("postgres") <= finished("datastorage") && finished("datastorage") <= finished("gateway"));
    let applied: Vec<String> = project
        .api
        .requests()
        .into_iter()
        .filter(|request| request.method == "PATCH")
        .map(|request| request.path)
        .collect();
    assert_eq!(
        applied.first().map(String::as_str),
        Some("/api/v1/namespaces/example-e2e"),
        "{applied:?}"
    );
    assert!(
        project
            .api
            .object("apps/v1", "Deployment", Some("example-e2e"), "gateway")
            .is_some(),
        "{applied:?}"
    );
    // Status changes are shown without -v; process output is not.
    let progress = stderr(&output);
    assert!(
        progress.contains("deploy/datastorage: Deployment/datastorage: ready"),
        "{progress}"
    );
    assert!(progress.contains("cluster/create: cluster ready"), "{progress}");
    let gate =
        std::fs::read_to_string(project.path().join("hybrid-e2e-report/logs/cluster/create.log")).unwrap_or_default();
    assert!(gate.contains("cluster ready"), "{gate}");
}
