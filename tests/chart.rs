//! Tests of the Helm chart in `charts/meetings-operator`: `helm lint`, the
//! values schema, the rendered RBAC and security settings, the chart's CRDs,
//! and the rendered manifests against a real API server (server-side dry
//! run, `helm install`, `helm upgrade`, `helm uninstall`).
//!
//! The control plane has no kubelet, so the operator's pods are never
//! started here: the `helm test` hook is rendered and validated by the API
//! server, not run.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt;
use kube::api::Api;
use serde::Deserialize;
use serde_yaml::Value;

use support::{control_plane, eventually};

const CHART: &str = "charts/meetings-operator";

const TIMEOUT: Duration = Duration::from_secs(60);

/// Values that switch on every optional part of the chart: watched
/// namespaces (Roles instead of a ClusterRole), chart-managed credentials,
/// two replicas (PodDisruptionBudget), ServiceMonitor, NetworkPolicy and
/// the callback receiver.
/// Tests that talk to the API server replace `watchNamespaces` with
/// namespaces that exist.
const REPRESENTATIVE: &str = r#"
image:
  repository: registry.example.com/meetings-operator
  tag: "0.1.0"
  pullPolicy: Always
imagePullSecrets:
  - name: registry-credentials
replicas: 2
credentials:
  applicationId: 00000000-0000-4000-8000-000000000000
  privateKey: |
    -----BEGIN PRIVATE KEY-----
    not-a-real-key
    -----END PRIVATE KEY-----
apiUrl: https://api-eu.vonage.com
watchNamespaces: [team-a, team-b]
labelSelector: meetings.example.com/managed=true
concurrency: 4
resyncPeriod: 10m
apiTimeout: 20s
pageSize: 50
credentialsRecheck: 1m
rateLimit:
  perSecond: 2.5
  burst: 5
logLevel: debug
logJson: true
leaderElection:
  enabled: true
  leaseName: meetings-leader
metrics:
  port: 9090
  service:
    annotations:
      example.com/scrape: "true"
  serviceMonitor:
    enabled: true
    interval: 15s
    scrapeTimeout: 5s
    labels:
      release: prometheus
callbacks:
  enabled: true
  port: 8443
  publicUrl: https://meetings-callbacks.example.com
  service:
    annotations:
      example.com/exposed: "true"
networkPolicy:
  enabled: true
  metricsFrom:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: monitoring
  callbacksFrom:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: ingress
  apiServer:
    cidrs: [10.96.0.1/32, 192.168.0.10/32]
    ports: [443, 6443]
  meetingsApi:
    cidrs: [0.0.0.0/0]
    ports: [443]
podDisruptionBudget:
  minAvailable: 1
serviceAccount:
  annotations:
    example.com/owner: video
  tokenExpirationSeconds: 7200
resources:
  requests: {cpu: 100m, memory: 96Mi}
  limits: {cpu: "1", memory: 384Mi}
podAnnotations:
  example.com/team: video
podLabels:
  team: video
priorityClassName: ""
nodeSelector:
  kubernetes.io/os: linux
tolerations:
  - key: dedicated
    operator: Equal
    value: operators
    effect: NoSchedule
affinity:
  nodeAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 1
        preference:
          matchExpressions:
            - key: node-role.example.com/operators
              operator: Exists
"#;

/// All namespaces, an existing credentials Secret, one replica without
/// leader election, text logs.
const CLUSTER_WIDE: &str = r#"
replicas: 1
credentials:
  existingSecret: meetings-credentials
leaderElection:
  enabled: false
logJson: false
logLevel: warn
"#;

/// The value sets the render tests go through.
const VALUE_SETS: [(&str, &str); 3] = [
    ("defaults", ""),
    ("representative", REPRESENTATIVE),
    ("cluster-wide", CLUSTER_WIDE),
];

/// A trimmed `servicemonitors.monitoring.coreos.com` CRD: the fields the
/// chart sets, typed as in the Prometheus operator's CRD, so that the API
/// server checks the chart's ServiceMonitor.
const SERVICE_MONITOR_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names:
    kind: ServiceMonitor
    listKind: ServiceMonitorList
    plural: servicemonitors
    singular: servicemonitor
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            spec:
              type: object
              required: [selector]
              properties:
                namespaceSelector:
                  type: object
                  properties:
                    any: {type: boolean}
                    matchNames: {type: array, items: {type: string}}
                selector:
                  type: object
                  x-kubernetes-map-type: atomic
                  properties:
                    matchLabels:
                      type: object
                      additionalProperties: {type: string}
                    matchExpressions:
                      type: array
                      items:
                        type: object
                        x-kubernetes-preserve-unknown-fields: true
                endpoints:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: string}
                      path: {type: string}
                      interval:
                        type: string
                        pattern: ^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$
                      scrapeTimeout:
                        type: string
                        pattern: ^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$
"#;

fn chart_dir() -> PathBuf {
    support::repo_root().join(CHART)
}

/// A file in a temp dir that lives as long as the value.
struct TempFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn temp_file(name: &str, contents: &str) -> TempFile {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("writing a temp file");
    TempFile { _dir: dir, path }
}

/// `helm` from the test tools for commands that need no cluster, with
/// config/cache/data dirs of its own.
fn offline_helm(home: &Path) -> Command {
    let bin = support::tools_dir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(bin.join("helm"));
    cmd.env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("KUBECONFIG", home.join("no-kubeconfig"));
    cmd
}

fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs `cmd` with `stdin` as its input and returns its output, whatever
/// its exit status.
fn output(cmd: &mut Command, stdin: Option<&str>) -> Output {
    let what = describe(cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting `{what}`: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("writing to `{what}`: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("running `{what}`: {e}"))
}

/// Runs `cmd` and returns its stdout; panics with its stderr if it fails.
fn succeed(cmd: &mut Command, stdin: Option<&str>) -> String {
    let what = describe(cmd);
    let out = output(cmd, stdin);
    assert!(
        out.status.success(),
        "`{what}` failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cmd`, expects it to fail and returns its stderr.
fn fail(cmd: &mut Command) -> String {
    let what = describe(cmd);
    let out = output(cmd, None);
    assert!(
        !out.status.success(),
        "`{what}` succeeded but should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `helm template` of the chart as release `release` in `namespace`.
fn render(
    helm: &mut Command,
    release: &str,
    namespace: &str,
    values: &str,
    set: &[&str],
) -> String {
    let file = temp_file("values.yaml", values);
    helm.arg("template")
        .arg(release)
        .arg(chart_dir())
        .args(["--namespace", namespace])
        .arg("--values")
        .arg(&file.path);
    for s in set {
        helm.args(["--set", s]);
    }
    succeed(helm, None)
}

fn render_offline(values: &str, set: &[&str]) -> String {
    let home = tempfile::tempdir().expect("a temp dir");
    render(
        &mut offline_helm(home.path()),
        "meetings",
        "operators",
        values,
        set,
    )
}

/// The documents of a multi-document YAML stream, without empty ones.
fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("the chart renders valid YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn kind_of(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

fn name_of(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or_default()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| kind_of(d) == kind).collect()
}

fn one_of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(docs, kind);
    assert_eq!(found.len(), 1, "expected exactly one {kind}, got {found:?}");
    found[0]
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .map(|v| v.as_str().expect("a string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn operator_args(docs: &[Value]) -> Vec<String> {
    let deployment = one_of_kind(docs, "Deployment");
    strings(&deployment["spec"]["template"]["spec"]["containers"][0]["args"])
}

/// Installs the trimmed ServiceMonitor CRD once per test binary.
async fn service_monitor_crd(cp: &'static support::ControlPlane) {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            succeed(
                cp.kubectl_cmd().args(["apply", "--server-side", "-f", "-"]),
                Some(SERVICE_MONITOR_CRD),
            );
            succeed(
                cp.kubectl_cmd().args([
                    "wait",
                    "--for=condition=Established",
                    "--timeout=60s",
                    "crd/servicemonitors.monitoring.coreos.com",
                ]),
                None,
            );
        })
        .await;
}

#[test]
fn helm_lint_strict_passes() {
    let home = tempfile::tempdir().expect("a temp dir");
    for (name, values) in VALUE_SETS {
        let file = temp_file("values.yaml", values);
        let out = succeed(
            offline_helm(home.path())
                .args(["lint", "--strict"])
                .arg(chart_dir())
                .arg("--values")
                .arg(&file.path),
            None,
        );
        assert!(
            out.contains("0 chart(s) failed"),
            "helm lint --strict with the {name} values:\n{out}"
        );
    }
}

#[test]
fn chart_crds_are_the_generated_crds() {
    let root = support::repo_root();
    let list = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
            .collect()
    };
    let generated = list(&root.join("crds"));
    let chart = list(&chart_dir().join("crds"));
    assert!(!generated.is_empty(), "crds/ has no CRD");
    assert_eq!(
        generated, chart,
        "{CHART}/crds/ must hold the same files as crds/; regenerate both with \
         `cargo run -- crd --write crds --write {CHART}/crds`"
    );
    for file in &generated {
        let a = std::fs::read(root.join("crds").join(file)).expect("reading a CRD");
        let b = std::fs::read(chart_dir().join("crds").join(file)).expect("reading a CRD");
        assert!(
            a == b,
            "{CHART}/crds/{file} differs from crds/{file}; regenerate both with \
             `cargo run -- crd --write crds --write {CHART}/crds`"
        );
    }
}

#[test]
fn chart_app_version_is_the_crate_version() {
    let chart: Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart_dir().join("Chart.yaml")).expect("reading Chart.yaml"),
    )
    .expect("Chart.yaml is YAML");
    assert_eq!(chart["apiVersion"].as_str(), Some("v2"));
    assert_eq!(
        chart["appVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "Chart.yaml appVersion (the default image tag) must be the crate version"
    );
}

#[test]
fn values_schema_rejects_bad_values() {
    let home = tempfile::tempdir().expect("a temp dir");
    let cases: [(&str, &[&str]); 9] = [
        ("replicas: \"two\"\n", &["/replicas", "want integer"]),
        ("replicas: -1\n", &["/replicas", "minimum"]),
        (
            "replicass: 2\n",
            &["additional properties 'replicass' not allowed"],
        ),
        ("logLevel: loud\n", &["/logLevel", "must be one of"]),
        ("resyncPeriod: 5 minutes\n", &["/resyncPeriod"]),
        ("image:\n  pullPolicy: Sometimes\n", &["/image/pullPolicy"]),
        ("metrics:\n  port: 70000\n", &["/metrics/port", "maximum"]),
        ("watchNamespaces: [Team_A]\n", &["/watchNamespaces/0"]),
        (
            "callbacks:\n  enabled: true\n  publicUrl: hooks.example.com\n",
            &["/callbacks/publicUrl"],
        ),
    ];
    for (values, expected) in cases {
        let file = temp_file("values.yaml", values);
        let err = fail(
            offline_helm(home.path())
                .args(["template", "meetings"])
                .arg(chart_dir())
                .arg("--values")
                .arg(&file.path),
        );
        assert!(
            err.contains("values don't meet the specifications of the schema"),
            "{values:?}: not a schema error:\n{err}"
        );
        for text in expected {
            assert!(
                err.contains(text),
                "{values:?}: the error does not say {text:?}:\n{err}"
            );
        }
    }

    // What the schema cannot say, the templates check.
    let cases = [
        (
            "credentials:\n  existingSecret: a\n  applicationId: b\n  privateKey: c\n",
            "set either existingSecret or applicationId and privateKey, not both",
        ),
        (
            "credentials:\n  applicationId: b\n",
            "applicationId and privateKey must be set together",
        ),
        (
            "replicas: 2\nleaderElection:\n  enabled: false\n",
            "replicas > 1 needs leaderElection.enabled: true",
        ),
        (
            "serviceAccount:\n  create: false\n",
            "serviceAccount.name is required when serviceAccount.create is false",
        ),
        (
            "callbacks:\n  enabled: true\n  port: 8080\n",
            "callbacks.port must differ from metrics.port",
        ),
    ];
    for (values, expected) in cases {
        let file = temp_file("values.yaml", values);
        let err = fail(
            offline_helm(home.path())
                .args(["template", "meetings"])
                .arg(chart_dir())
                .arg("--values")
                .arg(&file.path),
        );
        assert!(
            err.contains(expected),
            "{values:?}: the error does not say {expected:?}:\n{err}"
        );
    }
}

/// Rules of a Role or ClusterRole as (apiGroup, resource, verb,
/// resourceName or "") tuples.
fn rule_grants(role: &Value) -> BTreeSet<(String, String, String, String)> {
    let mut grants = BTreeSet::new();
    for rule in role["rules"].as_sequence().expect("rules") {
        let names = strings(&rule["resourceNames"]);
        let names = if names.is_empty() {
            vec![String::new()]
        } else {
            names
        };
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                for verb in strings(&rule["verbs"]) {
                    for name in &names {
                        grants.insert((
                            group.clone(),
                            resource.clone(),
                            verb.clone(),
                            name.clone(),
                        ));
                    }
                }
            }
        }
    }
    grants
}

