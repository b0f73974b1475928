//! The server over real HTTP, as a client on loopback sees it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fake_apiserver::{Behaviour, FakeApiServer, Script};
use serde_json::{Value, json};

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
const APPLY: &str = "fieldManager=hybrid-e2e&force=true&fieldValidation=Strict";

struct Reply {
    code: u16,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("{error}: {}", self.body))
    }
}

/// One request on its own connection (`Connection: close`); `None` when the server closed it
/// without an answer.
fn try_send(api: &FakeApiServer, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Option<Reply> {
    let address = api.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    if raw.is_empty() {
        return None;
    }
    let text = String::from_utf8(raw).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let code = head.split(' ').nth(1).expect("status").parse().expect("code");
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    Some(Reply {
        code,
        content_type,
        body: body.to_owned(),
    })
}

fn send(api: &FakeApiServer, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    try_send(api, method, target, headers, body).expect("an answer")
}

fn get(api: &FakeApiServer, target: &str) -> Reply {
    send(api, "GET", target, &[("Accept", "application/json")], "")
}

fn apply(api: &FakeApiServer, path: &str, object: &Value) -> Reply {
    apply_query(api, path, APPLY, &object.to_string())
}

fn apply_query(api: &FakeApiServer, path: &str, query: &str, body: &str) -> Reply {
    send(
        api,
        "PATCH",
        &format!("{path}?{query}"),
        &[("Content-Type", "application/apply-patch+yaml")],
        body,
    )
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn deployment(name: &str, namespace: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": format!("localhost/{name}:dev")}]}}}})
}

fn script(behaviours: &[(&str, Behaviour)]) -> Script {
    Script {
        behaviours: behaviours
            .iter()
            .map(|(name, behaviour)| ((*name).to_owned(), behaviour.clone()))
            .collect(),
        ..Script::default()
    }
}

fn setup(api: &FakeApiServer, ns: &str) {
    assert_eq!(
        apply(api, &format!("/api/v1/namespaces/{ns}"), &namespace(ns)).code,
        201
    );
}

fn condition<'a>(object: &'a Value, kind: &str) -> &'a Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|condition| condition["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} condition in {object:#}"))
}

