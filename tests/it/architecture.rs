//! The module graph of `src/`: no import cycles between top-level modules, and the leaves stay
//! leaves. `cargo test --test it module_graph -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::repo;

/// Top-level module -> the top-level modules its files name as `crate::<module>`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = repo().join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    collect(&src, &mut files);
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("a component");
        let module = first.as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned();
        if matches!(module.as_str(), "main" | "lib" | "test_support") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source");
        let edges = graph.entry(module.clone()).or_default();
        for (index, _) in text.match_indices("crate::") {
            let rest = &text[index + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module && name != "test_support" {
                edges.insert(name);
            }
        }
        // `use crate::{a, b}` groups.
        for (index, _) in text.match_indices("crate::{") {
            let rest = &text[index + "crate::{".len()..];
            let group = &rest[..rest.find('}').unwrap_or(0)];
            for name in group.split(',') {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    edges.insert(name);
                }
            }
        }
    }
    // Only modules are nodes: `crate::dispatch` (a function of lib.rs) is not an edge.
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for edges in graph.values_mut() {
        edges.retain(|name| modules.contains(name));
    }
    graph
}

fn collect(directory: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(directory).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// A cycle in `graph`, as module names, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn module_graph_has_no_cycles_and_the_leaves_import_nothing() {
    let graph = module_graph();
    for (module, edges) in &graph {
        let edges: Vec<&str> = edges.iter().map(String::as_str).collect();
        println!("{module} -> {}", edges.join(", "));
    }
    assert_eq!(find_cycle(&graph), None, "an import cycle between top-level modules");
    for leaf in ["model", "image_ref", "exec", "files"] {
        assert!(
            graph.get(leaf).is_some_and(BTreeSet::is_empty),
            "`{leaf}` must not import other modules of the crate: {:?}",
            graph.get(leaf)
        );
    }
    let report = &graph["report"];
    assert!(
        report.iter().all(|edge| edge == "model" || edge == "files"),
        "`report` reads `model` only (and writes through `files`): {report:?}"
    );
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.get_mut("c").expect("c").clear();
    assert_eq!(find_cycle(&graph), None);
}