fn grants_of(list: &[(&str, &str, &[&str])]) -> BTreeSet<(String, String, String, String)> {
    let mut grants = BTreeSet::new();
    for (group, resource, verbs) in list {
        for verb in *verbs {
            grants.insert((
                group.to_string(),
                resource.to_string(),
                verb.to_string(),
                String::new(),
            ));
        }
    }
    grants
}

/// Exactly what the operator needs in a namespace it watches (or, as a
/// ClusterRole, everywhere).
fn operator_grants() -> BTreeSet<(String, String, String, String)> {
    grants_of(&[
        (
            "meetings.vonage.com",
            "meetingrooms",
            &["get", "list", "watch", "patch"],
        ),
        (
            "meetings.vonage.com",
            "meetingthemes",
            &["get", "list", "watch", "patch"],
        ),
        ("meetings.vonage.com", "meetingrooms/status", &["patch"]),
        ("meetings.vonage.com", "meetingthemes/status", &["patch"]),
        (
            "meetings.vonage.com",
            "meetingrooms/finalizers",
            &["update", "patch"],
        ),
        (
            "meetings.vonage.com",
            "meetingthemes/finalizers",
            &["update", "patch"],
        ),
        ("", "secrets", &["get", "list", "watch", "create", "patch"]),
        ("", "configmaps", &["get", "list", "watch"]),
        ("events.k8s.io", "events", &["create", "patch"]),
    ])
}

fn lease_grants(lease: &str) -> BTreeSet<(String, String, String, String)> {
    let mut grants = grants_of(&[("coordination.k8s.io", "leases", &["create"])]);
    for verb in ["get", "update", "patch"] {
        grants.insert((
            "coordination.k8s.io".into(),
            "leases".into(),
            verb.into(),
            lease.into(),
        ));
    }
    grants
}

#[test]
fn rbac_is_least_privilege_without_wildcards() {
    for (name, values) in VALUE_SETS {
        let docs = documents(&render_offline(values, &[]));
        for role in docs
            .iter()
            .filter(|d| matches!(kind_of(d), "Role" | "ClusterRole"))
        {
            let rules = role["rules"].as_sequence().expect("rules");
            assert!(!rules.is_empty(), "{name}: {} has no rules", name_of(role));
            for rule in rules {
                for field in ["apiGroups", "resources", "verbs", "resourceNames"] {
                    assert!(
                        !strings(&rule[field]).iter().any(|v| v.contains('*')),
                        "{name}: {} {} has a wildcard in {field}: {rule:?}",
                        kind_of(role),
                        name_of(role)
                    );
                }
                assert!(
                    rule["nonResourceURLs"].is_null(),
                    "{name}: {} grants non-resource URLs",
                    name_of(role)
                );
            }
        }
        for binding in docs
            .iter()
            .filter(|d| matches!(kind_of(d), "RoleBinding" | "ClusterRoleBinding"))
        {
            let subjects = binding["subjects"].as_sequence().expect("subjects");
            assert_eq!(subjects.len(), 1, "{name}: {}", name_of(binding));
            assert_eq!(subjects[0]["kind"].as_str(), Some("ServiceAccount"));
            assert_eq!(
                subjects[0]["name"].as_str(),
                Some("meetings-meetings-operator")
            );
            assert_eq!(subjects[0]["namespace"].as_str(), Some("operators"));
        }
    }

    // All namespaces: one ClusterRole with exactly the operator's rules,
    // the Lease rules in the release namespace only.
    let docs = documents(&render_offline("", &[]));
    let cluster_role = one_of_kind(&docs, "ClusterRole");
    assert_eq!(rule_grants(cluster_role), operator_grants());
    let roles = of_kind(&docs, "Role");
    assert_eq!(roles.len(), 1, "only the leader-election Role: {roles:?}");
    assert_eq!(
        roles[0]["metadata"]["namespace"].as_str(),
        Some("operators")
    );
    assert_eq!(
        rule_grants(roles[0]),
        lease_grants("meetings-meetings-operator")
    );

    // Without leader election there is no Lease access at all.
    let docs = documents(&render_offline(CLUSTER_WIDE, &[]));
    assert!(of_kind(&docs, "Role").is_empty());
    assert!(of_kind(&docs, "RoleBinding").is_empty());
    assert!(
        !operator_args(&docs)
            .iter()
            .any(|a| a.starts_with("--lease"))
    );

    // Watched namespaces: no cluster-wide access; the operator's rules in
    // each watched namespace, the Lease and the default credentials Secret
    // (read-only, by name) in the release namespace.
    let docs = documents(&render_offline(REPRESENTATIVE, &[]));
    assert!(of_kind(&docs, "ClusterRole").is_empty());
    assert!(of_kind(&docs, "ClusterRoleBinding").is_empty());
    let mut per_namespace = std::collections::BTreeMap::new();
    for role in of_kind(&docs, "Role") {
        per_namespace
            .entry(
                role["metadata"]["namespace"]
                    .as_str()
                    .expect("a namespace")
                    .to_owned(),
            )
            .or_insert_with(BTreeSet::new)
            .extend(rule_grants(role));
    }
    let mut release_ns = lease_grants("meetings-leader");
    release_ns.insert((
        String::new(),
        "secrets".into(),
        "get".into(),
        "meetings-meetings-operator-credentials".into(),
    ));
    // The callback token Secret: created once, then read by name.
    release_ns.extend(grants_of(&[("", "secrets", &["create"])]));
    release_ns.insert((
        String::new(),
        "secrets".into(),
        "get".into(),
        "meetings-meetings-operator-callback-token".into(),
    ));
    let expected = std::collections::BTreeMap::from([
        ("operators".to_owned(), release_ns),
        ("team-a".to_owned(), operator_grants()),
        ("team-b".to_owned(), operator_grants()),
    ]);
    assert_eq!(per_namespace, expected);
    let bindings = of_kind(&docs, "RoleBinding");
    assert_eq!(bindings.len(), 5, "{bindings:?}");
}