#[test]
fn discovery_is_aggregated_unless_the_script_says_legacy_only() {
    let api = FakeApiServer::start(Script::default());
    let version = get(&api, "/version").json();
    assert_eq!(version["gitVersion"], "v1.33.1");

    let apis = send(&api, "GET", "/apis", &[("Accept", AGGREGATED)], "");
    assert_eq!(apis.code, 200);
    assert_eq!(
        apis.content_type,
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    let apis = apis.json();
    assert_eq!(apis["kind"], "APIGroupDiscoveryList");
    assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2");
    let apps = apis["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|group| group["metadata"]["name"] == "apps")
        .expect("apps");
    let deployments = apps["versions"][0]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|resource| resource["resource"] == "deployments")
        .expect("deployments");
    assert_eq!(deployments["scope"], "Namespaced");
    assert_eq!(deployments["responseKind"]["kind"], "Deployment");
    assert_eq!(
        deployments["verbs"],
        json!(["get", "list", "watch", "create", "update", "patch", "delete"])
    );
    let core = send(&api, "GET", "/api", &[("Accept", AGGREGATED)], "").json();
    let core_resources = core["items"][0]["versions"][0]["resources"].as_array().expect("core");
    assert!(
        core_resources
            .iter()
            .any(|resource| resource["resource"] == "namespaces" && resource["scope"] == "Cluster")
    );

    // Legacy lists for a plain Accept.
    assert_eq!(get(&api, "/api").json()["versions"], json!(["v1"]));
    let groups = get(&api, "/apis").json();
    assert_eq!(groups["kind"], "APIGroupList");
    assert!(
        groups["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .any(|group| group["name"] == "batch")
    );
    let apps = get(&api, "/apis/apps/v1").json();
    assert_eq!(apps["kind"], "APIResourceList");
    assert_eq!(apps["groupVersion"], "apps/v1");
    let core = get(&api, "/api/v1").json();
    assert!(
        core["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .any(|resource| resource["name"] == "pods/log")
    );

    let legacy = FakeApiServer::start(Script {
        legacy_discovery_only: true,
        ..Script::default()
    });
    let refused = send(&legacy, "GET", "/apis", &[("Accept", AGGREGATED)], "");
    assert_eq!(refused.code, 406);
    assert_eq!(refused.json()["kind"], "Status");
    assert_eq!(refused.json()["code"], 406);
    assert_eq!(get(&legacy, "/apis").json()["kind"], "APIGroupList");
    let recorded = legacy.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].path, "/apis");
    assert_eq!(recorded[0].accept.as_deref(), Some(AGGREGATED));
}

#[test]
fn apply_creates_then_bumps_the_generation_when_the_spec_changes() {
    let api = FakeApiServer::start(Script::default());
    setup(&api, "team");
    let path = "/apis/apps/v1/namespaces/team/deployments/api";
    let created = apply(&api, path, &deployment("api", "team", 1));
    assert_eq!(created.code, 201, "{}", created.body);
    let created = created.json();
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(created["metadata"]["namespace"], "team");
    assert!(created["metadata"]["uid"].is_string());
    assert!(created["metadata"]["creationTimestamp"].is_string());
    assert_eq!(created["status"]["observedGeneration"], 1);

    let same = apply(&api, path, &deployment("api", "team", 1));
    assert_eq!(same.code, 200);
    assert_eq!(same.json()["metadata"]["generation"], 1);
    assert_eq!(same.json()["metadata"]["uid"], created["metadata"]["uid"]);

    let scaled = apply(&api, path, &deployment("api", "team", 3));
    assert_eq!(scaled.code, 200);
    let scaled = scaled.json();
    assert_eq!(scaled["metadata"]["generation"], 2);
    let first: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("number");
    let last: u64 = scaled["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("number");
    assert!(last > first);
    assert_eq!(
        api.object("apps/v1", "Deployment", Some("team"), "api")
            .expect("stored")["spec"]["replicas"],
        3
    );

    // YAML bodies are accepted too.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team\ndata:\n  mode: fast\n";
    let configmap = apply_query(&api, "/api/v1/namespaces/team/configmaps/settings", APPLY, yaml);
    assert_eq!(configmap.code, 201, "{}", configmap.body);
    assert_eq!(configmap.json()["data"]["mode"], "fast");
}

#[test]
fn apply_errors_are_status_objects_like_the_real_server() {
    let api = FakeApiServer::start(Script::default());
    setup(&api, "team");
    let mut typo = deployment("api", "team", 1);
    typo["spec"]["replicsa"] = json!(2);
    let path = "/apis/apps/v1/namespaces/team/deployments/api";
    let strict = apply(&api, path, &typo);
    assert_eq!(strict.code, 400);
    let status = strict.json();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(status["code"], 400);
    assert_eq!(
        status["message"],
        "failed to create typed patch object (team/api; apps/v1, Kind=Deployment): .spec.replicsa: field not declared in schema"
    );
    // Without Strict the unknown field is dropped.
    let lax = apply_query(&api, path, "fieldManager=hybrid-e2e&force=true", &typo.to_string());
    assert_eq!(lax.code, 201, "{}", lax.body);
    assert!(lax.json()["spec"].get("replicsa").is_none());

    let missing = apply(
        &api,
        "/apis/apps/v1/namespaces/nowhere/deployments/api",
        &deployment("api", "nowhere", 1),
    );
    assert_eq!(missing.code, 404);
    assert_eq!(missing.json()["reason"], "NotFound");
    assert_eq!(missing.json()["message"], "namespaces \"nowhere\" not found");

    let no_manager = apply_query(&api, path, "force=true", &deployment("api", "team", 1).to_string());
    assert_eq!(no_manager.code, 422);
    let mismatch = apply(
        &api,
        "/apis/apps/v1/namespaces/team/deployments/other",
        &deployment("api", "team", 1),
    );
    assert_eq!(mismatch.code, 400);
    assert_eq!(
        apply(&api, "/apis/example.com/v1/namespaces/team/widgets/w", &json!({})).code,
        404
    );
    let absent = get(&api, "/apis/apps/v1/namespaces/team/deployments/nothing");
    assert_eq!(absent.code, 404);
    assert_eq!(absent.json()["message"], "deployments.apps \"nothing\" not found");
}

#[test]
fn lists_carry_no_item_kinds_and_filter_by_labels() {
    let api = FakeApiServer::start(script(&[("api", Behaviour::ReadyAfter(Duration::ZERO))]));
    setup(&api, "team");
    for name in ["api", "web"] {
        let reply = apply(
            &api,
            &format!("/apis/apps/v1/namespaces/team/deployments/{name}"),
            &deployment(name, "team", 2),
        );
        assert_eq!(reply.code, 201, "{}", reply.body);
    }
    let list = get(&api, "/apis/apps/v1/namespaces/team/deployments").json();
    assert_eq!(list["kind"], "DeploymentList");
    assert_eq!(list["apiVersion"], "apps/v1");
    assert!(list["metadata"]["resourceVersion"].is_string());
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|item| item.get("kind").is_none() && item.get("apiVersion").is_none())
    );
    let everywhere = get(&api, "/apis/apps/v1/deployments").json();
    assert_eq!(everywhere["items"].as_array().expect("items").len(), 3, "and CoreDNS");

    let pods = get(&api, "/api/v1/namespaces/team/pods?labelSelector=app%3Dapi").json();
    let pods = pods["items"].as_array().expect("items");
    assert_eq!(pods.len(), 2);
    for pod in pods {
        let name = pod["metadata"]["name"].as_str().expect("name");
        assert!(name.starts_with("api-"), "{name}");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "Deployment");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
        assert!(pod["metadata"]["labels"]["pod-template-hash"].is_string());
    }
    let not_api = get(&api, "/api/v1/namespaces/team/pods?labelSelector=app!%3Dapi").json();
    assert_eq!(not_api["items"].as_array().expect("items").len(), 2);
    let both = get(
        &api,
        "/api/v1/namespaces/team/pods?labelSelector=app%3D%3Dweb,app%3Dapi",
    )
    .json();
    assert!(both["items"].as_array().expect("items").is_empty());
    let by_name = get(
        &api,
        "/apis/apps/v1/namespaces/team/deployments?fieldSelector=metadata.name%3Dweb",
    )
    .json();
    assert_eq!(by_name["items"].as_array().expect("items").len(), 1);
    assert_eq!(get(&api, "/api/v1/namespaces/team/pods?watch=true").code, 405);
}

