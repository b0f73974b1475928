//! The fake `kind`'s command line, parsed as kind's cobra/pflag CLI parses it: flags anywhere after
//! the command words, `--flag value`, `--flag=value`, `-n value`, `-nvalue`, boolean flags without a
//! value (`--retain`, `--retain=false`), `--` ending the flags; unknown flags, missing values and
//! wrong positional arguments are errors with cobra's and kind's own texts (kind prints them as
//! `ERROR: <text>` and exits 1). And `--config` read as kind's `Cluster` (v1alpha4), with kind's
//! errors for a wrong `apiVersion`/`kind` and unknown fields (gopkg.in/yaml.v3 `KnownFields`).

use std::collections::BTreeMap;

/// One flag a command accepts.
struct Flag {
    long: &'static str,
    short: Option<char>,
    /// Takes no value (`--retain`); `--retain=false` is allowed.
    boolean: bool,
}

const fn value(long: &'static str, short: Option<char>) -> Flag {
    Flag {
        long,
        short,
        boolean: false,
    }
}

const fn boolean(long: &'static str, short: Option<char>) -> Flag {
    Flag {
        long,
        short,
        boolean: true,
    }
}

/// kind's persistent root flags.
const GLOBAL: &[Flag] = &[
    value("loglevel", None),
    value("verbosity", Some('v')),
    boolean("quiet", Some('q')),
    boolean("help", Some('h')),
];

/// How many positional arguments a command takes, with kind's message when they do not fit.
#[derive(Clone, Copy)]
enum Positional {
    /// `cobra.NoArgs`: an argument is an unknown command.
    None,
    /// `cobra.MaximumNArgs(n)`.
    AtMost(usize),
    /// At least one, or this error.
    AtLeastOne(&'static str),
}

struct Command {
    path: &'static [&'static str],
    flags: &'static [Flag],
    positional: Positional,
}

const COMMANDS: &[Command] = &[
    Command {
        path: &["version"],
        flags: &[],
        positional: Positional::None,
    },
    Command {
        path: &["create", "cluster"],
        flags: &[
            value("name", Some('n')),
            value("config", None),
            value("image", None),
            boolean("retain", None),
            value("wait", None),
            value("kubeconfig", None),
        ],
        positional: Positional::None,
    },
    Command {
        path: &["delete", "cluster"],
        flags: &[value("name", Some('n')), value("kubeconfig", None)],
        positional: Positional::None,
    },
    Command {
        path: &["delete", "clusters"],
        flags: &[boolean("all", Some('A')), value("kubeconfig", None)],
        positional: Positional::AtMost(usize::MAX),
    },
    Command {
        path: &["get", "clusters"],
        flags: &[],
        positional: Positional::None,
    },
    Command {
        path: &["get", "kubeconfig"],
        flags: &[value("name", Some('n')), boolean("internal", None)],
        positional: Positional::None,
    },
    Command {
        path: &["get", "nodes"],
        flags: &[value("name", Some('n')), boolean("all-clusters", Some('A'))],
        positional: Positional::None,
    },
    Command {
        path: &["export", "logs"],
        flags: &[value("name", Some('n'))],
        positional: Positional::AtMost(1),
    },
    Command {
        path: &["load", "docker-image"],
        flags: &[value("name", Some('n')), value("nodes", None)],
        positional: Positional::AtLeastOne("a list of image names is required"),
    },
    Command {
        path: &["load", "image-archive"],
        flags: &[value("name", Some('n')), value("nodes", None)],
        positional: Positional::AtLeastOne("name of image archive is required"),
    },
];

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    /// `["load", "docker-image"]`.
    pub command: Vec<String>,
    /// Flags by long name; booleans are `"true"`/`"false"`; a repeated flag keeps its last value.
    pub flags: BTreeMap<String, String>,
    pub args: Vec<String>,
}

impl Invocation {
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(String::as_str)
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.flag(name) == Some("true")
    }

    /// `--name`, else kind's default cluster name.
    pub fn cluster_name(&self) -> String {
        self.flag("name").unwrap_or("kind").to_owned()
    }
}