#[test]
fn pods_are_locked_down_by_default() {
    let docs = documents(&render_offline("", &[]));

    let sa = one_of_kind(&docs, "ServiceAccount");
    assert_eq!(sa["automountServiceAccountToken"].as_bool(), Some(false));

    let deployment = one_of_kind(&docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
    assert_eq!(
        pod["serviceAccountName"].as_str(),
        Some("meetings-meetings-operator")
    );
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(psc["runAsUser"].as_u64(), Some(65532));
    assert_eq!(
        psc["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault")
    );

    let containers = pod["containers"].as_sequence().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["image"].as_str(), Some("meetings-operator:0.1.0"));
    let csc = &c["securityContext"];
    assert_eq!(csc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(csc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(strings(&csc["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                c["resources"][kind][resource].as_str().is_some(),
                "no {kind}.{resource}"
            );
        }
    }

    // The only token is the projected one, with a bounded lifetime, mounted
    // read-only where client libraries look for it.
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    assert_eq!(volumes.len(), 1);
    let sources = volumes[0]["projected"]["sources"]
        .as_sequence()
        .expect("a projected volume");
    let token = sources
        .iter()
        .find(|s| !s["serviceAccountToken"].is_null())
        .expect("a serviceAccountToken source");
    assert_eq!(
        token["serviceAccountToken"]["expirationSeconds"].as_u64(),
        Some(3600)
    );
    let mounts = c["volumeMounts"].as_sequence().expect("volumeMounts");
    assert_eq!(mounts.len(), 1);
    assert_eq!(
        mounts[0]["mountPath"].as_str(),
        Some("/var/run/secrets/kubernetes.io/serviceaccount")
    );
    assert_eq!(mounts[0]["readOnly"].as_bool(), Some(true));

    let env: Vec<&str> = c["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .map(|e| e["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(env, ["RUST_LOG", "POD_NAME", "POD_NAMESPACE"]);

    assert_eq!(
        operator_args(&docs),
        [
            "run",
            "--metrics-addr=0.0.0.0:8080",
            "--concurrency=8",
            "--resync-period=5m",
            "--api-timeout=30s",
            "--page-size=100",
            "--rate-limit=10",
            "--rate-burst=10",
            "--credentials-recheck=30s",
            "--leader-election=true",
            "--lease-name=meetings-meetings-operator",
            "--lease-namespace=operators",
            "--log-json",
        ]
    );

    // Optional parts are off by default.
    for kind in [
        "ServiceMonitor",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Secret",
    ] {
        assert!(
            of_kind(&docs, kind).is_empty(),
            "{kind} rendered by default"
        );
    }
    let service = one_of_kind(&docs, "Service");
    assert_eq!(service["spec"]["ports"][0]["port"].as_u64(), Some(8080));
}

#[test]
fn optional_parts_follow_the_values() {
    let docs = documents(&render_offline(REPRESENTATIVE, &[]));
    let args = operator_args(&docs);
    for expected in [
        "--namespace=team-a,team-b",
        "--label-selector=meetings.example.com/managed=true",
        "--api-url=https://api-eu.vonage.com",
        "--default-credentials=operators/meetings-meetings-operator-credentials",
        "--rate-limit=2.5",
        "--rate-burst=5",
        "--metrics-addr=0.0.0.0:9090",
        "--lease-name=meetings-leader",
        "--callbacks",
        "--callback-addr=0.0.0.0:8443",
        "--callback-public-url=https://meetings-callbacks.example.com",
        "--callback-token-secret=meetings-meetings-operator-callback-token",
    ] {
        assert!(
            args.iter().any(|a| a == expected),
            "{expected} missing: {args:?}"
        );
    }
    let secret = one_of_kind(&docs, "Secret");
    assert_eq!(name_of(secret), "meetings-meetings-operator-credentials");
    let data = &secret["stringData"];
    assert!(data["applicationId"].as_str().is_some());
    assert!(
        data["privateKey"]
            .as_str()
            .is_some_and(|k| k.contains("BEGIN"))
    );
    let pdb = one_of_kind(&docs, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"].as_u64(), Some(1));
    let monitor = one_of_kind(&docs, "ServiceMonitor");
    assert_eq!(
        monitor["metadata"]["labels"]["release"].as_str(),
        Some("prometheus")
    );
    let policy = one_of_kind(&docs, "NetworkPolicy");
    assert_eq!(
        strings(&policy["spec"]["policyTypes"]),
        ["Ingress", "Egress"]
    );
    let pod_labels = &one_of_kind(&docs, "Deployment")["spec"]["template"]["metadata"]["labels"];
    assert_eq!(pod_labels["team"].as_str(), Some("video"));
    // The callbacks Service, port and NetworkPolicy rule.
    let callbacks = of_kind(&docs, "Service")
        .into_iter()
        .find(|s| name_of(s) == "meetings-meetings-operator-callbacks")
        .expect("the callbacks Service");
    assert_eq!(callbacks["spec"]["ports"][0]["port"].as_u64(), Some(8443));
    assert_eq!(
        callbacks["spec"]["ports"][0]["targetPort"].as_str(),
        Some("callbacks")
    );
    let container = &one_of_kind(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert!(
        container["ports"]
            .as_sequence()
            .expect("ports")
            .iter()
            .any(|p| p["name"].as_str() == Some("callbacks")
                && p["containerPort"].as_u64() == Some(8443))
    );
    let ingress = policy["spec"]["ingress"].as_sequence().expect("ingress");
    assert!(ingress.iter().any(|rule| {
        rule["ports"][0]["port"].as_str() == Some("callbacks")
            && rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                .as_str()
                == Some("ingress")
    }));

    // An existing Secret is referenced, not created; no leader election.
    let docs = documents(&render_offline(CLUSTER_WIDE, &[]));
    assert!(of_kind(&docs, "Secret").is_empty());
    let args = operator_args(&docs);
    assert!(args.contains(&"--default-credentials=operators/meetings-credentials".to_owned()));
    assert!(args.contains(&"--leader-election=false".to_owned()));
    assert!(!args.contains(&"--log-json".to_owned()));

    // The helm test hook fetches /readyz through the metrics Service and is
    // not selected by it.
    let docs = documents(&render_offline("", &[]));
    let test_pod = docs
        .iter()
        .find(|d| kind_of(d) == "Pod")
        .expect("the helm test Pod");
    assert_eq!(
        test_pod["metadata"]["annotations"]["helm.sh/hook"].as_str(),
        Some("test")
    );
    let command = strings(&test_pod["spec"]["containers"][0]["command"]);
    assert_eq!(
        command.last().map(String::as_str),
        Some("http://meetings-meetings-operator-metrics.operators.svc:8080/readyz")
    );
    let selector = one_of_kind(&docs, "Service")["spec"]["selector"]
        .as_mapping()
        .expect("a selector");
    let selected = selector
        .iter()
        .all(|(k, v)| &test_pod["metadata"]["labels"][k] == v);
    assert!(!selected, "the metrics Service selects the helm test Pod");
}

/// `kubectl apply --dry-run=server` of everything the chart renders
/// (including the `helm test` hook) for each value set, so that the API
/// server validates every object.
#[tokio::test]
async fn rendered_manifests_pass_a_server_side_dry_run() {
    let cp = control_plane().await;
    service_monitor_crd(cp).await;
    let release_ns = cp.new_namespace("chart-dry-run").await;
    let team_a = cp.new_namespace("chart-dry-run-a").await;
    let team_b = cp.new_namespace("chart-dry-run-b").await;
    let watch = format!("watchNamespaces={{{team_a},{team_b}}}");
    for (name, values) in VALUE_SETS {
        let set: &[&str] = if name == "representative" {
            &[&watch]
        } else {
            &[]
        };
        let manifests = render(&mut cp.helm_cmd(), "meetings", &release_ns, values, set);
        let docs = documents(&manifests);
        assert!(docs.len() >= 6, "{name}: only {} objects", docs.len());
        let out = succeed(
            cp.kubectl_cmd()
                .args(["apply", "--dry-run=server", "-o", "name", "-f", "-"]),
            Some(&manifests),
        );
        assert_eq!(
            out.lines().count(),
            docs.len(),
            "{name}: kubectl applied a different number of objects:\n{out}"
        );
    }
}

/// `helm install`, `helm upgrade` and `helm uninstall` into fresh
/// namespaces. Without a kubelet the pods never start, so nothing waits for
/// them.
#[tokio::test]
async fn helm_install_upgrade_and_uninstall() {
    let cp = control_plane().await;
    let client = cp.client().await;
    let ns = cp.new_namespace("chart-install").await;

    let out = succeed(
        cp.helm_cmd()
            .args(["install", "meetings"])
            .arg(chart_dir())
            .args(["--namespace", &ns, "--timeout", "60s"]),
        None,
    );
    assert!(out.contains("STATUS: deployed"), "{out}");
    assert!(
        out.contains("kubectl get meetingthemes,meetingrooms"),
        "NOTES:\n{out}"
    );

    let fullname = "meetings-meetings-operator";
    let cluster_name = format!("{fullname}-{ns}");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let deployment = deployments.get(fullname).await.expect("the Deployment");
    assert_eq!(deployment.spec.replicas, Some(1));
    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .get(fullname)
        .await
        .expect("the ServiceAccount");
    Api::<Service>::namespaced(client.clone(), &ns)
        .get(&format!("{fullname}-metrics"))
        .await
        .expect("the metrics Service");
    Api::<Role>::namespaced(client.clone(), &ns)
        .get(&format!("{fullname}-leader-election"))
        .await
        .expect("the leader-election Role");
    Api::<RoleBinding>::namespaced(client.clone(), &ns)
        .get(&format!("{fullname}-leader-election"))
        .await
        .expect("the leader-election RoleBinding");
    let cluster_roles: Api<ClusterRole> = Api::all(client.clone());
    cluster_roles
        .get(&cluster_name)
        .await
        .expect("the ClusterRole");
    let cluster_role_bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    cluster_role_bindings
        .get(&cluster_name)
        .await
        .expect("the ClusterRoleBinding");

    // The same release name in another namespace does not collide on the
    // cluster-scoped objects.
    let other = cp.new_namespace("chart-install-other").await;
    succeed(
        cp.helm_cmd()
            .args(["install", "meetings"])
            .arg(chart_dir())
            .args(["--namespace", &other]),
        None,
    );
    cluster_roles
        .get(&format!("{fullname}-{other}"))
        .await
        .expect("the second release's ClusterRole");

    // Upgrade to the representative values: watched namespaces instead of
    // cluster-wide access, chart-managed credentials, two replicas.
    service_monitor_crd(cp).await;
    let team_a = cp.new_namespace("chart-install-a").await;
    let team_b = cp.new_namespace("chart-install-b").await;
    let values = temp_file("values.yaml", REPRESENTATIVE);
    succeed(
        cp.helm_cmd()
            .args(["upgrade", "meetings"])
            .arg(chart_dir())
            .args(["--namespace", &ns, "--values"])
            .arg(&values.path)
            .args(["--set", &format!("watchNamespaces={{{team_a},{team_b}}}")]),
        None,
    );
    let deployment = deployments.get(fullname).await.expect("the Deployment");
    assert_eq!(deployment.spec.replicas, Some(2));
    Api::<PodDisruptionBudget>::namespaced(client.clone(), &ns)
        .get(fullname)
        .await
        .expect("the PodDisruptionBudget");
    let secret = Api::<Secret>::namespaced(client.clone(), &ns)
        .get(&format!("{fullname}-credentials"))
        .await
        .expect("the credentials Secret");
    let data = secret.data.unwrap_or_default();
    assert!(data.contains_key("applicationId") && data.contains_key("privateKey"));
    Api::<Service>::namespaced(client.clone(), &ns)
        .get(&format!("{fullname}-callbacks"))
        .await
        .expect("the callbacks Service");
    for team in [&team_a, &team_b] {
        Api::<Role>::namespaced(client.clone(), team)
            .get(fullname)
            .await
            .unwrap_or_else(|e| panic!("the Role in {team}: {e}"));
        Api::<RoleBinding>::namespaced(client.clone(), team)
            .get(fullname)
            .await
            .unwrap_or_else(|e| panic!("the RoleBinding in {team}: {e}"));
    }
    eventually("the ClusterRole to be removed", TIMEOUT, || {
        let cluster_roles = cluster_roles.clone();
        let name = cluster_name.clone();
        async move {
            cluster_roles
                .get_opt(&name)
                .await
                .ok()
                .flatten()
                .is_none()
                .then_some(())
        }
    })
    .await;

    // Uninstall removes the release's objects and keeps the CRDs (Helm
    // never deletes what crds/ installed).
    succeed(
        cp.helm_cmd().args([
            "uninstall",
            "meetings",
            "--namespace",
            &ns,
            "--wait",
            "--timeout",
            "60s",
        ]),
        None,
    );
    for team in [&team_a, &team_b] {
        let roles: Api<Role> = Api::namespaced(client.clone(), team);
        eventually(
            "the watched namespace's Role to be removed",
            TIMEOUT,
            || {
                let roles = roles.clone();
                async move {
                    roles
                        .get_opt(fullname)
                        .await
                        .ok()
                        .flatten()
                        .is_none()
                        .then_some(())
                }
            },
        )
        .await;
    }
    eventually("the Deployment to be removed", TIMEOUT, || {
        let deployments = deployments.clone();
        async move {
            deployments
                .get_opt(fullname)
                .await
                .ok()
                .flatten()
                .is_none()
                .then_some(())
        }
    })
    .await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in cp.project_crds() {
        crds.get(&name)
            .await
            .unwrap_or_else(|e| panic!("CRD {name} after helm uninstall: {e}"));
    }
}

/// `meetings-operator run` as the Deployment runs it: the Run subcommand's
/// flags.
#[derive(clap::Parser)]
struct RunCommand {
    #[command(flatten)]
    args: meetings_operator::run_args::RunArgs,
    #[arg(long)]
    log_json: bool,
}

/// The rendered Deployment's arguments, parsed by the operator's own flag
/// parser (environment variables of the test process aside).
fn parse_operator_args(docs: &[Value]) -> RunCommand {
    use clap::Parser;
    let args = operator_args(docs);
    assert_eq!(args.first().map(String::as_str), Some("run"));
    RunCommand::try_parse_from(
        std::iter::once("meetings-operator".to_owned()).chain(args.iter().skip(1).cloned()),
    )
    .unwrap_or_else(|e| panic!("the operator rejects the chart's arguments {args:?}: {e}"))
}

#[test]
fn the_operator_accepts_the_rendered_arguments() {
    for (name, values) in VALUE_SETS {
        let docs = documents(&render_offline(values, &[]));
        let run = parse_operator_args(&docs);
        let args = &run.args;
        match name {
            "defaults" => {
                assert!(args.namespaces.is_empty());
                assert!(args.leader_election);
                assert_eq!(args.lease_name, "meetings-meetings-operator");
                assert_eq!(args.lease_namespace, "operators");
                assert_eq!(args.metrics_addr.port(), 8080);
                assert_eq!(args.resync_period, Duration::from_secs(300));
                assert!(args.default_credentials.is_none());
                assert!(run.log_json);
                assert!(run.args.options().callbacks.is_none());
            }
            "representative" => {
                assert_eq!(args.namespaces, ["team-a", "team-b"]);
                assert_eq!(args.lease_name, "meetings-leader");
                assert_eq!(args.metrics_addr.port(), 9090);
                assert_eq!(args.concurrency, 4);
                assert_eq!(args.resync_period, Duration::from_secs(600));
                assert_eq!(args.api_timeout, Duration::from_secs(20));
                assert_eq!(args.credentials_recheck, Duration::from_secs(60));
                assert_eq!(args.page_size, 50);
                assert_eq!(args.rate_limit, 2.5);
                assert_eq!(args.rate_burst, 5);
                assert_eq!(args.api_url, "https://api-eu.vonage.com");
                assert_eq!(
                    args.label_selector.as_deref(),
                    Some("meetings.example.com/managed=true")
                );
                let credentials = args.default_credentials.as_ref().expect("credentials");
                assert_eq!(credentials.namespace, "operators");
                assert_eq!(credentials.name, "meetings-meetings-operator-credentials");
                let callbacks = args.options().callbacks.expect("callbacks on");
                assert_eq!(callbacks.listen.port(), 8443);
                assert_eq!(
                    callbacks.public_url.as_deref(),
                    Some("https://meetings-callbacks.example.com")
                );
                assert_eq!(callbacks.token_secret.namespace, "operators");
                assert_eq!(
                    callbacks.token_secret.name,
                    "meetings-meetings-operator-callback-token"
                );
            }
            _ => {
                assert!(!args.leader_election);
                assert!(!run.log_json);
                let credentials = args.default_credentials.as_ref().expect("credentials");
                assert_eq!(credentials.name, "meetings-credentials");
            }
        }
    }
}

/// Whether `kubectl auth can-i` (as the ServiceAccount, through a
/// SubjectAccessReview) says yes.
fn can_i(cp: &support::ControlPlane, sa: &str, namespace: &str, verb: &str, what: &str) -> bool {
    let out = output(
        cp.kubectl_cmd().args([
            "auth",
            "can-i",
            verb,
            what,
            "--namespace",
            namespace,
            "--as",
            sa,
        ]),
        None,
    );
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

/// Waits for condition Ready=True on the named object; on timeout panics
/// with its last state.
async fn wait_ready<K>(api: &Api<K>, name: &str) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut last = None;
    loop {
        if let Ok(object) = api.get(name).await {
            let json = serde_json::to_value(&object).expect("JSON");
            let ready = json["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            if ready {
                return object;
            }
            last = Some(json);
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{name} did not become Ready within {TIMEOUT:?}; last seen: {:#}",
                last.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The chart's RBAC is enough for the operator: only the ServiceAccount,
/// Secret and RBAC objects the chart renders are applied, the operator runs
/// in-process as that ServiceAccount (TokenRequest token) with the options
/// parsed from the rendered Deployment, against the Meetings API simulator,
/// takes the Lease, and a MeetingTheme and a MeetingRoom become Ready and are
/// deleted through their finalizers.
async fn operator_runs_with_the_charts_rbac(watch_namespaces: bool) {
    use meetings_operator::controller::FINALIZER;
    use meetings_operator::crd::{MeetingRoom, MeetingTheme};
    use meetings_operator::leader::{Elector, KubeLeases};
    use meetings_operator::simulator::{Simulator, SimulatorConfig};

    // The operator's logs, shown when the test fails.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("meetings_operator=debug")),
        )
        .try_init();
    let cp = control_plane().await;
    let admin = cp.client().await;
    let prefix = if watch_namespaces {
        "rbac-ns"
    } else {
        "rbac-cluster"
    };
    let release_ns = cp.new_namespace(&format!("{prefix}-release")).await;
    let team = cp.new_namespace(&format!("{prefix}-team")).await;
    let label = format!("test.meetings.vonage.com/run={team}");

    let sim = Simulator::builder()
        .with_config(SimulatorConfig::default())
        .start()
        .await
        .expect("the simulator starts");
    let app = sim.default_application().expect("a default application");

    let values = format!(
        "credentials:\n  applicationId: {}\n  privateKey: {}\napiUrl: {}\nlabelSelector: {}\n\
         concurrency: 2\ncallbacks:\n  enabled: true\n{}",
        serde_json::to_string(&app.application_id).expect("JSON"),
        serde_json::to_string(&app.private_key_pem).expect("JSON"),
        serde_json::to_string(&sim.base_url()).expect("JSON"),
        serde_json::to_string(&label).expect("JSON"),
        if watch_namespaces {
            format!("watchNamespaces: [{team}]\n")
        } else {
            String::new()
        },
    );
    let manifests = render(&mut cp.helm_cmd(), "meetings", &release_ns, &values, &[]);
    let docs = documents(&manifests);
    let wanted = [
        "ServiceAccount",
        "Secret",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
    ];
    let subset: Vec<&Value> = docs
        .iter()
        .filter(|d| wanted.contains(&kind_of(d)))
        .collect();
    let mut yaml = String::new();
    for doc in &subset {
        yaml.push_str("---\n");
        yaml.push_str(&serde_yaml::to_string(doc).expect("YAML"));
    }
    succeed(
        cp.kubectl_cmd().args(["apply", "--server-side", "-f", "-"]),
        Some(&yaml),
    );

    let sa_name = "meetings-meetings-operator";
    let sa = format!("system:serviceaccount:{release_ns}:{sa_name}");

    // What the chart means to grant, and nothing beyond it.
    let elsewhere = cp.new_namespace(&format!("{prefix}-elsewhere")).await;
    let credentials = "secrets/meetings-meetings-operator-credentials";
    let lease = "leases.coordination.k8s.io/meetings-meetings-operator";
    let other_lease = "leases.coordination.k8s.io/another-lease";
    let rooms = "meetingrooms.meetings.vonage.com";
    let checks: [(&str, &str, &str, bool); 20] = [
        (&team, "patch", rooms, true),
        (&team, "watch", rooms, true),
        (
            &team,
            "patch",
            "meetingthemes.meetings.vonage.com/status",
            true,
        ),
        (&team, "create", "secrets", true),
        (&team, "create", "events.events.k8s.io", true),
        (&release_ns, "get", credentials, true),
        (&release_ns, "update", lease, true),
        (&release_ns, "create", "leases.coordination.k8s.io", true),
        (&team, "create", rooms, false),
        (&team, "delete", rooms, false),
        (
            &team,
            "update",
            "meetingrooms.meetings.vonage.com/status",
            false,
        ),
        (&team, "delete", "secrets", false),
        (&team, "update", "secrets", false),
        (&team, "watch", "configmaps", true),
        (&team, "patch", "configmaps", false),
        (&team, "create", "pods", false),
        (&release_ns, "delete", lease, false),
        (&release_ns, "update", other_lease, false),
        (&elsewhere, "create", "leases.coordination.k8s.io", false),
        (&release_ns, "update", credentials, false),
    ];
    for (namespace, verb, what, expected) in checks {
        assert_eq!(
            can_i(cp, &sa, namespace, verb, what),
            expected,
            "can {sa} {verb} {what} in {namespace}?"
        );
    }
    // Cluster-wide access only without watched namespaces.
    for (verb, what) in [("list", rooms), ("get", "secrets"), ("list", "secrets")] {
        assert_eq!(
            can_i(cp, &sa, &elsewhere, verb, what),
            !watch_namespaces,
            "can {sa} {verb} {what} in {elsewhere}?"
        );
    }
    if watch_namespaces {
        assert!(!can_i(cp, &sa, &release_ns, "list", "secrets"));
        assert!(!can_i(
            cp,
            &sa,
            &release_ns,
            "get",
            "secrets/another-secret"
        ));
    }

    // The callback token Secret: create, and read only that one.
    let token_secret = "secrets/meetings-meetings-operator-callback-token";
    assert!(can_i(cp, &sa, &release_ns, "create", "secrets"));
    assert!(can_i(cp, &sa, &release_ns, "get", token_secret));
    assert!(!can_i(cp, &sa, &release_ns, "update", token_secret));

    // The operator acts as the chart's ServiceAccount, nothing more.
    let client = cp.service_account_client(&release_ns, sa_name).await;
    let run = parse_operator_args(&docs);
    let mut options = run.args.options();
    // Tests run side by side: a free loopback port instead of the chart's.
    if let Some(callbacks) = options.callbacks.as_mut() {
        callbacks.listen = "127.0.0.1:0".parse().expect("an address");
    }

    // Leader election as the ServiceAccount.
    let lease = run.args.lease_config();
    let elector = Elector::new(
        KubeLeases::new(client.clone(), &lease.namespace, &lease.name),
        lease.clone(),
    )
    .expect("a valid lease configuration");
    let leadership = tokio::time::timeout(TIMEOUT, elector.acquire())
        .await
        .expect("the operator takes the Lease with the chart's RBAC");
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(admin.clone(), &release_ns);
    let held = leases.get(&lease.name).await.expect("the Lease");
    assert_eq!(
        held.spec.and_then(|s| s.holder_identity).as_deref(),
        Some(elector.identity())
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(meetings_operator::controller::runner::run(
        client,
        options,
        async move {
            let _ = stopped.await;
        },
    ));

    let labels = serde_json::json!({ "test.meetings.vonage.com/run": team });
    let themes: Api<MeetingTheme> = Api::namespaced(admin.clone(), &team);
    let rooms: Api<MeetingRoom> = Api::namespaced(admin.clone(), &team);
    let theme: MeetingTheme = serde_json::from_value(serde_json::json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": "brand", "labels": labels},
        "spec": {
            "mainColor": "#0a66c2", "brandText": "Example",
            "shortCompanyUrl": format!("ex-{team}"), "deletionPolicy": "ForceDelete"
        }
    }))
    .expect("a MeetingTheme");
    let room: MeetingRoom = serde_json::from_value(serde_json::json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": "standup", "labels": labels},
        "spec": {"displayName": "Stand-up", "themeRef": {"name": "brand"}}
    }))
    .expect("a MeetingRoom");
    let post = kube::api::PostParams::default();
    themes
        .create(&post, &theme)
        .await
        .expect("creating the theme");
    rooms.create(&post, &room).await.expect("creating the room");

    let theme = wait_ready(&themes, "brand").await;
    let room = wait_ready(&rooms, "standup").await;
    // The operator generated its callback token into the Secret the chart names.
    let token = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(admin.clone(), &release_ns)
        .get("meetings-meetings-operator-callback-token")
        .await
        .expect("the callback token Secret");
    assert!(token.data.is_some_and(|d| d.contains_key("token")));
    assert!(
        theme.finalizers().iter().any(|f| f == FINALIZER),
        "the operator added its finalizer to the theme: {:?}",
        theme.finalizers()
    );
    assert_eq!(sim.rooms(&app.application_id).len(), 1);
    assert_eq!(sim.themes(&app.application_id).len(), 1);
    // The host-URL Secret (server-side apply as the ServiceAccount).
    let secret_name = room
        .status
        .as_ref()
        .and_then(|s| s.host_url_secret_name.clone())
        .expect("a host-URL Secret name");
    Api::<Secret>::namespaced(admin.clone(), &team)
        .get(&secret_name)
        .await
        .expect("the host-URL Secret");
    // Events (events.k8s.io) as the ServiceAccount.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(admin.clone(), &team);
    eventually("an event about the room", TIMEOUT, || {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.ok()?;
            list.items
                .iter()
                .any(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("standup"))
                .then_some(())
        }
    })
    .await;

    // Deletion runs through the finalizers (merge patch as the ServiceAccount).
    let delete = kube::api::DeleteParams::default();
    rooms
        .delete("standup", &delete)
        .await
        .expect("deleting the room");
    themes
        .delete("brand", &delete)
        .await
        .expect("deleting the theme");
    eventually("the MeetingRoom to be deleted", TIMEOUT, || {
        let rooms = rooms.clone();
        async move { rooms.get_opt("standup").await.ok()?.is_none().then_some(()) }
    })
    .await;
    eventually("the MeetingTheme to be deleted", TIMEOUT, || {
        let themes = themes.clone();
        async move { themes.get_opt("brand").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(
        sim.themes(&app.application_id).is_empty(),
        "the remote theme was deleted (deletionPolicy ForceDelete)"
    );

    // Graceful shutdown is not what this test is about: give it a while,
    // then end the operator.
    let _ = stop.send(());
    let abort = operator.abort_handle();
    match tokio::time::timeout(Duration::from_secs(20), operator).await {
        Ok(result) => result
            .expect("the operator task")
            .expect("the operator ran without error"),
        Err(_) => {
            eprintln!("the operator did not stop within 20s of its shutdown signal; aborted");
            abort.abort();
        }
    }
    leadership.release().await.expect("releasing the Lease");
    sim.shutdown().await;
}

#[tokio::test]
async fn operator_runs_with_the_charts_namespaced_rbac() {
    operator_runs_with_the_charts_rbac(true).await;
}

#[tokio::test]
async fn operator_runs_with_the_charts_cluster_rbac() {
    operator_runs_with_the_charts_rbac(false).await;
}