#[test]
fn ready_after_flips_once_the_delay_has_passed() {
    let api = FakeApiServer::start(script(&[("api", Behaviour::ReadyAfter(Duration::from_millis(600)))]));
    setup(&api, "team");
    apply(
        &api,
        "/apis/apps/v1/namespaces/team/deployments/api",
        &deployment("api", "team", 2),
    );
    let before = get(&api, "/apis/apps/v1/namespaces/team/deployments/api").json();
    assert_eq!(before["status"]["replicas"], 2);
    assert_eq!(before["status"]["readyReplicas"], 0);
    assert_eq!(before["status"]["unavailableReplicas"], 2);
    assert_eq!(condition(&before, "Available")["status"], "False");
    assert_eq!(condition(&before, "Progressing")["reason"], "ReplicaSetUpdated");
    let pods = get(&api, "/api/v1/namespaces/team/pods").json();
    assert_eq!(pods["items"][0]["status"]["phase"], "Pending");
    assert_eq!(
        pods["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "ContainerCreating"
    );
    // The namespace's `default` ServiceAccount comes after a while.
    assert_eq!(get(&api, "/api/v1/namespaces/team/serviceaccounts/default").code, 404);

    std::thread::sleep(Duration::from_millis(650));
    let after = get(&api, "/apis/apps/v1/namespaces/team/deployments/api").json();
    assert_eq!(after["status"]["readyReplicas"], 2);
    assert_eq!(after["status"]["availableReplicas"], 2);
    assert_eq!(condition(&after, "Available")["status"], "True");
    assert_eq!(condition(&after, "Progressing")["reason"], "NewReplicaSetAvailable");
    let pods = get(&api, "/api/v1/namespaces/team/pods").json();
    for pod in pods["items"].as_array().expect("items") {
        assert_eq!(pod["status"]["phase"], "Running");
        assert_eq!(condition(pod, "Ready")["status"], "True");
        assert_eq!(pod["status"]["containerStatuses"][0]["ready"], true);
    }
    let pod = pods["items"][0]["metadata"]["name"].as_str().expect("name");
    let log = get(&api, &format!("/api/v1/namespaces/team/pods/{pod}/log?container=main"));
    assert_eq!(log.code, 200);
    assert!(log.content_type.starts_with("text/plain"));
    assert!(log.body.contains("listening on :8080"));
    assert_eq!(get(&api, "/api/v1/namespaces/team/serviceaccounts/default").code, 200);
    assert!(api.object("v1", "Pod", Some("team"), pod).is_some());
}

#[test]
fn a_crash_loop_shows_in_pods_events_and_both_logs() {
    let log = vec!["starting".to_owned(), "panic: no config".to_owned()];
    let api = FakeApiServer::start(script(&[(
        "api",
        Behaviour::CrashLoop {
            exit_code: 2,
            log: log.clone(),
        },
    )]));
    setup(&api, "team");
    apply(
        &api,
        "/apis/apps/v1/namespaces/team/deployments/api",
        &deployment("api", "team", 1),
    );
    let pods = get(&api, "/api/v1/namespaces/team/pods").json();
    let pod = &pods["items"][0];
    let name = pod["metadata"]["name"].as_str().expect("name");
    let container = &pod["status"]["containerStatuses"][0];
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(container["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(container["restartCount"], 4);
    assert_eq!(container["lastState"]["terminated"]["exitCode"], 2);
    assert_eq!(container["lastState"]["terminated"]["reason"], "Error");

    let current = get(&api, &format!("/api/v1/namespaces/team/pods/{name}/log?container=main"));
    assert_eq!(current.body, "starting\npanic: no config\n");
    let previous = get(
        &api,
        &format!("/api/v1/namespaces/team/pods/{name}/log?container=main&previous=true&tailLines=2"),
    );
    assert_eq!(previous.code, 200);
    assert_eq!(previous.body, "starting\npanic: no config\n");
    let previous = get(
        &api,
        &format!("/api/v1/namespaces/team/pods/{name}/log?container=main&previous=true"),
    );
    assert_eq!(previous.body, "previous instance\nstarting\npanic: no config\n");

    let events = get(
        &api,
        &format!("/api/v1/namespaces/team/events?fieldSelector=involvedObject.name%3D{name}"),
    )
    .json();
    let event = &events["items"][0];
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "BackOff");
    assert_eq!(event["involvedObject"]["kind"], "Pod");
    assert_eq!(event["involvedObject"]["uid"], pod["metadata"]["uid"]);
    let deployment = get(&api, "/apis/apps/v1/namespaces/team/deployments/api").json();
    assert_eq!(condition(&deployment, "Available")["status"], "False");
}

#[test]
fn previous_logs_of_a_container_that_never_restarted_are_a_bad_request() {
    let api = FakeApiServer::start(script(&[("api", Behaviour::ReadyAfter(Duration::ZERO))]));
    setup(&api, "team");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api", "namespace": "team"},
        "spec": {"containers": [{"name": "main", "image": "localhost/api:dev"}]}});
    assert_eq!(apply(&api, "/api/v1/namespaces/team/pods/api", &pod).code, 201);
    let previous = get(
        &api,
        "/api/v1/namespaces/team/pods/api/log?container=main&previous=true",
    );
    assert_eq!(previous.code, 400);
    assert_eq!(
        previous.json()["message"],
        "previous terminated container \"main\" in pod \"api\" not found"
    );
    assert_eq!(
        get(&api, "/api/v1/namespaces/team/pods/api/log").code,
        200,
        "the only container"
    );
}