fn find_flag<'a>(flags: &'a [&'a Flag], name: &str) -> Option<&'a Flag> {
    flags.iter().copied().find(|flag| flag.long == name)
}

fn find_short<'a>(flags: &'a [&'a Flag], short: char) -> Option<&'a Flag> {
    flags.iter().copied().find(|flag| flag.short == Some(short))
}

/// Parse `args` (without the program name) as kind does. `Err` is the text kind prints after
/// `ERROR: `.
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    // Cobra finds the command from the words that are not flags (a value flag's value is skipped).
    let mut words = Vec::new();
    let mut index = 0;
    while index < args.len() && words.len() < 2 {
        let arg = &args[index];
        if arg == "--" {
            break;
        }
        if let Some(name) = arg.strip_prefix("--") {
            let takes_value = !name.contains('=')
                && COMMANDS
                    .iter()
                    .flat_map(|command| command.flags.iter())
                    .chain(GLOBAL)
                    .any(|flag| flag.long == name && !flag.boolean);
            index += if takes_value { 2 } else { 1 };
            continue;
        }
        if arg.starts_with('-') && arg.len() > 1 {
            index += 1;
            continue;
        }
        words.push((index, arg.clone()));
        index += 1;
        if words.len() == 1 && words[0].1 == "version" {
            break;
        }
    }
    let names: Vec<&str> = words.iter().map(|(_, word)| word.as_str()).collect();
    let command = COMMANDS
        .iter()
        .find(|command| command.path.len() <= names.len() && command.path == &names[..command.path.len()])
        .ok_or_else(|| match names.as_slice() {
            [] => "a command is required (this fake kind has no help)".to_owned(),
            [first, ..] if !COMMANDS.iter().any(|command| command.path[0] == *first) => {
                format!("unknown command \"{first}\" for \"kind\"")
            }
            [first, second, ..] => format!("unknown command \"{second}\" for \"kind {first}\""),
            [first] => format!("a subcommand of \"kind {first}\" is required"),
        })?;
    let used: Vec<usize> = words.iter().take(command.path.len()).map(|(index, _)| *index).collect();
    let flags: Vec<&Flag> = command.flags.iter().chain(GLOBAL).collect();
    let mut invocation = Invocation {
        command: command.path.iter().map(|word| (*word).to_owned()).collect(),
        ..Invocation::default()
    };
    let mut rest = args
        .iter()
        .enumerate()
        .filter(|(index, _)| !used.contains(index))
        .map(|(_, arg)| arg.clone());
    while let Some(arg) = rest.next() {
        if arg == "--" {
            invocation.args.extend(rest.by_ref());
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (body, None),
            };
            let flag = find_flag(&flags, name).ok_or_else(|| format!("unknown flag: --{name}"))?;
            let value = match (inline, flag.boolean) {
                (Some(value), true) => parse_bool(&value, &format!("--{name}"))?,
                (Some(value), false) => value,
                (None, true) => "true".to_owned(),
                (None, false) => rest.next().ok_or_else(|| format!("flag needs an argument: --{name}"))?,
            };
            invocation.flags.insert(flag.long.to_owned(), value);
            continue;
        }
        if let Some(shorts) = arg.strip_prefix('-')
            && !shorts.is_empty()
        {
            // `-qn name`: booleans may be grouped; a value flag takes the rest or the next arg.
            for (at, short) in shorts.char_indices() {
                let flag = find_short(&flags, short)
                    .ok_or_else(|| format!("unknown shorthand flag: '{short}' in -{shorts}"))?;
                if flag.boolean {
                    invocation.flags.insert(flag.long.to_owned(), "true".to_owned());
                    continue;
                }
                let inline = &shorts[at + short.len_utf8()..];
                let value = if let Some(value) = inline.strip_prefix('=') {
                    value.to_owned()
                } else if !inline.is_empty() {
                    inline.to_owned()
                } else {
                    rest.next()
                        .ok_or_else(|| format!("flag needs an argument: '{short}' in -{shorts}"))?
                };
                invocation.flags.insert(flag.long.to_owned(), value);
                break;
            }
            continue;
        }
        invocation.args.push(arg);
    }
    let path = format!("kind {}", command.path.join(" "));
    match (command.positional, invocation.args.as_slice()) {
        (Positional::None, [first, ..]) => return Err(format!("unknown command \"{first}\" for \"{path}\"")),
        (Positional::AtMost(most), args) if args.len() > most => {
            return Err(format!("accepts at most {most} arg(s), received {}", args.len()));
        }
        (Positional::AtLeastOne(message), []) => return Err(message.to_owned()),
        _ => {}
    }
    Ok(invocation)
}

