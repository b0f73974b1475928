//! The node of the fake kind's sibling-container clusters, for hybrid-e2e's container-action
//! tests. A real Kind node cannot run here (no node image, no nested containers), but what the
//! action must get right around one can: the fake kind (`FAKE_KIND_NODE_IMAGE`) starts this
//! program as `<cluster>-control-plane` on the `kind` Docker network with port 6443 published on
//! the host's 127.0.0.1, as kind does, and this program plays the control plane:
//!
//! - at start it makes what kubeadm makes: a cluster CA, the API server's serving certificate
//!   (SANs `<cluster>-control-plane`, `kubernetes...`, `localhost`, `127.0.0.1`) and the admin's
//!   client certificate, written as `/etc/kubernetes/admin.conf` (the file `kind get kubeconfig`
//!   reads);
//! - on `:6443` it serves TLS and requires a client certificate signed by that CA for anything
//!   but a 403 (anonymous requests are refused, as kube-apiserver refuses `system:anonymous`);
//!   authenticated connections are passed to the fake API server (`tests/fake-apiserver`, the
//!   same one every other test uses) listening on the node's own loopback.
//!
//! Usage (the container's command):
//!   fake-kind-node control-plane --cluster NAME
//!   fake-kind-node worker                      (idles, like a worker the tests never schedule on)
//!   fake-kind-node record-image IMAGE...        (`kind load`'s import: appends to /kind/state/clusters/node)

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";
const API_PORT: u16 = 6443;

/// What kubeadm would have made for this node.
struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    ca_der: CertificateDer<'static>,
    admin_cert_pem: String,
    admin_key_pem: String,
}

fn make_pki(cluster: &str) -> Result<Pki, rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name.push(DnType::CommonName, "kubernetes");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    // kubeadm's apiserver certificate SANs for a Kind control plane.
    let node = format!("{cluster}-control-plane");
    let mut server_params = CertificateParams::new(vec![
        node,
        "kubernetes".to_owned(),
        "kubernetes.default".to_owned(),
        "kubernetes.default.svc".to_owned(),
        "kubernetes.default.svc.cluster.local".to_owned(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "10.96.0.1".to_owned(),
    ])?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server = server_params.signed_by(&server_key, &ca)?;

    let mut admin_params = CertificateParams::new(Vec::<String>::new())?;
    admin_params
        .distinguished_name
        .push(DnType::CommonName, "kubernetes-admin");
    admin_params
        .distinguished_name
        .push(DnType::OrganizationName, "kubeadm:cluster-admins");
    admin_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    admin_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_key = KeyPair::generate()?;
    let admin = admin_params.signed_by(&admin_key, &ca)?;

    Ok(Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server_chain: vec![server.der().clone(), ca.der().clone()],
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        admin_cert_pem: admin.pem(),
        admin_key_pem: admin_key.serialize_pem(),
    })
}

/// Standard base64 with padding (the kubeconfig's `*-data` fields).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (index, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if index <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// kubeadm's admin.conf (names as kubeadm writes them; `kind get kubeconfig` renames them).
fn admin_conf(cluster: &str, pki: &Pki) -> String {
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: https://{cluster}-control-plane:{API_PORT}\n  name: {cluster}\ncontexts:\n- context:\n    cluster: {cluster}\n    user: kubernetes-admin\n  name: kubernetes-admin@{cluster}\ncurrent-context: kubernetes-admin@{cluster}\nkind: Config\npreferences: {{}}\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = base64(pki.ca_pem.as_bytes()),
        cert = base64(pki.admin_cert_pem.as_bytes()),
        key = base64(pki.admin_key_pem.as_bytes()),
    )
}

fn acceptor(pki: &Pki) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).map_err(|error| error.to_string())?;
    // Like kube-apiserver: a client certificate is asked for, not required at the TLS level;
    // without one the request is anonymous (and refused below).
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .allow_unauthenticated()
        .build()
        .map_err(|error| error.to_string())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .map_err(|error| error.to_string())?;
    // The fake API server behind speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// kube-apiserver's answer to `system:anonymous` (anonymous auth on, no RBAC for it).