#[test]
fn failing_behaviours_leave_their_marks() {
    let api = FakeApiServer::start(script(&[
        ("never", Behaviour::ImageNeverPulled),
        ("probe", Behaviour::ReadinessProbeFailing),
        ("pending", Behaviour::Unschedulable),
        ("batch", Behaviour::JobFails),
    ]));
    setup(&api, "team");
    for name in ["never", "probe", "pending"] {
        assert_eq!(
            apply(
                &api,
                &format!("/apis/apps/v1/namespaces/team/deployments/{name}"),
                &deployment(name, "team", 1)
            )
            .code,
            201
        );
    }
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch", "namespace": "team"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "localhost/batch:dev"}]}}}});
    assert_eq!(apply(&api, "/apis/batch/v1/namespaces/team/jobs/batch", &job).code, 201);
    let job = get(&api, "/apis/batch/v1/namespaces/team/jobs/batch").json();
    assert_eq!(job["status"]["failed"], 1);
    assert_eq!(condition(&job, "Failed")["reason"], "BackoffLimitExceeded");

    let reasons = |selector: &str| -> Vec<String> {
        get(
            &api,
            &format!("/api/v1/namespaces/team/events?fieldSelector=involvedObject.name%3D{selector}"),
        )
        .json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|event| event["reason"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let pods = get(&api, "/api/v1/namespaces/team/pods").json();
    for pod in pods["items"].as_array().expect("items") {
        let name = pod["metadata"]["name"].as_str().expect("name");
        let app = pod["metadata"]["labels"]["app"].as_str().unwrap_or("");
        match app {
            "never" => {
                let waiting = &pod["status"]["containerStatuses"][0]["state"]["waiting"];
                assert_eq!(waiting["reason"], "ErrImageNeverPull");
                assert_eq!(
                    waiting["message"],
                    "Container image \"localhost/never:dev\" is not present with pull policy of Never"
                );
                assert_eq!(reasons(name), ["ErrImageNeverPull"]);
            }
            "probe" => {
                assert_eq!(pod["status"]["phase"], "Running");
                assert_eq!(pod["status"]["containerStatuses"][0]["ready"], false);
                assert!(pod["status"]["containerStatuses"][0]["state"]["running"].is_object());
                assert_eq!(reasons(name), ["Unhealthy"]);
            }
            "pending" => {
                assert_eq!(pod["status"]["phase"], "Pending");
                assert_eq!(condition(pod, "PodScheduled")["reason"], "Unschedulable");
                assert_eq!(reasons(name), ["FailedScheduling"]);
            }
            _ => assert!(name.starts_with("batch-"), "{name}"),
        }
    }
}

#[test]
fn crds_establish_and_serve_their_resources() {
    let api = FakeApiServer::start(script(&[(
        "widgets.example.com",
        Behaviour::CrdEstablishedAfter(Duration::from_millis(600)),
    )]));
    setup(&api, "team");
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let created = apply(
        &api,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
        &crd,
    );
    assert_eq!(created.code, 201, "{}", created.body);
    let created = created.json();
    assert_eq!(condition(&created, "NamesAccepted")["status"], "True");
    assert_eq!(condition(&created, "Established")["status"], "False");
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "team"},
        "spec": {"anything": [1, 2]}});
    let path = "/apis/example.com/v1/namespaces/team/widgets/w1";
    assert_eq!(apply(&api, path, &widget).code, 404, "not served before Established");

    std::thread::sleep(Duration::from_millis(650));
    let crd = get(
        &api,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
    )
    .json();
    assert_eq!(condition(&crd, "Established")["status"], "True");
    assert_eq!(
        get(&api, "/apis/example.com/v1").json()["resources"][0]["name"],
        "widgets"
    );
    let stored = apply(&api, path, &widget);
    assert_eq!(stored.code, 201, "{}", stored.body);
    assert_eq!(stored.json()["spec"]["anything"], json!([1, 2]));
    assert!(api.object("example.com/v1", "Widget", Some("team"), "w1").is_some());
}

