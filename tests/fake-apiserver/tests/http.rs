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

/// The images the tests' workloads run, loaded into the cluster (pods of anything else never
/// start: see `pods_run_only_images_the_node_has_or_can_pull`).
const LOADED: &[&str] = &[
    "localhost/api:dev",
    "localhost/web:dev",
    "localhost/probe:dev",
    "localhost/pending:dev",
    "localhost/batch:dev",
];

fn script(behaviours: &[(&str, Behaviour)]) -> Script {
    Script {
        behaviours: behaviours
            .iter()
            .map(|(name, behaviour)| ((*name).to_owned(), behaviour.clone()))
            .collect(),
        ..Script::default()
    }
    .loaded(LOADED)
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
    // structured-merge-diff's errors are not statuses: the apiserver answers 500, no reason.
    assert_eq!(strict.code, 500);
    let status = strict.json();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Failure");
    assert!(status.get("reason").is_none(), "{status}");
    assert_eq!(status["code"], 500);
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
    // Pages, as a watcher's first list asks for them.
    let first = get(&api, "/api/v1/namespaces/team/pods?limit=2").json();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_owned();
    let rest = get(&api, &format!("/api/v1/namespaces/team/pods?limit=2&continue={token}")).json();
    let total = get(&api, "/api/v1/namespaces/team/pods").json()["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(total - 2));
    assert_eq!(
        rest["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );
    assert!(rest["metadata"].get("continue").is_none());
    let mut watch = Watch::open(
        &api,
        "/api/v1/namespaces/team/pods?watch=true&labelSelector=app%21%3Dapi&timeoutSeconds=5",
    );
    let added = watch.events_until(Duration::from_secs(2), |events| events.len() >= 2);
    assert_eq!(
        added.len(),
        2,
        "a watch without a resourceVersion starts with what exists: {added:?}"
    );
    assert!(
        added
            .iter()
            .all(|event| event["type"] == "ADDED" && event["object"]["metadata"]["labels"]["app"] != "api")
    );
}

/// A watch request's streamed events, read as a client reads a chunked response.
struct Watch {
    stream: TcpStream,
    buffer: Vec<u8>,
    /// Decoded body bytes not yet split into lines.
    body: Vec<u8>,
    pub(crate) ended: bool,
    pub(crate) reset: bool,
}

impl Watch {
    fn open(api: &FakeApiServer, target: &str) -> Watch {
        let address = api.url().trim_start_matches("http://").to_owned();
        let mut stream = TcpStream::connect(&address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nAccept: application/json\r\n\r\n");
        stream.write_all(request.as_bytes()).expect("write");
        let mut watch = Watch {
            stream,
            buffer: Vec::new(),
            body: Vec::new(),
            ended: false,
            reset: false,
        };
        let started = std::time::Instant::now();
        while !watch.buffer.windows(4).any(|window| window == b"\r\n\r\n") {
            assert!(started.elapsed() < Duration::from_secs(5), "no response head");
            watch.fill();
        }
        let end = watch
            .buffer
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .expect("head")
            + 4;
        let head = String::from_utf8_lossy(&watch.buffer[..end]).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_lowercase().contains("transfer-encoding: chunked"), "{head}");
        watch.buffer.drain(..end);
        watch
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => self.reset = !self.ended,
            Ok(read) => self.buffer.extend_from_slice(&chunk[..read]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => self.reset = true,
        }
    }

    /// Decode whole chunks from the buffer into the body.
    fn decode(&mut self) {
        loop {
            let Some(size_end) = self.buffer.windows(2).position(|window| window == b"\r\n") else {
                return;
            };
            let size = usize::from_str_radix(String::from_utf8_lossy(&self.buffer[..size_end]).trim(), 16)
                .expect("chunk size");
            if size == 0 {
                self.ended = true;
                self.buffer.clear();
                return;
            }
            if self.buffer.len() < size_end + 2 + size + 2 {
                return;
            }
            self.body
                .extend_from_slice(&self.buffer[size_end + 2..size_end + 2 + size]);
            self.buffer.drain(..size_end + 2 + size + 2);
        }
    }

    /// Events until `done` says so, the stream ends or `limit` passes.
    fn events_until(&mut self, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let started = std::time::Instant::now();
        let mut events = Vec::new();
        loop {
            self.decode();
            while let Some(end) = self.body.iter().position(|byte| *byte == b'\n') {
                let line: Vec<u8> = self.body.drain(..=end).collect();
                events.push(serde_json::from_slice::<Value>(&line).expect("an event per line"));
            }
            if done(&events) || self.ended || self.reset || started.elapsed() >= limit {
                return events;
            }
            self.fill();
        }
    }
}

fn version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .parse()
        .expect("a number")
}

#[test]
fn a_watch_streams_applies_and_status_changes_after_its_resource_version() {
    let api = FakeApiServer::start(script(&[("api", Behaviour::ReadyAfter(Duration::from_millis(300)))]));
    setup(&api, "team");
    let list = get(&api, "/apis/apps/v1/namespaces/team/deployments").json();
    let listed: u64 = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("number");
    let mut watch = Watch::open(
        &api,
        &format!("/apis/apps/v1/namespaces/team/deployments?watch=true&resourceVersion={listed}&timeoutSeconds=10"),
    );
    let applied = apply(
        &api,
        "/apis/apps/v1/namespaces/team/deployments/api",
        &deployment("api", "team", 2),
    )
    .json();
    let applied_at = std::time::Instant::now();
    let events = watch.events_until(Duration::from_secs(3), |events| {
        events
            .iter()
            .any(|event| event["object"]["status"]["readyReplicas"] == 2)
    });
    let ready_after = applied_at.elapsed();
    assert_eq!(events[0]["type"], "ADDED", "{events:?}");
    assert_eq!(
        version(&events[0]["object"]),
        version(&applied),
        "the apply at its own resourceVersion"
    );
    let ready = events.last().expect("events");
    assert_eq!(ready["type"], "MODIFIED");
    assert_eq!(ready["object"]["kind"], "Deployment", "watch events carry their type");
    assert!(version(&ready["object"]) > version(&applied));
    assert!(
        ready_after < Duration::from_millis(400),
        "the status change is streamed as it happens, not on the next read: {ready_after:?}"
    );
    let read = get(&api, "/apis/apps/v1/namespaces/team/deployments/api").json();
    assert_eq!(
        version(&read),
        version(&ready["object"]),
        "reads show the version watches saw"
    );
    // A reconnect from the last version seen gets nothing twice.
    let mut resumed = Watch::open(
        &api,
        &format!(
            "/apis/apps/v1/namespaces/team/deployments?watch=true&resourceVersion={}&timeoutSeconds=1",
            version(&ready["object"])
        ),
    );
    let again = resumed.events_until(Duration::from_secs(3), |_| false);
    assert!(again.is_empty(), "{again:?}");
    assert!(resumed.ended, "timeoutSeconds ends the watch cleanly");
    // From an older version, the changes since are replayed.
    let mut replay = Watch::open(
        &api,
        &format!(
            "/apis/apps/v1/namespaces/team/deployments?watch=true&resourceVersion={listed}&timeoutSeconds=1&allowWatchBookmarks=true"
        ),
    );
    let replayed = replay.events_until(Duration::from_secs(3), |_| false);
    let kinds: Vec<&str> = replayed.iter().filter_map(|event| event["type"].as_str()).collect();
    assert_eq!(kinds, vec!["ADDED", "MODIFIED", "BOOKMARK"], "{replayed:?}");
}

#[test]
fn a_scripted_drop_resets_the_watch_without_a_clean_end() {
    let api = FakeApiServer::start(Script {
        drop_watches_after: Some(Duration::from_millis(200)),
        ..script(&[])
    });
    let mut watch = Watch::open(&api, "/api/v1/namespaces?watch=true");
    let events = watch.events_until(Duration::from_secs(3), |_| false);
    assert!(!events.is_empty(), "the namespaces that exist, as ADDED");
    assert!(watch.reset && !watch.ended, "reset, not ended");
    assert_eq!(api.watch_requests(), 1);
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

// ---------------------------------------------------------------------------------------------
// What a real API server rejects (issue 20): each rule answers with the real server's status.

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/team/deployments";

fn invalid_causes(reply: &Reply) -> Vec<(String, String)> {
    assert_eq!(reply.code, 422, "{}", reply.body);
    let status = reply.json();
    assert_eq!(status["reason"], "Invalid", "{status}");
    assert_eq!(status["code"], 422);
    status["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .map(|cause| {
            (
                cause["field"].as_str().expect("field").to_owned(),
                cause["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect()
}

#[test]
fn deployments_need_a_selector_that_matches_their_template() {
    let api = FakeApiServer::start(script(&[]));
    setup(&api, "team");
    let mut none = deployment("api", "team", 1);
    none["spec"].as_object_mut().expect("spec").remove("selector");
    let reply = apply(&api, &format!("{DEPLOYMENTS}/api"), &none);
    assert_eq!(
        reply.json()["message"],
        "Deployment.apps \"api\" is invalid: spec.selector: Required value"
    );
    assert_eq!(reply.json()["details"]["kind"], "Deployment");
    assert_eq!(reply.json()["details"]["group"], "apps");
    assert_eq!(
        invalid_causes(&reply),
        [("spec.selector".to_owned(), "Required value".to_owned())]
    );
    let mut other = deployment("api", "team", 1);
    other["spec"]["selector"]["matchLabels"] = json!({"app": "other"});
    let reply = apply(&api, &format!("{DEPLOYMENTS}/api"), &other);
    assert_eq!(
        invalid_causes(&reply),
        [(
            "spec.template.metadata.labels".to_owned(),
            "Invalid value: map[string]string{\"app\":\"api\"}: `selector` does not match template `labels`".to_owned()
        )]
    );
    assert!(
        api.object("apps/v1", "Deployment", Some("team"), "api").is_none(),
        "nothing stored"
    );
}

#[test]
fn list_entries_without_their_key_fail_the_typed_patch() {
    let api = FakeApiServer::start(script(&[]));
    setup(&api, "team");
    let mut nameless = deployment("api", "team", 1);
    nameless["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .expect("container")
        .remove("name");
    let reply = apply(&api, &format!("{DEPLOYMENTS}/api"), &nameless);
    assert_eq!(reply.code, 500, "{}", reply.body);
    assert_eq!(
        reply.json()["message"],
        "failed to create typed patch object (team/api; apps/v1, Kind=Deployment): .spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)"
    );
}

#[test]
fn names_must_be_dns_names_of_the_kind_s_flavour() {
    let api = FakeApiServer::start(script(&[]));
    let reply = apply(&api, "/api/v1/namespaces/team.a", &namespace("team.a"));
    assert_eq!(
        invalid_causes(&reply),
        [(
            "metadata.name".to_owned(),
            "Invalid value: \"team.a\": must not contain dots".to_owned()
        )]
    );
    setup(&api, "team");
    let reply = apply(&api, &format!("{DEPLOYMENTS}/Api_1"), &deployment("Api_1", "team", 1));
    let causes = invalid_causes(&reply);
    assert_eq!(causes[0].0, "metadata.name");
    assert_eq!(
        causes[0].1,
        "Invalid value: \"Api_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    );
    // A Service name is a DNS-1035 label: it may not start with a digit; a Deployment's may.
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1db", "namespace": "team"},
        "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]}});
    let causes = invalid_causes(&apply(&api, "/api/v1/namespaces/team/services/1db", &service));
    assert!(causes[0].1.contains("a DNS-1035 label must consist of"), "{causes:?}");
    assert_eq!(
        apply(&api, &format!("{DEPLOYMENTS}/1db"), &deployment("1db", "team", 1)).code,
        201
    );
}

#[test]
fn jobs_need_a_restart_policy_of_on_failure_or_never() {
    let api = FakeApiServer::start(script(&[]));
    setup(&api, "team");
    let job = |policy: Option<&str>| {
        let mut job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "team"},
            "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "localhost/batch:dev"}]}}}});
        if let Some(policy) = policy {
            job["spec"]["template"]["spec"]["restartPolicy"] = json!(policy);
        }
        job
    };
    let path = "/apis/batch/v1/namespaces/team/jobs/migrate";
    for policy in [None, Some("Always")] {
        assert_eq!(
            invalid_causes(&apply(&api, path, &job(policy))),
            [(
                "spec.template.spec.restartPolicy".to_owned(),
                "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"".to_owned()
            )],
            "{policy:?} (no policy defaults to Always)"
        );
    }
    assert_eq!(apply(&api, path, &job(Some("Never"))).code, 201);
}

#[test]
fn immutable_fields_cannot_change() {
    let api = FakeApiServer::start(script(&[]));
    setup(&api, "team");
    let path = format!("{DEPLOYMENTS}/api");
    assert_eq!(apply(&api, &path, &deployment("api", "team", 1)).code, 201);
    let mut moved = deployment("api", "team", 1);
    moved["spec"]["selector"]["matchLabels"]["tier"] = json!("web");
    moved["spec"]["template"]["metadata"]["labels"]["tier"] = json!("web");
    assert_eq!(
        invalid_causes(&apply(&api, &path, &moved)),
        [(
            "spec.selector".to_owned(),
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"api\", \"tier\":\"web\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable".to_owned()
        )]
    );
    let job = |image: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "team"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": image}]}}}})
    };
    let path = "/apis/batch/v1/namespaces/team/jobs/migrate";
    assert_eq!(apply(&api, path, &job("localhost/batch:dev")).code, 201);
    assert_eq!(
        apply(&api, path, &job("localhost/batch:dev")).code,
        200,
        "unchanged is fine"
    );
    let causes = invalid_causes(&apply(&api, path, &job("localhost/batch:v2")));
    assert_eq!(causes[0].0, "spec.template");
    assert!(causes[0].1.ends_with(": field is immutable"), "{causes:?}");
}

#[test]
fn integers_are_checked_for_type_and_range() {
    let api = FakeApiServer::start(script(&[]));
    setup(&api, "team");
    let path = format!("{DEPLOYMENTS}/api");
    let with_mode = |mode: Value| {
        let mut object = deployment("api", "team", 1);
        object["spec"]["template"]["spec"]["volumes"] =
            json!([{"name": "certs", "secret": {"secretName": "certs", "defaultMode": mode}}]);
        object
    };
    // `0644` read as decimal (YAML 1.2) is 644: out of range.
    assert_eq!(
        invalid_causes(&apply(&api, &path, &with_mode(json!(644)))),
        [(
            "spec.template.spec.volumes[0].secret.defaultMode".to_owned(),
            "Invalid value: 644: must be a number between 0 and 0777 (octal), both inclusive".to_owned()
        )]
    );
    // An integral float is decoded as the integer it is (the apiserver's YAML decoding) ...
    assert_eq!(apply(&api, &path, &with_mode(json!(400.0))).code, 201);
    let stored = api
        .object("apps/v1", "Deployment", Some("team"), "api")
        .expect("stored");
    assert_eq!(
        stored["spec"]["template"]["spec"]["volumes"][0]["secret"]["defaultMode"],
        json!(400)
    );
    // ... a fractional one cannot become an int32.
    let mut fraction = deployment("api", "team", 1);
    fraction["spec"]["replicas"] = json!(1.5);
    let reply = apply(&api, &path, &fraction);
    assert_eq!(reply.code, 500, "{}", reply.body);
    assert_eq!(
        reply.json()["message"],
        "failed to convert new object (team/api; apps/v1, Kind=Deployment) to proper version: unable to convert unstructured object to apps/v1, Kind=Deployment: cannot convert float64 to int32"
    );
    let mut negative = deployment("api", "team", -1);
    negative["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([{"containerPort": 70000}]);
    assert_eq!(
        invalid_causes(&apply(&api, &path, &negative)),
        [
            (
                "spec.replicas".to_owned(),
                "Invalid value: -1: must be greater than or equal to 0".to_owned()
            ),
            (
                "spec.template.spec.containers[0].ports[0].containerPort".to_owned(),
                "Invalid value: 70000: must be between 1 and 65535, inclusive".to_owned()
            ),
        ]
    );
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "team"},
        "spec": {"selector": {"app": "db"}, "ports": [{"port": 0}]}});
    assert_eq!(
        invalid_causes(&apply(&api, "/api/v1/namespaces/team/services/db", &service)),
        [(
            "spec.ports[0].port".to_owned(),
            "Invalid value: 0: must be between 1 and 65535, inclusive".to_owned()
        )]
    );
}

#[test]
fn custom_resources_must_fit_their_crd_schema() {
    let api = FakeApiServer::start(script(&[]));
    setup(&api, "team");
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "caches.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "caches", "singular": "cache", "kind": "Cache"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object", "required": ["spec"],
                "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "mode": {"type": "string", "enum": ["lru", "lfu"]},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}}]}});
    assert_eq!(
        apply(
            &api,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/caches.example.com",
            &crd
        )
        .code,
        201
    );
    std::thread::sleep(Duration::from_millis(150));
    let path = "/apis/example.com/v1/namespaces/team/caches/c";
    let cache = |spec: Value| json!({"apiVersion": "example.com/v1", "kind": "Cache", "metadata": {"name": "c", "namespace": "team"}, "spec": spec});
    let reply = apply(&api, path, &cache(json!({"size": "big", "mode": "fifo"})));
    assert_eq!(
        reply.json()["message"],
        "Cache.example.com \"c\" is invalid: [spec.mode: Unsupported value: \"fifo\": supported values: \"lru\", \"lfu\", spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\"]"
    );
    assert_eq!(
        invalid_causes(&apply(&api, path, &cache(json!({"mode": "lru", "labels": {"a": 1}})))),
        [
            ("spec.size".to_owned(), "Required value".to_owned()),
            (
                "spec.labels.a".to_owned(),
                "Invalid value: \"integer\": spec.labels.a in body must be of type string: \"integer\"".to_owned()
            ),
        ]
    );
    assert_eq!(
        invalid_causes(&apply(&api, path, &cache(json!({"size": 11})))),
        [(
            "spec.size".to_owned(),
            "Invalid value: 11: spec.size in body should be less than or equal to 10".to_owned()
        )]
    );
    let unknown = apply(&api, path, &cache(json!({"size": 2, "sizee": 3})));
    assert_eq!(unknown.code, 500);
    assert_eq!(
        unknown.json()["message"],
        "failed to create typed patch object (team/c; example.com/v1, Kind=Cache): .spec.sizee: field not declared in schema"
    );
    assert_eq!(apply(&api, path, &cache(json!({"size": 2, "mode": "lru"}))).code, 201);
}

#[test]
fn another_managers_fields_conflict_unless_forced() {
    let mut owned = deployment("api", "team", 3);
    owned["metadata"]["resourceVersion"] = json!("7");
    let api = FakeApiServer::start(Script {
        existing: vec![fake_apiserver::Owned {
            value: deployment("api", "team", 3),
            manager: "kubectl-client-side-apply".to_owned(),
            operation: fake_apiserver::ManagerOperation::Update,
        }],
        ..script(&[])
    });
    let path = format!("{DEPLOYMENTS}/api");
    let body = deployment("api", "team", 1).to_string();
    let reply = apply_query(&api, &path, "fieldManager=hybrid-e2e&fieldValidation=Strict", &body);
    assert_eq!(reply.code, 409, "{}", reply.body);
    let status = reply.json();
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert_eq!(status["details"]["causes"][0]["reason"], "FieldManagerConflict");
    assert_eq!(status["details"]["causes"][0]["field"], ".spec.replicas");
    // The same value is no conflict; force (what hybrid-e2e sends) takes the field over.
    let same = apply_query(
        &api,
        &path,
        "fieldManager=hybrid-e2e",
        &deployment("api", "team", 3).to_string(),
    );
    assert_eq!(same.code, 200, "{}", same.body);
    assert_eq!(apply(&api, &path, &deployment("api", "team", 1)).code, 200);
    // A stale resourceVersion in the body (a manifest exported from a live cluster) conflicts.
    let stale = apply(&api, &path, &owned);
    assert_eq!(stale.code, 409, "{}", stale.body);
    assert_eq!(
        stale.json()["message"],
        "Operation cannot be fulfilled on deployments.apps \"api\": the object has been modified; please apply your changes to the latest version and try again"
    );
}

#[test]
fn pods_run_only_images_the_node_has_or_can_pull() {
    let state = tempfile_dir();
    std::fs::create_dir_all(state.join("clusters")).expect("mkdir");
    std::fs::write(state.join("clusters/c"), "api:dev\n").expect("loaded by kind");
    let api = FakeApiServer::start(Script {
        kind_state: Some(state.clone()),
        ..Script::default().pullable(&["postgres:16"])
    });
    setup(&api, "team");
    let workload = |name: &str, image: &str, policy: &str| {
        let mut object = deployment(name, "team", 1);
        object["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
        object["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!(policy);
        assert_eq!(apply(&api, &format!("{DEPLOYMENTS}/{name}"), &object).code, 201);
    };
    workload("loaded", "docker.io/library/api:dev", "Never");
    workload("public", "postgres:16", "IfNotPresent");
    workload("never", "localhost/api:dev", "Never");
    workload("absent", "localhost/api:dev", "IfNotPresent");
    workload("pause", "registry.k8s.io/pause:3.10", "IfNotPresent");
    std::thread::sleep(Duration::from_millis(100));
    let waiting = |name: &str| {
        let pods = get(
            &api,
            &format!("/api/v1/namespaces/team/pods?labelSelector=app%3D{name}"),
        )
        .json();
        pods["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(waiting("loaded"), None, "`api:dev` is what kind loaded, normalised");
    assert_eq!(waiting("public"), None, "pullable");
    assert_eq!(waiting("pause"), None, "the Kind node image ships it");
    assert_eq!(waiting("never").as_deref(), Some("ErrImageNeverPull"));
    assert_eq!(waiting("absent").as_deref(), Some("ErrImagePull"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(waiting("absent").as_deref(), Some("ImagePullBackOff"));
    let deployment = get(&api, &format!("{DEPLOYMENTS}/absent")).json();
    assert_eq!(condition(&deployment, "Available")["status"], "False");
    let events = get(&api, "/api/v1/namespaces/team/events").json();
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|event| event["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"ErrImageNeverPull") && reasons.contains(&"BackOff"),
        "{reasons:?}"
    );
    // Loading it later (another `kind load`) lets the pod start.
    std::fs::write(state.join("clusters/c"), "api:dev\nlocalhost/api:dev\n").expect("loaded");
    assert_eq!(waiting("absent"), None);
    let _ = std::fs::remove_dir_all(&state);
}

fn tempfile_dir() -> std::path::PathBuf {
    let directory = std::env::temp_dir().join(format!(
        "fake-apiserver-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&directory).expect("temp dir");
    directory
}

#[test]
fn a_statefulset_re_applied_unchanged_or_scaled_is_no_forbidden_update() {
    let api = FakeApiServer::start(script(&[]));
    setup(&api, "team");
    let statefulset = |replicas: i64, service: &str| {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "team"},
            "spec": {"serviceName": service, "replicas": replicas, "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": "localhost/api:dev"}]}}}})
    };
    let path = "/apis/apps/v1/namespaces/team/statefulsets/db";
    assert_eq!(apply(&api, path, &statefulset(1, "db")).code, 201);
    assert_eq!(apply(&api, path, &statefulset(1, "db")).code, 200);
    assert_eq!(apply(&api, path, &statefulset(2, "db")).code, 200);
    let causes = invalid_causes(&apply(&api, path, &statefulset(2, "other")));
    assert_eq!(causes[0].0, "spec");
    assert!(
        causes[0].1.starts_with("Forbidden: updates to statefulset spec"),
        "{causes:?}"
    );
}
