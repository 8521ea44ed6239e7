//! Tests of the Helm chart in `charts/meetings-operator`: `helm lint`, the
//! values schema, the rendered RBAC and security settings, the chart's CRDs,
//! and the rendered manifests against a real API server (server-side dry
//! run, `helm install`, `helm upgrade`, `helm uninstall`, CRD upgrades and
//! the tenant roles aggregated into `view`, `edit` and `admin`), and the
//! optional PrometheusRule and Grafana dashboard: `promtool check rules` on
//! the alerts, and every metric they and the dashboard query is one the
//! operator exposes.
//!
//! The control plane has no kubelet, so the operator's pods are never
//! started here: the `helm test` hook is rendered and validated by the API
//! server, not run.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
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
/// two replicas (PodDisruptionBudget), ServiceMonitor, PrometheusRule, the
/// Grafana dashboard ConfigMap, NetworkPolicy, the callback receiver, an
/// image digest, common labels, extra environment, arguments and volumes,
/// topology spread constraints and a CA bundle.
/// Tests that talk to the API server replace `watchNamespaces` with
/// namespaces that exist.
const REPRESENTATIVE: &str = r#"
image:
  repository: registry.example.com/meetings-operator
  tag: "0.1.0"
  digest: sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904c1bd7d2b8a4e2b9cd1f3e6a0
  pullPolicy: Always
commonLabels:
  example.com/cost-center: video
  app.kubernetes.io/name: not-the-chart
extraEnv:
  - name: TZ
    value: UTC
  - name: HTTPS_PROXY
    valueFrom:
      secretKeyRef:
        name: egress-proxy
        key: url
        optional: true
extraArgs: ["--lease-duration=30s", "--lease-renew-deadline=20s"]
extraVolumes:
  - name: scratch
    emptyDir:
      sizeLimit: 16Mi
extraVolumeMounts:
  - name: scratch
    mountPath: /scratch
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: DoNotSchedule
    labelSelector:
      matchLabels:
        app.kubernetes.io/instance: meetings
caBundle:
  configMap: corporate-ca
  key: bundle.pem
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
  prometheusRule:
    enabled: true
    labels:
      release: prometheus
  grafanaDashboard:
    enabled: true
    annotations:
      grafana_folder: Operators
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

/// A trimmed `prometheusrules.monitoring.coreos.com` CRD: the fields the
/// chart sets, typed as in the Prometheus operator's CRD (group names
/// unique, `expr` an int-or-string, durations by its pattern).
const PROMETHEUS_RULE_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: prometheusrules.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names:
    kind: PrometheusRule
    listKind: PrometheusRuleList
    plural: prometheusrules
    singular: prometheusrule
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
              properties:
                groups:
                  type: array
                  x-kubernetes-list-type: map
                  x-kubernetes-list-map-keys: [name]
                  items:
                    type: object
                    required: [name]
                    properties:
                      name: {type: string, minLength: 1}
                      interval:
                        type: string
                        pattern: ^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$
                      rules:
                        type: array
                        items:
                          type: object
                          required: [expr]
                          properties:
                            alert: {type: string}
                            record: {type: string}
                            expr:
                              anyOf:
                                - type: integer
                                - type: string
                              x-kubernetes-int-or-string: true
                            for:
                              type: string
                              pattern: ^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$
                            keep_firing_for:
                              type: string
                              minLength: 1
                              pattern: ^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$
                            labels:
                              type: object
                              additionalProperties: {type: string}
                            annotations:
                              type: object
                              additionalProperties: {type: string}
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