/// pflag's boolean values.
fn parse_bool(text: &str, flag: &str) -> Result<String, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok("true".to_owned()),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok("false".to_owned()),
        _ => Err(format!(
            "invalid argument \"{text}\" for \"{flag}\" flag: strconv.ParseBool: parsing \"{text}\": invalid syntax"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The Kind `Cluster` config.

/// A YAML node with the line of each mapping key (for yaml.v3's `line N: field X not found`).
#[derive(Debug)]
enum Node {
    Map(Vec<(String, usize, Node)>),
    Seq(Vec<Node>),
    Scalar(String),
}

fn parse_yaml(text: &str) -> Result<Option<Node>, String> {
    use granit_parser::{Event, Parser};
    enum Open {
        Map(Vec<(String, usize, Node)>, Option<(String, usize)>),
        Seq(Vec<Node>),
    }
    fn attach(stack: &mut [Open], root: &mut Option<Node>, node: Node, line: usize) {
        match stack.last_mut() {
            None => *root = Some(node),
            Some(Open::Seq(items)) => items.push(node),
            Some(Open::Map(pairs, pending)) => match pending.take() {
                Some((key, key_line)) => pairs.push((key, key_line, node)),
                None => {
                    let key = match node {
                        Node::Scalar(text) => text,
                        _ => String::new(),
                    };
                    *pending = Some((key, line));
                }
            },
        }
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut root = None;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|error| format!("yaml: line {}: {}", error.marker().line(), error.info()))?;
        let line = span.start.line();
        match event {
            Event::Scalar(value, ..) => attach(&mut stack, &mut root, Node::Scalar(value.into_owned()), line),
            Event::MappingStart(..) => stack.push(Open::Map(Vec::new(), None)),
            Event::SequenceStart(..) => stack.push(Open::Seq(Vec::new())),
            Event::MappingEnd => {
                if let Some(Open::Map(pairs, _)) = stack.pop() {
                    attach(&mut stack, &mut root, Node::Map(pairs), line);
                }
            }
            Event::SequenceEnd => {
                if let Some(Open::Seq(items)) = stack.pop() {
                    attach(&mut stack, &mut root, Node::Seq(items), line);
                }
            }
            Event::DocumentEnd => break,
            _ => {}
        }
    }
    Ok(root)
}

/// The fields of kind's v1alpha4 types (`sigs.k8s.io/kind/pkg/apis/config/v1alpha4`), for the
/// strict decoding of a config.
const CLUSTER_FIELDS: &[&str] = &[
    "kind",
    "apiVersion",
    "name",
    "featureGates",
    "runtimeConfig",
    "nodes",
    "networking",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
    "containerdConfigPatches",
    "containerdConfigPatchesJSON6902",
];
const NODE_FIELDS: &[&str] = &[
    "role",
    "image",
    "labels",
    "extraMounts",
    "extraPortMappings",
    "kubeadmConfigPatches",
    "kubeadmConfigPatchesJSON6902",
];
const NETWORKING_FIELDS: &[&str] = &[
    "ipFamily",
    "apiServerPort",
    "apiServerAddress",
    "podSubnet",
    "serviceSubnet",
    "disableDefaultCNI",
    "kubeProxyMode",
    "dnsSearch",
];
const MOUNT_FIELDS: &[&str] = &["containerPath", "hostPath", "readOnly", "selinuxRelabel", "propagation"];
const PORT_MAPPING_FIELDS: &[&str] = &["containerPort", "hostPort", "listenAddress", "protocol"];

fn unknown_fields(node: &Node, allowed: &[&str], type_name: &str, errors: &mut Vec<String>) {
    let Node::Map(pairs) = node else { return };
    for (key, line, value) in pairs {
        if !allowed.contains(&key.as_str()) {
            errors.push(format!(
                "line {line}: field {key} not found in type v1alpha4.{type_name}"
            ));
            continue;
        }
        let nested: Option<(&[&str], &str)> = match (type_name, key.as_str()) {
            ("Cluster", "networking") => Some((NETWORKING_FIELDS, "Networking")),
            ("Node", "extraMounts") => Some((MOUNT_FIELDS, "Mount")),
            ("Node", "extraPortMappings") => Some((PORT_MAPPING_FIELDS, "PortMapping")),
            ("Cluster", "nodes") => Some((NODE_FIELDS, "Node")),
            _ => None,
        };
        match (nested, value) {
            (Some((fields, name)), Node::Seq(items)) => {
                for item in items {
                    unknown_fields(item, fields, name, errors);
                }
            }
            (Some((fields, name)), map @ Node::Map(_)) => unknown_fields(map, fields, name, errors),
            _ => {}
        }
    }
}

/// What kind's `encoding.Parse` makes of a config file: the cluster name it sets (if any), or
/// kind's error (which `create cluster` prefixes with `failed to create cluster: `).
pub fn parse_cluster_config(text: &str) -> Result<Option<String>, String> {
    let root =
        parse_yaml(text).map_err(|error| format!("could not determine kind / apiVersion for config: {error}"))?;
    let field = |name: &str| match &root {
        Some(Node::Map(pairs)) => pairs
            .iter()
            .find(|(key, _, _)| key == name)
            .and_then(|(_, _, value)| match value {
                Node::Scalar(text) => Some(text.clone()),
                _ => None,
            }),
        _ => None,
    };
    let api_version = field("apiVersion").unwrap_or_default();
    let kind = field("kind").unwrap_or_default();
    match api_version.as_str() {
        "kind.x-k8s.io/v1alpha4" => {}
        // kind still reads v1alpha3; hybrid-e2e's configs are v1alpha4, so the fake stops here.
        "kind.sigs.k8s.io/v1alpha3" => return Err("the fake kind reads only kind.x-k8s.io/v1alpha4 configs".to_owned()),
        other => return Err(format!("unknown apiVersion: {other}")),
    }
    if kind != "Cluster" {
        // Sic: kind prints the apiVersion where the kind goes, and the other way round.
        return Err(format!("unknown kind {api_version} for apiVersion: {kind}"));
    }
    let mut errors = Vec::new();
    if let Some(root) = &root {
        unknown_fields(root, CLUSTER_FIELDS, "Cluster", &mut errors);
    }
    if !errors.is_empty() {
        return Err(format!(
            "unable to decode config: yaml: unmarshal errors:\n  {}",
            errors.join("\n  ")
        ));
    }
    Ok(field("name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_go_anywhere_in_both_spellings() {
        let parsed = parse(&args("load docker-image --name c img:1 other:2")).expect("parses");
        assert_eq!(parsed.command, ["load", "docker-image"]);
        assert_eq!(parsed.flag("name"), Some("c"));
        assert_eq!(parsed.args, ["img:1", "other:2"]);
        let parsed = parse(&args("load docker-image img:1 --name=c")).expect("parses");
        assert_eq!(
            (parsed.flag("name"), parsed.args.as_slice()),
            (Some("c"), &["img:1".to_owned()][..])
        );
        let parsed = parse(&args("-q create cluster -nc --retain=false")).expect("parses");
        assert_eq!(parsed.flag("name"), Some("c"));
        assert!(!parsed.is_set("retain") && parsed.is_set("quiet"));
    }

    #[test]
    fn errors_use_cobra_s_words() {
        assert_eq!(
            parse(&args("create cluster --nme c")),
            Err("unknown flag: --nme".to_owned())
        );
        assert_eq!(
            parse(&args("create cluster -x")),
            Err("unknown shorthand flag: 'x' in -x".to_owned())
        );
        assert_eq!(
            parse(&args("create cluster --name")),
            Err("flag needs an argument: --name".to_owned())
        );
        assert_eq!(
            parse(&args("load docker-image --name c")),
            Err("a list of image names is required".to_owned())
        );
        assert_eq!(
            parse(&args("create cluster extra")),
            Err("unknown command \"extra\" for \"kind create cluster\"".to_owned())
        );
        assert_eq!(
            parse(&args("lod x")),
            Err("unknown command \"lod\" for \"kind\"".to_owned())
        );
    }

    #[test]
    fn configs_are_kind_clusters() {
        assert_eq!(
            parse_cluster_config(
                "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: x\nnodes:\n  - role: control-plane\n"
            ),
            Ok(Some("x".to_owned()))
        );
        assert_eq!(
            parse_cluster_config("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\n"),
            Err("unknown apiVersion: kind.x-k8s.io/v1alpha3".to_owned())
        );
        assert_eq!(
            parse_cluster_config("kind: Clusterr\napiVersion: kind.x-k8s.io/v1alpha4\n"),
            Err("unknown kind kind.x-k8s.io/v1alpha4 for apiVersion: Clusterr".to_owned())
        );
        assert_eq!(
            parse_cluster_config(
                "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez: []\nnodes:\n  - role: worker\n    rolee: x\n"
            ),
            Err("unable to decode config: yaml: unmarshal errors:\n  line 3: field nodez not found in type v1alpha4.Cluster\n  line 6: field rolee not found in type v1alpha4.Node".to_owned())
        );
    }
}