async fn refuse_anonymous<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: &mut S) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
            Ok(Ok(read)) if read > 0 => head.extend_from_slice(&buffer[..read]),
            _ => break,
        }
    }
    let path = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let body = format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"forbidden: User \"system:anonymous\" cannot get path \"{path}\"","reason":"Forbidden","details":{{}},"code":403}}"#
    );
    let response = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, backend: SocketAddr) {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let mut tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    println!("TLS handshake with {peer} failed: {error}");
                    return;
                }
                Err(_) => return,
            };
            let authenticated = tls
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|certificates| !certificates.is_empty());
            if !authenticated {
                println!("anonymous request from {peer}: 403");
                refuse_anonymous(&mut tls).await;
                return;
            }
            let Ok(mut upstream) = TcpStream::connect(backend).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
        });
    }
}

fn control_plane(cluster: &str) -> Result<(), String> {
    let pki = make_pki(cluster).map_err(|error| format!("certificates: {error}"))?;
    let acceptor = acceptor(&pki)?;
    // The API server itself, on the node's loopback only. FAKE_KIND_NODE_READY_AFTER_MS: how long
    // every workload takes to become ready (a slow deploy, to cancel a run in the middle).
    let mut script = fake_apiserver::Script::default();
    if let Some(millis) = std::env::var("FAKE_KIND_NODE_READY_AFTER_MS")
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
    {
        script.default_behaviour = fake_apiserver::Behaviour::ReadyAfter(Duration::from_millis(millis));
    }
    // Pods start only with images the node has: what `kind load` recorded here, and what the
    // test says a registry would serve (FAKE_KIND_NODE_PULLABLE, comma-separated).
    script.kind_state = Some(PathBuf::from(KIND_STATE));
    if let Ok(pullable) = std::env::var("FAKE_KIND_NODE_PULLABLE") {
        let images: Vec<&str> = pullable
            .split(',')
            .map(str::trim)
            .filter(|image| !image.is_empty())
            .collect();
        script = script.pullable(&images);
    }
    let api = fake_apiserver::FakeApiServer::start(script);
    let backend: SocketAddr = api
        .url()
        .trim_start_matches("http://")
        .parse()
        .map_err(|error| format!("fake API server address: {error}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("0.0.0.0", API_PORT))
            .await
            .map_err(|error| format!("listen on :{API_PORT}: {error}"))?;
        // Written once the API answers: kind reads it when the control plane is up.
        std::fs::create_dir_all("/etc/kubernetes/pki").map_err(|error| error.to_string())?;
        std::fs::write("/etc/kubernetes/pki/ca.crt", &pki.ca_pem).map_err(|error| error.to_string())?;
        std::fs::write(ADMIN_CONF, admin_conf(cluster, &pki)).map_err(|error| error.to_string())?;
        println!(
            "fake kind node {cluster}-control-plane: API on :{API_PORT} (TLS, client certificates from the cluster CA), served by the fake API server at {backend}"
        );
        let _ = std::io::stdout().flush();
        tokio::select! {
            () = serve(listener, acceptor, backend) => {}
            () = terminated() => println!("terminated"),
        }
        Ok::<(), String>(())
    })?;
    drop(api);
    Ok(())
}

/// SIGTERM or SIGINT (PID 1 in a container has no default handlers).
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn worker() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    println!("fake kind worker node: idle");
    runtime.block_on(terminated());
    Ok(())
}

/// Where `record-image` keeps the loaded images, laid out as the fake API server reads a fake
/// kind's state (`clusters/<name>`, one image per line).
const KIND_STATE: &str = "/kind/state";

fn record_images(images: &[String]) -> Result<(), String> {
    let directory = Path::new(KIND_STATE).join("clusters");
    std::fs::create_dir_all(&directory).map_err(|error| error.to_string())?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(directory.join("node"))
        .map_err(|error| error.to_string())?;
    for image in images {
        writeln!(file, "{image}").map_err(|error| error.to_string())?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("control-plane") => match args.iter().position(|arg| arg == "--cluster") {
            Some(index) if index + 1 < args.len() => control_plane(&args[index + 1]),
            _ => Err("control-plane needs --cluster NAME".to_owned()),
        },
        Some("worker") => worker(),
        Some("record-image") => record_images(&args[1..]),
        _ => Err("usage: fake-kind-node control-plane --cluster NAME | worker | record-image IMAGE...".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fake-kind-node: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_pki_serves_tls_and_names_the_node() {
        let pki = make_pki("it").expect("pki");
        assert!(acceptor(&pki).is_ok());
        let conf = admin_conf("it", &pki);
        assert!(conf.contains("server: https://it-control-plane:6443"), "{conf}");
        assert!(conf.contains("client-key-data: "), "{conf}");
        assert!(pki.admin_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}