/// Installs the trimmed ServiceMonitor and PrometheusRule CRDs once per
/// test binary.
async fn monitoring_crds(cp: &'static support::ControlPlane) {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            succeed(
                cp.kubectl_cmd().args(["apply", "--server-side", "-f", "-"]),
                Some(&format!(
                    "{SERVICE_MONITOR_CRD}\n---\n{PROMETHEUS_RULE_CRD}"
                )),
            );
            succeed(
                cp.kubectl_cmd().args([
                    "wait",
                    "--for=condition=Established",
                    "--timeout=60s",
                    "crd/servicemonitors.monitoring.coreos.com",
                    "crd/prometheusrules.monitoring.coreos.com",
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

/// Where the chart keeps the CRDs it renders (`templates/crds.yaml`).
const CHART_CRDS: &str = "files/crds";

/// The annotation that keeps the CRDs on `helm uninstall`.
const KEEP: &str = "helm.sh/resource-policy";

/// Writes whole floating-point numbers (such as a schema's `minimum: 0.0`) as
/// integers: Helm's `fromYaml` reads every number as a float and `toYaml`
/// writes whole ones without a fraction. Integers are left alone, so that a
/// large one Helm mangled would still show.
fn whole_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64())
                && f.fract() == 0.0
                && f.abs() < 2f64.powi(53)
            {
                *value = Value::Number((f as i64).into());
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Mapping(map) => map.values_mut().for_each(whole_numbers_as_integers),
        Value::Tagged(tagged) => whole_numbers_as_integers(&mut tagged.value),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// `files/crds/` holds exactly the CRDs the operator generates, and the
/// chart renders them unchanged but for its labels and the keep annotation.
#[test]
fn chart_crds_are_the_generated_crds() {
    let regenerate =
        format!("regenerate with `cargo run -- crd --write crds --write {CHART}/{CHART_CRDS}`");
    let generated = meetings_operator::crd::all();
    assert!(!generated.is_empty(), "the operator generates no CRD");
    let dir = chart_dir().join(CHART_CRDS);
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let expected: BTreeSet<String> = generated.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        files, expected,
        "{CHART}/{CHART_CRDS}/ must hold one file per generated CRD; {regenerate}"
    );
    for (file, crd) in &generated {
        let yaml = meetings_operator::crd::to_yaml(crd).expect("CRD YAML");
        let committed = std::fs::read_to_string(dir.join(file)).expect("reading a CRD");
        assert!(
            committed == yaml,
            "{CHART}/{CHART_CRDS}/{file} is stale; {regenerate}"
        );
    }
    assert!(
        !chart_dir().join("crds").exists(),
        "{CHART}/crds/ is installed once and never upgraded by Helm; the CRDs are templates"
    );

    // Rendered: the generated CRDs plus the chart's labels and the keep
    // annotation, nothing else.
    let docs = documents(&render_offline("", &[]));
    let chart_labels = &one_of_kind(&docs, "Deployment")["metadata"]["labels"];
    let rendered = of_kind(&docs, "CustomResourceDefinition");
    assert_eq!(rendered.len(), generated.len(), "{rendered:?}");
    for (file, crd) in &generated {
        let name = crd.metadata.name.as_deref().expect("a CRD name");
        let mut doc = (*rendered
            .iter()
            .find(|d| name_of(d) == name)
            .unwrap_or_else(|| panic!("{name} ({file}) is not rendered")))
        .clone();
        let metadata = doc["metadata"].as_mapping_mut().expect("metadata");
        let labels = metadata.remove("labels").expect("the chart's labels");
        assert_eq!(&labels, chart_labels, "{name}: the chart's labels");
        let annotations = metadata.remove("annotations").expect("annotations");
        assert_eq!(
            serde_yaml::to_string(&annotations).expect("YAML"),
            format!("{KEEP}: keep\n"),
            "{name}: only the keep annotation is added"
        );
        let mut generated = serde_yaml::to_value(crd).expect("a CRD as YAML");
        whole_numbers_as_integers(&mut doc);
        whole_numbers_as_integers(&mut generated);
        assert_eq!(
            doc, generated,
            "the rendered {name} differs from the generated CRD"
        );
    }

    // crds.keep=false: no annotation; crds.install=false: no CRDs.
    let docs = documents(&render_offline("crds:\n  keep: false\n", &[]));
    let rendered = of_kind(&docs, "CustomResourceDefinition");
    assert_eq!(rendered.len(), generated.len());
    for crd in rendered {
        assert!(
            crd["metadata"]["annotations"][KEEP].is_null(),
            "crds.keep=false: {} keeps {KEEP}",
            name_of(crd)
        );
        assert_eq!(
            crd["metadata"]["labels"]["app.kubernetes.io/managed-by"].as_str(),
            Some("Helm")
        );
    }
    let docs = documents(&render_offline("crds:\n  install: false\n", &[]));
    assert!(of_kind(&docs, "CustomResourceDefinition").is_empty());
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

/// The oldest Kubernetes minor the test command runs suites against: the
/// version of `k8s.io/kubernetes` in tools/kube-older/go.mod.
fn oldest_tested_minor() -> u32 {
    let go_mod = std::fs::read_to_string(support::repo_root().join("tools/kube-older/go.mod"))
        .expect("reading tools/kube-older/go.mod");
    let version = go_mod
        .lines()
        .find_map(|l| l.trim().strip_prefix("k8s.io/kubernetes v"))
        .expect("k8s.io/kubernetes in tools/kube-older/go.mod");
    version
        .split('.')
        .nth(1)
        .and_then(|m| m.split_whitespace().next())
        .and_then(|m| m.parse().ok())
        .expect("a minor version")
}

#[test]
fn chart_claims_the_kubernetes_versions_that_are_tested() {
    let chart: Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart_dir().join("Chart.yaml")).expect("reading Chart.yaml"),
    )
    .expect("Chart.yaml is YAML");
    assert_eq!(
        chart["kubeVersion"].as_str(),
        Some(format!(">=1.{}.0-0", oldest_tested_minor()).as_str()),
        "Chart.yaml kubeVersion must start at the oldest Kubernetes the tests run against"
    );
}

#[test]
fn values_schema_rejects_bad_values() {
    let home = tempfile::tempdir().expect("a temp dir");
    let cases: [(&str, &[&str]); 19] = [
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
        ("image:\n  digest: latest\n", &["/image/digest"]),
        (
            "crds:\n  install: \"yes\"\n",
            &["/crds/install", "want boolean"],
        ),
        (
            "rbac:\n  aggregateToDefaultRoles: 1\n",
            &["/rbac/aggregateToDefaultRoles", "want boolean"],
        ),
        (
            "commonLabels:\n  team: 1\n",
            &["/commonLabels/team", "want string"],
        ),
        ("extraArgs: [1]\n", &["/extraArgs/0", "want string"]),
        (
            "topologySpreadConstraints:\n  - maxSkew: 1\n",
            &["/topologySpreadConstraints/0", "topologyKey"],
        ),
        ("caBundle:\n  secret: Corporate_CA\n", &["/caBundle/secret"]),
        (
            "metrics:\n  prometheusRule:\n    enabled: \"yes\"\n",
            &["/metrics/prometheusRule/enabled", "want boolean"],
        ),
        (
            "metrics:\n  prometheusRule:\n    namespace: Monitoring\n",
            &["/metrics/prometheusRule/namespace"],
        ),
        (
            "metrics:\n  grafanaDashboard:\n    labels:\n      grafana_dashboard: 1\n",
            &[
                "/metrics/grafanaDashboard/labels/grafana_dashboard",
                "want string",
            ],
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
        (
            "caBundle:\n  configMap: a\n  secret: b\n",
            "caBundle: set either configMap or secret, not both",
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

/// The labels that aggregate a ClusterRole into the built-in `view`, `edit`
/// and `admin` ClusterRoles.
const AGGREGATE_TO: [&str; 3] = [
    "rbac.authorization.k8s.io/aggregate-to-view",
    "rbac.authorization.k8s.io/aggregate-to-edit",
    "rbac.authorization.k8s.io/aggregate-to-admin",
];

/// Which of the built-in roles (`view`, `edit`, `admin`) a ClusterRole is
/// aggregated into.
fn aggregated_into(role: &Value) -> BTreeSet<&'static str> {
    AGGREGATE_TO
        .iter()
        .filter(|label| role["metadata"]["labels"][**label].as_str() == Some("true"))
        .map(|label| label.rsplit('-').next().expect("a role name"))
        .collect()
}

/// The operator's own ClusterRoles: not the tenant roles aggregated into
/// the built-in ones.
fn operator_cluster_roles(docs: &[Value]) -> Vec<&Value> {
    of_kind(docs, "ClusterRole")
        .into_iter()
        .filter(|r| aggregated_into(r).is_empty())
        .collect()
}

const ROOMS_AND_THEMES: [&str; 2] = ["meetingrooms", "meetingthemes"];

/// What tenants bound to `view` get on MeetingRooms and MeetingThemes.
fn tenant_view_grants() -> BTreeSet<(String, String, String, String)> {
    grants_of(&[
        (
            "meetings.vonage.com",
            "meetingrooms",
            &["get", "list", "watch"],
        ),
        (
            "meetings.vonage.com",
            "meetingthemes",
            &["get", "list", "watch"],
        ),
        (
            "meetings.vonage.com",
            "meetingrooms/status",
            &["get", "list", "watch"],
        ),
        (
            "meetings.vonage.com",
            "meetingthemes/status",
            &["get", "list", "watch"],
        ),
    ])
}

/// What `edit` and `admin` add to that.
fn tenant_edit_grants() -> BTreeSet<(String, String, String, String)> {
    let verbs: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
    grants_of(&[
        ("meetings.vonage.com", "meetingrooms", verbs),
        ("meetings.vonage.com", "meetingthemes", verbs),
    ])
}

#[test]
fn tenant_roles_aggregate_into_the_default_roles() {
    for (name, values) in VALUE_SETS {
        let docs = documents(&render_offline(values, &[]));
        let tenant: Vec<&Value> = of_kind(&docs, "ClusterRole")
            .into_iter()
            .filter(|r| !aggregated_into(r).is_empty())
            .collect();
        assert_eq!(tenant.len(), 2, "{name}: {tenant:?}");
        let view = tenant
            .iter()
            .find(|r| name_of(r) == "meetings-meetings-operator-operators-view")
            .unwrap_or_else(|| panic!("{name}: no view role in {tenant:?}"));
        assert_eq!(
            aggregated_into(view),
            BTreeSet::from(["view", "edit", "admin"])
        );
        assert_eq!(rule_grants(view), tenant_view_grants(), "{name}");
        let edit = tenant
            .iter()
            .find(|r| name_of(r) == "meetings-meetings-operator-operators-edit")
            .unwrap_or_else(|| panic!("{name}: no edit role in {tenant:?}"));
        assert_eq!(aggregated_into(edit), BTreeSet::from(["edit", "admin"]));
        assert_eq!(rule_grants(edit), tenant_edit_grants(), "{name}");
    }
    let docs = documents(&render_offline(
        "rbac:\n  aggregateToDefaultRoles: false\n",
        &[],
    ));
    let cluster_roles = of_kind(&docs, "ClusterRole");
    assert_eq!(cluster_roles.len(), 1, "{cluster_roles:?}");
    assert!(aggregated_into(cluster_roles[0]).is_empty());
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
    let cluster_roles = operator_cluster_roles(&docs);
    assert_eq!(cluster_roles.len(), 1, "{cluster_roles:?}");
    assert_eq!(rule_grants(cluster_roles[0]), operator_grants());
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
    assert!(operator_cluster_roles(&docs).is_empty());
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
    // The leader routes the callbacks Service to itself: its EndpointSlice,
    // owned by the Service.
    release_ns.insert((
        String::new(),
        "services".into(),
        "get".into(),
        "meetings-meetings-operator-callbacks".into(),
    ));
    release_ns.extend(grants_of(&[(
        "discovery.k8s.io",
        "endpointslices",
        &["create"],
    )]));
    for verb in ["get", "patch", "update"] {
        release_ns.insert((
            "discovery.k8s.io".into(),
            "endpointslices".into(),
            verb.into(),
            "meetings-meetings-operator-callbacks-leader".into(),
        ));
    }
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
        "PrometheusRule",
        "ConfigMap",
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
    assert_eq!(
        pod_labels["example.com/cost-center"].as_str(),
        Some("video")
    );
    // commonLabels on every object; the chart's own labels win.
    for doc in &docs {
        let labels = &doc["metadata"]["labels"];
        let what = format!("{} {}", kind_of(doc), name_of(doc));
        assert_eq!(
            labels["example.com/cost-center"].as_str(),
            Some("video"),
            "{what}"
        );
        assert!(
            labels["app.kubernetes.io/name"]
                .as_str()
                .is_some_and(|n| n.starts_with("meetings-operator")),
            "{what}: {labels:?}"
        );
    }
    assert_eq!(
        pod_labels["app.kubernetes.io/name"].as_str(),
        Some("meetings-operator")
    );
    // The callbacks Service, port and NetworkPolicy rule.
    let callbacks = of_kind(&docs, "Service")
        .into_iter()
        .find(|s| name_of(s) == "meetings-meetings-operator-callbacks")
        .expect("the callbacks Service");
    assert_eq!(callbacks["spec"]["ports"][0]["port"].as_u64(), Some(8443));
    assert_eq!(
        callbacks["spec"]["ports"][0]["name"].as_str(),
        Some("callbacks")
    );
    // No selector: the leader points the Service's EndpointSlice at itself.
    assert!(callbacks["spec"]["selector"].is_null(), "{callbacks:?}");
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

    // The image by digest; the version label still names the tag.
    let deployment = one_of_kind(&docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"].as_str(),
        Some(
            "registry.example.com/meetings-operator@sha256:\
             4b825dc642cb6eb9a060e54bf8d69288fbee4904c1bd7d2b8a4e2b9cd1f3e6a0"
        )
    );
    assert_eq!(
        deployment["metadata"]["labels"]["app.kubernetes.io/version"].as_str(),
        Some("0.1.0")
    );
    // extraArgs after the chart's arguments.
    assert_eq!(
        args[args.len() - 2..],
        ["--lease-duration=30s", "--lease-renew-deadline=20s"]
    );
    // extraEnv after the chart's variables, SSL_CERT_FILE at the CA bundle.
    let env = container["env"].as_sequence().expect("env");
    let names: Vec<&str> = env
        .iter()
        .map(|e| e["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(
        names,
        [
            "RUST_LOG",
            "POD_NAME",
            "POD_NAMESPACE",
            "POD_IP",
            "SSL_CERT_FILE",
            "TZ",
            "HTTPS_PROXY"
        ]
    );
    assert_eq!(
        env[3]["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("status.podIP")
    );
    assert_eq!(env[5]["value"].as_str(), Some("UTC"));
    assert_eq!(
        env[6]["valueFrom"]["secretKeyRef"]["name"].as_str(),
        Some("egress-proxy")
    );
    let cert_file = env[4]["value"].as_str().expect("SSL_CERT_FILE");
    // The CA bundle, read-only, and the extra volume.
    let mounts = container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts");
    let mount = |name: &str| {
        mounts
            .iter()
            .find(|m| m["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no mount {name}: {mounts:?}"))
    };
    let ca_mount = mount("ca-bundle");
    assert_eq!(ca_mount["readOnly"].as_bool(), Some(true));
    assert_eq!(mount("scratch")["mountPath"].as_str(), Some("/scratch"));
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no volume {name}: {volumes:?}"))
    };
    let ca = &volume("ca-bundle")["configMap"];
    assert_eq!(ca["name"].as_str(), Some("corporate-ca"));
    assert_eq!(ca["items"][0]["key"].as_str(), Some("bundle.pem"));
    assert_eq!(
        cert_file,
        format!(
            "{}/{}",
            ca_mount["mountPath"].as_str().expect("a mount path"),
            ca["items"][0]["path"].as_str().expect("a path")
        )
    );
    assert_eq!(
        volume("scratch")["emptyDir"]["sizeLimit"].as_str(),
        Some("16Mi")
    );
    // The pod's security settings are not loosened by any of it.
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
    // A spread constraint without a labelSelector spreads the operator's pods.
    let spread = pod["topologySpreadConstraints"]
        .as_sequence()
        .expect("topologySpreadConstraints");
    assert_eq!(spread.len(), 2);
    assert_eq!(
        spread[0]["labelSelector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(
        spread[0]["topologyKey"].as_str(),
        Some("topology.kubernetes.io/zone")
    );
    let own = spread[1]["labelSelector"]["matchLabels"]
        .as_mapping()
        .expect("matchLabels");
    assert_eq!(own.len(), 1, "a given labelSelector is kept: {own:?}");

    // The CA bundle from a Secret, key ca.crt by default.
    let docs = documents(&render_offline("caBundle:\n  secret: corporate-ca\n", &[]));
    let pod = &one_of_kind(&docs, "Deployment")["spec"]["template"]["spec"];
    let ca = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["name"].as_str() == Some("ca-bundle"))
        .expect("the ca-bundle volume");
    assert!(ca["configMap"].is_null());
    assert_eq!(ca["secret"]["secretName"].as_str(), Some("corporate-ca"));
    assert_eq!(ca["secret"]["items"][0]["key"].as_str(), Some("ca.crt"));
    assert!(
        pod["containers"][0]["env"]
            .as_sequence()
            .expect("env")
            .iter()
            .any(|e| e["name"].as_str() == Some("SSL_CERT_FILE"))
    );

    // An existing Secret is referenced, not created; no leader election.
    let docs = documents(&render_offline(CLUSTER_WIDE, &[]));
    assert!(of_kind(&docs, "Secret").is_empty());
    let args = operator_args(&docs);
    assert!(args.contains(&"--default-credentials=operators/meetings-credentials".to_owned()));
    assert!(args.contains(&"--leader-election=false".to_owned()));
    assert!(!args.contains(&"--log-json".to_owned()));

    // The helm test hook fetches /readyz through the metrics Service with
    // the operator's own image and is not selected by it.
    let docs = documents(&render_offline("", &[]));
    let test_pod = docs
        .iter()
        .find(|d| kind_of(d) == "Pod")
        .expect("the helm test Pod");
    assert_eq!(
        test_pod["metadata"]["annotations"]["helm.sh/hook"].as_str(),
        Some("test")
    );
    let test_container = &test_pod["spec"]["containers"][0];
    assert_eq!(
        test_container["image"],
        docs.iter()
            .find(|d| kind_of(d) == "Deployment")
            .expect("the Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    );
    let args = strings(&test_container["args"]);
    assert_eq!(args.first().map(String::as_str), Some("probe"));
    assert_eq!(
        args.last().map(String::as_str),
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

/// The alerts of the chart's PrometheusRule, in order.
const ALERTS: [&str; 7] = [
    "MeetingsOperatorObjectsNotReady",
    "MeetingsOperatorObjectsStalled",
    "MeetingsOperatorApiErrors",
    "MeetingsOperatorApiRateLimited",
    "MeetingsOperatorRateLimiterSaturated",
    "MeetingsOperatorNoLeader",
    "MeetingsOperatorReconcileErrors",
];

/// The key of the dashboard in the rendered ConfigMap.
const DASHBOARD_KEY: &str = "meetings-operator.json";

/// The rules of every group of a rendered PrometheusRule.
fn alert_rules(rule: &Value) -> Vec<&Value> {
    rule["spec"]["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules"))
        .collect()
}

fn dashboard_text(config_map: &Value) -> &str {
    config_map["data"][DASHBOARD_KEY]
        .as_str()
        .unwrap_or_else(|| panic!("no {DASHBOARD_KEY} in {config_map:?}"))
}

#[test]
fn alerts_and_dashboard_follow_the_values() {
    let docs = documents(&render_offline(REPRESENTATIVE, &[]));
    let chart_labels = one_of_kind(&docs, "Deployment")["metadata"]["labels"]
        .as_mapping()
        .expect("labels")
        .clone();

    let rule = one_of_kind(&docs, "PrometheusRule");
    assert_eq!(
        rule["apiVersion"].as_str(),
        Some("monitoring.coreos.com/v1")
    );
    assert_eq!(name_of(rule), "meetings-meetings-operator");
    assert_eq!(rule["metadata"]["namespace"].as_str(), Some("operators"));
    let labels = &rule["metadata"]["labels"];
    assert_eq!(labels["release"].as_str(), Some("prometheus"));
    for (key, value) in &chart_labels {
        assert_eq!(&labels[key], value, "PrometheusRule label {key:?}");
    }
    let rules = alert_rules(rule);
    let names: Vec<&str> = rules
        .iter()
        .map(|r| r["alert"].as_str().expect("an alert name"))
        .collect();
    assert_eq!(names, ALERTS);
    // The README sections the annotations send readers to.
    let readme = std::fs::read_to_string(support::repo_root().join("README.md")).expect("README");
    for heading in [
        "\n## Health in Flux, Argo CD and kubectl\n",
        "\n### Troubleshooting: condition reasons\n",
    ] {
        assert!(readme.contains(heading), "README.md lacks {heading:?}");
    }
    for rule in &rules {
        let name = rule["alert"].as_str().unwrap_or_default();
        let severity = rule["labels"]["severity"].as_str();
        let expected = if name == "MeetingsOperatorNoLeader" {
            "critical"
        } else {
            "warning"
        };
        assert_eq!(severity, Some(expected), "{name}: severity");
        assert!(rule["for"].as_str().is_some(), "{name}: no `for`");
        let annotations = rule["annotations"].as_mapping().expect("annotations");
        let keys: BTreeSet<&str> = annotations
            .keys()
            .map(|k| k.as_str().expect("a string key"))
            .collect();
        assert_eq!(keys, BTreeSet::from(["summary", "description"]), "{name}");
        let description = rule["annotations"]["description"]
            .as_str()
            .expect("a description");
        if matches!(
            name,
            "MeetingsOperatorObjectsNotReady"
                | "MeetingsOperatorObjectsStalled"
                | "MeetingsOperatorReconcileErrors"
        ) {
            assert!(
                description.contains(
                    "\"Troubleshooting: condition reasons\" (section \"Health in Flux, Argo CD and kubectl\")"
                ),
                "{name}: {description}"
            );
        }
    }

    let dashboard = one_of_kind(&docs, "ConfigMap");
    assert_eq!(name_of(dashboard), "meetings-meetings-operator-dashboard");
    assert_eq!(
        dashboard["metadata"]["namespace"].as_str(),
        Some("operators")
    );
    let labels = &dashboard["metadata"]["labels"];
    assert_eq!(labels["grafana_dashboard"].as_str(), Some("1"));
    for (key, value) in &chart_labels {
        assert_eq!(&labels[key], value, "dashboard ConfigMap label {key:?}");
    }
    assert_eq!(
        dashboard["metadata"]["annotations"]["grafana_folder"].as_str(),
        Some("Operators")
    );
    // The chart's file, unchanged.
    let json: serde_json::Value =
        serde_json::from_str(dashboard_text(dashboard)).expect("the dashboard is JSON");
    let file = chart_dir().join("files/grafana-dashboard.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("reading the dashboard"))
            .expect("files/grafana-dashboard.json is JSON");
    assert_eq!(json, committed);
    assert_eq!(json["uid"], "meetings-operator");
    let panels = json["panels"].as_array().expect("panels");
    let titles: BTreeSet<&str> = panels
        .iter()
        .map(|p| p["title"].as_str().expect("a title"))
        .collect();
    for title in [
        "Objects by condition",
        "Reconcile outcomes by reason",
        "Reconcile errors by reason",
        "Reconcile duration p90",
        "API requests by status",
        "API latency p90 by operation",
        "Rate-limiter wait",
        "Leader",
        "Callbacks by event and result",
    ] {
        assert!(titles.contains(title), "no panel {title:?}: {titles:?}");
    }
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{}: no query", panel["title"]);
        for target in targets {
            assert_eq!(target["datasource"]["uid"], "${datasource}");
            assert!(
                target["expr"]
                    .as_str()
                    .is_some_and(|e| e.contains("namespace=~\"$namespace\"")),
                "{}: {target}",
                panel["title"]
            );
        }
    }

    // Namespaces of their own; the chart's labels win over the values', and
    // the sidecar's default label can be dropped.
    let docs = documents(&render_offline(
        "metrics:\n  prometheusRule:\n    enabled: true\n    namespace: monitoring\n    labels:\n      \
         app.kubernetes.io/name: mine\n  grafanaDashboard:\n    enabled: true\n    namespace: grafana\n    \
         labels:\n      grafana_dashboard: null\n      dashboards: meetings\n",
        &[],
    ));
    let rule = one_of_kind(&docs, "PrometheusRule");
    assert_eq!(rule["metadata"]["namespace"].as_str(), Some("monitoring"));
    assert_eq!(
        rule["metadata"]["labels"]["app.kubernetes.io/name"].as_str(),
        Some("meetings-operator")
    );
    let dashboard = one_of_kind(&docs, "ConfigMap");
    assert_eq!(dashboard["metadata"]["namespace"].as_str(), Some("grafana"));
    let labels = &dashboard["metadata"]["labels"];
    assert!(labels["grafana_dashboard"].is_null(), "{labels:?}");
    assert_eq!(labels["dashboards"].as_str(), Some("meetings"));
    assert!(dashboard["metadata"]["annotations"].is_null());
}

/// The `meetings_operator_*` names in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    const PREFIX: &str = "meetings_operator_";
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// The operator's metrics as it serves them, with a value recorded in every
/// family (a labelled family shows once it has a series).
fn exposition() -> String {
    use meetings_operator::meetings::{ApiObserver, Outcome};
    use meetings_operator::telemetry::{KIND_ROOM, Metrics};

    let metrics = Metrics::new();
    metrics.reconcile_finished(KIND_ROOM, Some("ServerError"), Duration::from_millis(5));
    metrics.reconcile_outcome(KIND_ROOM, "stalled", "Rejected");
    metrics.request_finished("createRoom", Outcome::Status(503), Duration::from_millis(5));
    metrics.rate_limit_waited(Duration::from_millis(5));
    metrics.set_leader(true);
    metrics.callback_handled("session:started", "applied");
    metrics.render().expect("the metrics render")
}

/// The family a sample name belongs to, given the families' types: a gauge
/// by its own name, a counter with `_total`, a histogram with `_bucket`,
/// `_sum` or `_count`.
fn family_of<'f>(name: &str, families: &BTreeMap<&'f str, &str>) -> Option<&'f str> {
    let of_type = |family: &str, kind: &str| {
        families
            .get_key_value(family)
            .filter(|(_, t)| **t == kind)
            .map(|(f, _)| *f)
    };
    of_type(name, "gauge").or_else(|| {
        [
            ("_total", "counter"),
            ("_bucket", "histogram"),
            ("_sum", "histogram"),
            ("_count", "histogram"),
        ]
        .into_iter()
        .find_map(|(suffix, kind)| of_type(name.strip_suffix(suffix)?, kind))
    })
}

/// Every metric the alerts (expressions and annotations) and the dashboard's
/// queries name is one the operator exposes, with the suffix its type gives
/// its samples; the dashboard shows every family.
#[test]
fn alerts_and_dashboard_use_only_the_operators_metrics() {
    let text = exposition();
    let families: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let samples: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    assert!(families.len() >= 10, "{text}");

    let docs = documents(&render_offline(REPRESENTATIVE, &[]));
    let rule = one_of_kind(&docs, "PrometheusRule");
    let rules = serde_yaml::to_string(&rule["spec"]).expect("YAML");
    let expressions: Vec<&str> = alert_rules(rule)
        .iter()
        .map(|r| r["expr"].as_str().expect("an expression"))
        .collect();
    let dashboard = dashboard_text(one_of_kind(&docs, "ConfigMap"));
    for (what, used) in [
        (
            "the alerts' expressions",
            metric_names(&expressions.join("\n")),
        ),
        ("the PrometheusRule", metric_names(&rules)),
        ("the dashboard", metric_names(dashboard)),
    ] {
        assert!(!used.is_empty(), "{what} name no metric");
        for name in &used {
            let family = family_of(name, &families).unwrap_or_else(|| {
                panic!("{what} use {name}, not a metric the operator exposes:\n{text}")
            });
            assert!(
                samples.contains(name.as_str()),
                "{what} use {name} (family {family}), which the operator never serves:\n{text}"
            );
        }
    }
    let shown: BTreeSet<&str> = metric_names(dashboard)
        .iter()
        .filter_map(|n| family_of(n, &families))
        .collect();
    let all: BTreeSet<&str> = families.keys().copied().collect();
    assert_eq!(shown, all, "the dashboard shows every family");
}

/// `promtool check rules` on the groups of the rendered PrometheusRule, its
/// linter's findings fatal: PromQL, durations, labels and the annotations'
/// templates. A broken rule fails, so the check is real.
#[test]
fn promtool_checks_the_alerting_rules() {
    let promtool = support::tools_dir()
        .unwrap_or_else(|e| panic!("{e}"))
        .join("promtool");
    let check = |groups: &str| {
        let file = temp_file("rules.yaml", groups);
        output(
            Command::new(&promtool)
                .args(["check", "rules", "--lint=all", "--lint-fatal"])
                .arg(&file.path),
            None,
        )
    };

    let docs = documents(&render_offline(REPRESENTATIVE, &[]));
    let rule = one_of_kind(&docs, "PrometheusRule");
    let groups = serde_yaml::to_string(&rule["spec"]).expect("YAML");
    assert!(groups.starts_with("groups:"), "{groups}");
    let out = check(&groups);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "promtool check rules failed ({}):\n{stdout}{stderr}\nrules:\n{groups}",
        out.status
    );
    let count = alert_rules(rule).len();
    assert!(
        stdout.contains(&format!("SUCCESS: {count} rules found")),
        "{stdout}{stderr}"
    );

    let broken = "groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        \
                  expr: sum(rate(meetings_operator_leader[5m])\n";
    let out = check(broken);
    assert!(
        !out.status.success(),
        "promtool accepted a broken expression:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `kubectl apply --dry-run=server` of everything the chart renders
/// (including the `helm test` hook) for each value set, so that the API
/// server validates every object.
#[tokio::test]
async fn rendered_manifests_pass_a_server_side_dry_run() {
    let cp = control_plane().await;
    monitoring_crds(cp).await;
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
/// them. The CRDs are the control plane's, installed before any release, as
/// with a second release of the chart in a cluster: `crds.install=false`
/// (`helm_upgrade_updates_the_crds_and_uninstall_keeps_them` installs them
/// with the chart).
#[tokio::test]
async fn helm_install_upgrade_and_uninstall() {
    let cp = control_plane().await;
    let client = cp.client().await;
    let ns = cp.new_namespace("chart-install").await;

    let out = succeed(
        cp.helm_cmd()
            .args(["install", "meetings"])
            .arg(chart_dir())
            .args(["--namespace", &ns, "--timeout", "60s"])
            .args(["--set", "crds.install=false"]),
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
            .args(["--namespace", &other, "--set", "crds.install=false"]),
        None,
    );
    cluster_roles
        .get(&format!("{fullname}-{other}"))
        .await
        .expect("the second release's ClusterRole");

    // Upgrade to the representative values: watched namespaces instead of
    // cluster-wide access, chart-managed credentials, two replicas.
    monitoring_crds(cp).await;
    let team_a = cp.new_namespace("chart-install-a").await;
    let team_b = cp.new_namespace("chart-install-b").await;
    let values = temp_file("values.yaml", REPRESENTATIVE);
    succeed(
        cp.helm_cmd()
            .args(["upgrade", "meetings"])
            .arg(chart_dir())
            .args(["--namespace", &ns, "--values"])
            .arg(&values.path)
            .args(["--set", &format!("watchNamespaces={{{team_a},{team_b}}}")])
            .args(["--set", "crds.install=false"]),
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
    Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .get(&format!("{fullname}-dashboard"))
        .await
        .expect("the Grafana dashboard ConfigMap");
    succeed(
        cp.kubectl_cmd()
            .args(["get", "prometheusrule", fullname, "--namespace", &ns]),
        None,
    );
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

    // Uninstall removes the release's objects; the CRDs were not the
    // release's.
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

/// Tests that change the served schema of the project's CRDs hold this for
/// writing; tests that store MeetingRooms or MeetingThemes hold it for
/// reading, so that none of their fields is pruned meanwhile.
static CRD_SCHEMA: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The MeetingRoom spec property that an older chart's CRD lacks in
/// `helm_upgrade_updates_the_crds_and_uninstall_keeps_them`.
const ADDED_PROPERTY: &str = "joinApprovalLevel";

/// The MeetingRoom CRD without [`ADDED_PROPERTY`] in any version.
fn without_added_property(mut crd: serde_json::Value) -> serde_json::Value {
    for version in crd["spec"]["versions"].as_array_mut().expect("versions") {
        let properties = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
            .as_object_mut()
            .expect("spec properties");
        assert!(
            properties.remove(ADDED_PROPERTY).is_some(),
            "the MeetingRoom CRD has no spec.{ADDED_PROPERTY}"
        );
    }
    crd
}

/// Whether every version of the served MeetingRoom CRD has
/// [`ADDED_PROPERTY`].
fn has_added_property(crd: &CustomResourceDefinition) -> bool {
    crd.spec.versions.iter().all(|v| {
        v.schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| s.properties.as_ref())
            .and_then(|p| p.get("spec"))
            .and_then(|s| s.properties.as_ref())
            .is_some_and(|p| p.contains_key(ADDED_PROPERTY))
    })
}

/// Whether the API server keeps `spec.joinApprovalLevel` of a MeetingRoom
/// (server-side dry run): fields the served schema lacks are pruned.
fn room_keeps_added_property(cp: &support::ControlPlane, namespace: &str) -> bool {
    let room = serde_json::json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": "pruning", "namespace": namespace},
        "spec": {"displayName": "Pruning", ADDED_PROPERTY: "explicit_approval"}
    });
    let out = succeed(
        cp.kubectl_cmd().args([
            "create",
            "--dry-run=server",
            "--validate=false",
            "-o",
            "json",
            "-f",
            "-",
        ]),
        Some(&room.to_string()),
    );
    let created: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    created["spec"][ADDED_PROPERTY] == "explicit_approval"
}

/// Puts the project's CRDs back as the control plane installed them, even
/// when the test that changed them fails.
struct RestoreCrds<'a>(&'a support::ControlPlane);

impl Drop for RestoreCrds<'_> {
    fn drop(&mut self) {
        let out = self
            .0
            .kubectl_cmd()
            .args(["apply", "--server-side", "--force-conflicts", "-f"])
            .arg(self.0.repo_root().join("crds"))
            .output();
        match out {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "restoring the CRDs failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("restoring the CRDs: {e}"),
        }
    }
}

/// A copy of the chart whose MeetingRoom CRD lacks [`ADDED_PROPERTY`]: the
/// previous chart version, as far as the CRDs go.
fn previous_chart() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("creating a directory");
        for entry in std::fs::read_dir(from).expect("reading the chart") {
            let entry = entry.expect("a directory entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("a file type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).expect("copying a chart file");
            }
        }
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    copy(&chart_dir(), dir.path());
    let file = dir.path().join(CHART_CRDS).join("meetingrooms.yaml");
    let crd: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&file).expect("reading the CRD"))
            .expect("CRD YAML");
    let old = serde_yaml::to_string(&without_added_property(crd)).expect("YAML");
    std::fs::write(&file, old).expect("writing the CRD");
    dir
}

/// The CRDs are the chart's templates: a release adopts CRDs an older chart
/// installed (they carry no Helm ownership, so only with
/// `--take-ownership`), `helm upgrade` brings in a newer schema, and `helm
/// uninstall` keeps the CRDs (`crds.keep`) and every object. The CRDs are
/// shared by every test of this binary: the changed schema only lacks a
/// property no other test uses, and the CRDs are put back at the end.
#[tokio::test]
async fn helm_upgrade_updates_the_crds_and_uninstall_keeps_them() {
    let cp = control_plane().await;
    let client = cp.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let ns = cp.new_namespace("chart-crds").await;
    let rooms_crd = "meetingrooms.meetings.vonage.com";
    let _schema = CRD_SCHEMA.write().await;
    let _restore = RestoreCrds(cp);

    // The CRDs as the previous chart's crds/ left them: no Helm ownership,
    // an older MeetingRoom schema.
    let live = crds.get(rooms_crd).await.expect("the MeetingRoom CRD");
    let file = chart_dir().join(CHART_CRDS).join("meetingrooms.yaml");
    let mut old = without_added_property(
        serde_yaml::from_str(&std::fs::read_to_string(&file).expect("reading the CRD"))
            .expect("CRD YAML"),
    );
    old["metadata"]["resourceVersion"] = live.resource_version().into();
    let old: CustomResourceDefinition = serde_json::from_value(old).expect("a CRD");
    crds.replace(rooms_crd, &Default::default(), &old)
        .await
        .expect("replacing the MeetingRoom CRD");
    eventually("the older schema to be served", TIMEOUT, || async {
        (!room_keeps_added_property(cp, &ns)).then_some(())
    })
    .await;

    // Helm does not take over objects it did not create on its own...
    let err = fail(
        cp.helm_cmd()
            .args(["upgrade", "--install", "meetings"])
            .arg(chart_dir())
            .args(["--namespace", &ns, "--timeout", "60s"]),
    );
    assert!(
        err.contains(rooms_crd) && err.contains("cannot be imported into the current release"),
        "{err}"
    );
    // ...but with --take-ownership (here the previous chart version).
    let previous = previous_chart();
    succeed(
        cp.helm_cmd()
            .args(["upgrade", "--install", "meetings"])
            .arg(previous.path())
            .args(["--namespace", &ns, "--timeout", "60s", "--take-ownership"]),
        None,
    );
    let crd = crds.get(rooms_crd).await.expect("the MeetingRoom CRD");
    assert!(!has_added_property(&crd));
    assert_eq!(
        crd.annotations()
            .get("meta.helm.sh/release-namespace")
            .map(String::as_str),
        Some(ns.as_str()),
        "the release owns the CRD"
    );

    // `helm upgrade` to this chart updates the CRD, and the API server
    // serves the new schema.
    succeed(
        cp.helm_cmd()
            .args(["upgrade", "meetings"])
            .arg(chart_dir())
            .args(["--namespace", &ns, "--timeout", "60s"]),
        None,
    );
    let crd = crds.get(rooms_crd).await.expect("the MeetingRoom CRD");
    assert!(
        has_added_property(&crd),
        "helm upgrade did not update the CRD"
    );
    assert_eq!(
        crd.annotations().get(KEEP).map(String::as_str),
        Some("keep")
    );
    assert_eq!(
        crd.labels()
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("Helm")
    );
    eventually("the new schema to be served", TIMEOUT, || async {
        room_keeps_added_property(cp, &ns).then_some(())
    })
    .await;

    // Objects of both kinds, created without the operator.
    let objects = serde_json::json!({
        "apiVersion": "v1", "kind": "List",
        "items": [
            {
                "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
                "metadata": {"name": "brand", "namespace": ns},
                "spec": {
                    "mainColor": "#0a66c2", "brandText": "Example",
                    "shortCompanyUrl": format!("ex-{ns}")
                }
            },
            {
                "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
                "metadata": {"name": "standup", "namespace": ns},
                "spec": {
                    "displayName": "Stand-up", "themeRef": {"name": "brand"},
                    ADDED_PROPERTY: "explicit_approval"
                }
            }
        ]
    });
    succeed(
        cp.kubectl_cmd().args(["create", "-f", "-"]),
        Some(&objects.to_string()),
    );

    // Uninstall keeps the CRDs (crds.keep) and so the objects.
    let out = succeed(
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
    assert!(out.contains("kept due to the resource policy"), "{out}");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    eventually("the Deployment to be removed", TIMEOUT, || {
        let deployments = deployments.clone();
        async move {
            deployments
                .get_opt("meetings-meetings-operator")
                .await
                .ok()?
                .is_none()
                .then_some(())
        }
    })
    .await;
    for name in cp.project_crds() {
        let crd = crds
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("CRD {name} after helm uninstall: {e}"));
        assert!(
            crd.metadata.deletion_timestamp.is_none(),
            "{name} is being deleted"
        );
    }
    let rooms: Api<meetings_operator::crd::MeetingRoom> = Api::namespaced(client.clone(), &ns);
    let themes: Api<meetings_operator::crd::MeetingTheme> = Api::namespaced(client.clone(), &ns);
    let room = rooms
        .get("standup")
        .await
        .expect("the MeetingRoom after helm uninstall");
    assert!(room.metadata.deletion_timestamp.is_none());
    themes
        .get("brand")
        .await
        .expect("the MeetingTheme after helm uninstall");
    let delete = kube::api::DeleteParams::default();
    rooms
        .delete("standup", &delete)
        .await
        .expect("deleting the room");
    themes
        .delete("brand", &delete)
        .await
        .expect("deleting the theme");
}

/// Tenants bound to the built-in `edit` or `view` ClusterRole in their
/// namespace manage, or read, MeetingRooms and MeetingThemes there: the
/// chart's ClusterRoles are aggregated into the built-in ones by
/// kube-controller-manager's clusterrole-aggregation controller. Checked
/// with SubjectAccessReviews and with requests made with the
/// ServiceAccounts' tokens.
#[tokio::test]
async fn tenants_use_meetings_through_the_default_roles() {
    use meetings_operator::crd::{MeetingRoom, MeetingTheme};

    let cp = control_plane().await;
    let _schema = CRD_SCHEMA.read().await;
    let admin = cp.client().await;
    let release_ns = cp.new_namespace("chart-tenants").await;
    let team = cp.new_namespace("chart-tenants-team").await;
    let elsewhere = cp.new_namespace("chart-tenants-elsewhere").await;

    // The chart's tenant ClusterRoles only.
    let docs = documents(&render(
        &mut cp.helm_cmd(),
        "meetings",
        &release_ns,
        "",
        &[],
    ));
    let mut yaml = String::new();
    for role in of_kind(&docs, "ClusterRole") {
        if !aggregated_into(role).is_empty() {
            yaml.push_str("---\n");
            yaml.push_str(&serde_yaml::to_string(role).expect("YAML"));
        }
    }
    succeed(
        cp.kubectl_cmd().args(["apply", "--server-side", "-f", "-"]),
        Some(&yaml),
    );

    // The aggregation controller copies their rules into the built-in roles.
    let cluster_roles: Api<ClusterRole> = Api::all(admin.clone());
    let mut edit_grants = tenant_view_grants();
    edit_grants.extend(tenant_edit_grants());
    for (role, wanted) in [
        ("view", tenant_view_grants()),
        ("edit", edit_grants.clone()),
        ("admin", edit_grants),
    ] {
        eventually(
            &format!("the built-in {role} role to aggregate the chart's rules"),
            TIMEOUT,
            || {
                let cluster_roles = cluster_roles.clone();
                let wanted = wanted.clone();
                async move {
                    let role = cluster_roles.get(role).await.ok()?;
                    let grants = rule_grants(&serde_yaml::to_value(&role).ok()?);
                    wanted.is_subset(&grants).then_some(())
                }
            },
        )
        .await;
    }

    // An editor and a viewer in the team's namespace.
    let bindings = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: editor, namespace: {team}}}\n\
         ---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: viewer, namespace: {team}}}\n\
         ---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\
         metadata: {{name: editor, namespace: {team}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}}\n\
         subjects: [{{kind: ServiceAccount, name: editor, namespace: {team}}}]\n\
         ---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\
         metadata: {{name: viewer, namespace: {team}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}\n\
         subjects: [{{kind: ServiceAccount, name: viewer, namespace: {team}}}]\n"
    );
    succeed(
        cp.kubectl_cmd().args(["apply", "--server-side", "-f", "-"]),
        Some(&bindings),
    );
    let editor = format!("system:serviceaccount:{team}:editor");
    let viewer = format!("system:serviceaccount:{team}:viewer");
    for kind in ROOMS_AND_THEMES {
        let what = format!("{kind}.meetings.vonage.com");
        for verb in [
            "get",
            "list",
            "watch",
            "create",
            "update",
            "patch",
            "delete",
            "deletecollection",
        ] {
            let reads = matches!(verb, "get" | "list" | "watch");
            assert!(
                can_i(cp, &editor, &team, verb, &what),
                "editor {verb} {what}"
            );
            assert_eq!(
                can_i(cp, &viewer, &team, verb, &what),
                reads,
                "viewer {verb} {what}"
            );
            assert!(
                !can_i(cp, &editor, &elsewhere, verb, &what),
                "editor {verb} {what} in another namespace"
            );
        }
        // Status is the operator's to write.
        let status = format!("{what}/status");
        assert!(can_i(cp, &viewer, &team, "get", &status));
        assert!(!can_i(cp, &editor, &team, "patch", &status));
        assert!(!can_i(cp, &editor, &team, "update", &status));
    }

    // The same with the ServiceAccounts' tokens.
    let as_editor = cp.service_account_client(&team, "editor").await;
    let as_viewer = cp.service_account_client(&team, "viewer").await;
    let theme: MeetingTheme = serde_json::from_value(serde_json::json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": "brand"},
        "spec": {
            "mainColor": "#0a66c2", "brandText": "Example",
            "shortCompanyUrl": format!("ex-{team}")
        }
    }))
    .expect("a MeetingTheme");
    let room: MeetingRoom = serde_json::from_value(serde_json::json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": "standup"},
        "spec": {"displayName": "Stand-up", "themeRef": {"name": "brand"}}
    }))
    .expect("a MeetingRoom");
    let post = kube::api::PostParams::default();
    let delete = kube::api::DeleteParams::default();
    let forbidden = |result: Result<_, kube::Error>, what: &str| match result {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{what}: {status:?}"),
        Ok(_) => panic!("{what} was allowed"),
        Err(e) => panic!("{what}: {e}"),
    };

    let editor_themes: Api<MeetingTheme> = Api::namespaced(as_editor.clone(), &team);
    let editor_rooms: Api<MeetingRoom> = Api::namespaced(as_editor.clone(), &team);
    editor_themes
        .create(&post, &theme)
        .await
        .expect("the editor creates a MeetingTheme");
    editor_rooms
        .create(&post, &room)
        .await
        .expect("the editor creates a MeetingRoom");
    forbidden(
        Api::<MeetingRoom>::namespaced(as_editor.clone(), &elsewhere)
            .create(&post, &room)
            .await
            .map(|_| ()),
        "the editor creating a MeetingRoom in another namespace",
    );

    let viewer_rooms: Api<MeetingRoom> = Api::namespaced(as_viewer.clone(), &team);
    let viewer_themes: Api<MeetingTheme> = Api::namespaced(as_viewer.clone(), &team);
    let listed = viewer_rooms
        .list(&Default::default())
        .await
        .expect("the viewer lists MeetingRooms");
    assert_eq!(listed.items.len(), 1);
    viewer_themes
        .get("brand")
        .await
        .expect("the viewer reads the MeetingTheme");
    let mut other_room = room.clone();
    other_room.metadata.name = Some("retro".into());
    forbidden(
        viewer_rooms.create(&post, &other_room).await.map(|_| ()),
        "the viewer creating a MeetingRoom",
    );
    forbidden(
        viewer_rooms.delete("standup", &delete).await.map(|_| ()),
        "the viewer deleting a MeetingRoom",
    );
    forbidden(
        viewer_themes.delete("brand", &delete).await.map(|_| ()),
        "the viewer deleting a MeetingTheme",
    );

    editor_rooms
        .delete("standup", &delete)
        .await
        .expect("the editor deletes the MeetingRoom");
    editor_themes
        .delete_collection(&delete, &Default::default())
        .await
        .expect("the editor deletes the MeetingThemes");
    eventually("the objects to be deleted", TIMEOUT, || {
        let rooms = editor_rooms.clone();
        let themes = editor_themes.clone();
        async move {
            let rooms = rooms.list(&Default::default()).await.ok()?;
            let themes = themes.list(&Default::default()).await.ok()?;
            (rooms.items.is_empty() && themes.items.is_empty()).then_some(())
        }
    })
    .await;
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
                // extraArgs.
                assert_eq!(args.lease_duration, Duration::from_secs(30));
                assert_eq!(args.lease_renew_deadline, Duration::from_secs(20));
                args.lease_config()
                    .validate()
                    .expect("a valid lease configuration");
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
/// SubjectAccessReview) says yes. `what` is a resource, `resource/name`, or
/// `resource/status` / `resource/finalizers` for a subresource.
fn can_i(cp: &support::ControlPlane, sa: &str, namespace: &str, verb: &str, what: &str) -> bool {
    let mut cmd = cp.kubectl_cmd();
    cmd.args(["auth", "can-i", verb]);
    match what.rsplit_once('/') {
        Some((resource, sub @ ("status" | "finalizers"))) => {
            cmd.args([resource, "--subresource", sub]);
        }
        _ => {
            cmd.arg(what);
        }
    }
    let out = output(cmd.args(["--namespace", namespace, "--as", sa]), None);
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
    use meetings_operator::crd::FINALIZER;
    use meetings_operator::crd::{MeetingRoom, MeetingTheme};
    use meetings_operator::leader::{Elector, KubeLeases};
    use meetings_simulator::{Simulator, SimulatorConfig};

    // The operator's logs, shown when the test fails.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("meetings_operator=debug")),
        )
        .try_init();
    let cp = control_plane().await;
    let _schema = CRD_SCHEMA.read().await;
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
    let operator = tokio::spawn(meetings_operator::app::run(client, options, async move {
        let _ = stopped.await;
    }));

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