#[test]
fn built_in_objects_follow_the_script() {
    let api = FakeApiServer::start(Script {
        node_ready_after: Duration::from_millis(600),
        coredns_ready_after: Duration::from_millis(600),
        default_behaviour: Behaviour::CrashLoop {
            exit_code: 1,
            log: Vec::new(),
        },
        ..Script::default()
    });
    let node = get(&api, "/api/v1/nodes/kind-control-plane").json();
    assert_eq!(condition(&node, "Ready")["status"], "False");
    assert_eq!(condition(&node, "Ready")["reason"], "KubeletNotReady");
    let coredns = get(&api, "/apis/apps/v1/namespaces/kube-system/deployments/coredns").json();
    assert_eq!(condition(&coredns, "Available")["status"], "False");
    let namespaces = get(&api, "/api/v1/namespaces").json();
    assert_eq!(namespaces["items"].as_array().expect("items").len(), 4);
    assert_eq!(namespaces["items"][0]["status"]["phase"], "Active");
    let class = get(&api, "/apis/storage.k8s.io/v1/storageclasses/standard").json();
    assert_eq!(class["provisioner"], "rancher.io/local-path");
    assert_eq!(class["volumeBindingMode"], "WaitForFirstConsumer");
    assert_eq!(
        get(&api, "/api/v1/namespaces/default/serviceaccounts/default").code,
        200
    );

    std::thread::sleep(Duration::from_millis(650));
    let node = api.object("v1", "Node", None, "kind-control-plane").expect("node");
    assert_eq!(condition(&node, "Ready")["status"], "True");
    let coredns = get(&api, "/apis/apps/v1/namespaces/kube-system/deployments/coredns").json();
    assert_eq!(condition(&coredns, "Available")["status"], "True");
    let events = get(&api, "/api/v1/namespaces/kube-system/events").json();
    assert!(
        events["items"].as_array().expect("items").is_empty(),
        "CoreDNS is not the default behaviour"
    );

    let kubeconfig = api.kubeconfig();
    assert!(kubeconfig.contains(&format!("server: {}", api.url())));
    assert!(kubeconfig.contains("current-context: kind-fake"));
    assert!(kubeconfig.contains("token: fake-token"));
}

#[test]
fn connections_drop_after_the_first_apply_and_applies_overlap() {
    let api = FakeApiServer::start(Script {
        drop_connections: 2,
        apply_latency: Duration::from_millis(200),
        ..Script::default()
    });
    assert_eq!(get(&api, "/api/v1/namespaces").code, 200, "no drop before an apply");
    setup(&api, "team");
    assert!(try_send(&api, "GET", "/api/v1/namespaces", &[], "").is_none());
    assert!(try_send(&api, "GET", "/api/v1/namespaces/team", &[], "").is_none());
    assert_eq!(get(&api, "/api/v1/namespaces/team").code, 200);

    std::thread::scope(|scope| {
        for index in 0..4 {
            let api = &api;
            scope.spawn(move || {
                let name = format!("settings-{index}");
                let object =
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "team"}});
                assert_eq!(
                    apply(api, &format!("/api/v1/namespaces/team/configmaps/{name}"), &object).code,
                    201
                );
            });
        }
    });
    assert!(api.max_concurrent_applies() >= 2, "{}", api.max_concurrent_applies());
}
