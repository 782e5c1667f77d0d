//! The deployment files: the Kubernetes manifests pass the Kubernetes schema (strict: an
//! unknown field fails), agree with each other and with the binary (ports, probes, the
//! config they mount passes `check-config`, every secret is a variable sevbot reads, the
//! user the image runs as), and the compose file runs three replicas on PostgreSQL.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const KUBERNETES: &str = "deploy/kubernetes";

/// Every document of each YAML file, read by PyYAML (which kubernetes-validate brings).
fn yaml(files: &[String]) -> Vec<Vec<Value>> {
    let script = "import json, sys, yaml\n\
                  print(json.dumps([list(yaml.safe_load_all(open(f))) for f in sys.argv[1:]]))";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(files)
        .current_dir(ROOT)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "reading YAML (pip install kubernetes-validate brings PyYAML): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn manifests() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(Path::new(ROOT).join(KUBERNETES))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|f| f.ends_with(".yaml") && f != "kustomization.yaml")
        .collect();
    files.sort();
    files
}

/// The one document of `kind` among the manifests.
fn of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

/// Whether sevbot's source names the environment variable `name`.
fn read_by_sevbot(name: &str) -> bool {
    fn walk(dir: &Path, needle: &str) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, needle)
            } else {
                std::fs::read_to_string(&p).is_ok_and(|t| t.contains(needle))
            }
        })
    }
    walk(&Path::new(ROOT).join("src"), &format!("\"{name}\""))
}

#[test]
fn the_kubernetes_manifests_pass_the_schema_strictly() {
    let files: Vec<String> = manifests()
        .iter()
        .map(|f| format!("{KUBERNETES}/{f}"))
        .collect();
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet"])
        .args(&files)
        .current_dir(ROOT)
        .output()
        .unwrap_or_else(|e| {
            panic!("kubernetes-validate: {e} (pip install kubernetes-validate==1.37.0, or run .ci/run, which does)")
        });
    assert_succeeded(&out);
}

#[test]
fn the_kubernetes_manifests_agree_with_each_other_and_the_binary() {
    let names = manifests();
    let paths: Vec<String> = names.iter().map(|f| format!("{KUBERNETES}/{f}")).collect();
    let mut all = paths.clone();
    all.push(format!("{KUBERNETES}/kustomization.yaml"));
    let read = yaml(&all);
    let kustomization = &read[read.len() - 1][0];
    let listed: BTreeSet<&str> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let present: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(listed, present, "kustomization.yaml lists every manifest");
    let docs: Vec<Value> = read[..read.len() - 1].iter().flatten().cloned().collect();

    let deployment = of_kind(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let env = |name: &str| -> Option<String> {
        container["env"]
            .as_array()?
            .iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["value"].as_str().map(String::from))
    };
    // The probes reach the port sevbot listens on.
    let port = &container["ports"][0];
    let addr = env("SEVBOT_HTTP_ADDR").expect("SEVBOT_HTTP_ADDR");
    assert!(
        addr.ends_with(&format!(":{}", port["containerPort"])),
        "{addr}"
    );
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        assert_eq!(container[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], port["name"], "{probe}");
    }
    // The user the image creates.
    let dockerfile = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap();
    let uid = &pod["securityContext"]["runAsUser"];
    assert!(
        dockerfile.contains(&format!("--uid {uid} ")),
        "runAsUser {uid}"
    );

    // The Service and the disruption budget select these pods; the budget lets a drain
    // take one at a time.
    let service = of_kind(&docs, "Service");
    assert_eq!(&service["spec"]["selector"], labels);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    let pdb = of_kind(&docs, "PodDisruptionBudget");
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], labels);
    assert_eq!(
        pdb["spec"]["minAvailable"].as_i64().unwrap(),
        deployment["spec"]["replicas"].as_i64().unwrap() - 1
    );

    // Every secret is a variable sevbot reads, and the pod reads that Secret.
    let secret = of_kind(&docs, "Secret");
    assert_eq!(
        container["envFrom"][0]["secretRef"]["name"],
        secret["metadata"]["name"]
    );
    for key in secret["stringData"].as_object().unwrap().keys() {
        assert!(read_by_sevbot(key), "the Secret's {key} is read by nothing");
    }
    assert!(
        secret["stringData"]["DATABASE_URL"]
            .as_str()
            .unwrap()
            .starts_with("postgres://")
    );

    // The ConfigMap is mounted where SEVBOT_CONFIG points, and passes check-config.
    let config = of_kind(&docs, "ConfigMap");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["configMap"]["name"] == config["metadata"]["name"])
        .expect("the ConfigMap is a volume");
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("and mounted");
    let file = env("SEVBOT_CONFIG").expect("SEVBOT_CONFIG");
    let (dir, name) = file.rsplit_once('/').unwrap();
    assert_eq!(mount["mountPath"], dir);
    let toml = config["data"][name].as_str().expect("the config file");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(name), toml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sevbot"))
        .args(["--config", name, "check-config"])
        .current_dir(tmp.path())
        .env_remove("SEVBOT_CONFIG")
        .output()
        .unwrap();
    assert_succeeded(&out);
}

#[test]
fn the_compose_file_runs_three_replicas_on_postgresql() {
    let read = yaml(&["compose.yaml".to_string()]);
    let compose = &read[0][0];
    let services = compose["services"].as_object().unwrap();
    let replicas: Vec<(&String, &Value)> = services
        .iter()
        .filter(|(n, _)| n.starts_with("sevbot-"))
        .collect();
    assert_eq!(replicas.len(), 3);
    let db = &services["db"];
    assert!(db["image"].as_str().unwrap().starts_with("postgres:"));
    let mut ports = BTreeSet::new();
    for (name, s) in &replicas {
        let env = s["environment"].as_object().unwrap();
        let url = env["DATABASE_URL"].as_str().unwrap();
        assert!(
            url.starts_with("postgres://") && url.contains("@db:"),
            "{name}: {url}"
        );
        for key in env.keys() {
            assert!(read_by_sevbot(key), "{name}: {key} is read by nothing");
        }
        assert_eq!(s["depends_on"]["db"]["condition"], "service_healthy");
        ports.insert(s["ports"][0].as_str().unwrap().to_string());
    }
    assert_eq!(ports.len(), 3, "each replica on its own port");
    // Docker's own check, where Docker Compose is installed.
    let compose_cli = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if compose_cli {
        let out = Command::new("docker")
            .args(["compose", "-f", "compose.yaml", "config", "--quiet"])
            .current_dir(ROOT)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("docker compose is not installed here: its own check of compose.yaml skipped");
    }
}
