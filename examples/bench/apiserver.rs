//! The API server's side: its request counters and write latencies (from its
//! own `/metrics`), and timed plain LISTs of every MeetingRoom.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use kube::Api;
use kube::api::ListParams;
use meetings_operator::crd::MeetingRoom;

use crate::report::round;

/// `apiserver_request_total` summed by (verb, resource[/subresource]).
pub type Requests = BTreeMap<(String, String), f64>;

/// `apiserver_request_total` from the API server's `/metrics`.
pub async fn apiserver_requests(kube: &kube::Client) -> Result<Requests, String> {
    let text = metrics(kube).await?;
    Ok(by_verb_and_resource(&text, "apiserver_request_total"))
}

/// Mean duration of the API server's writes to the operator's resources, by
/// "VERB resource", since it started.
pub async fn apiserver_latencies(kube: &kube::Client) -> Result<BTreeMap<String, f64>, String> {
    Ok(write_latencies(&metrics(kube).await?))
}

/// Mean duration of the writes to the operator's resources in a `/metrics`
/// text, by "VERB resource".
fn write_latencies(text: &str) -> BTreeMap<String, f64> {
    let sums = by_verb_and_resource(text, "apiserver_request_duration_seconds_sum");
    let counts = by_verb_and_resource(text, "apiserver_request_duration_seconds_count");
    sums.iter()
        .filter(|(key, _)| is_our_write(key))
        .filter_map(|(key, sum)| {
            let count = counts.get(key).copied().filter(|count| *count > 0.0)?;
            Some((format!("{} {}", key.0, key.1), round(sum / count, 4)))
        })
        .collect()
}

/// The API server's `/metrics` text.
async fn metrics(kube: &kube::Client) -> Result<String, String> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(|e| format!("a metrics request: {e}"))?;
    kube.request_text(request)
        .await
        .map_err(|e| format!("reading the API server's metrics: {e}"))
}

/// The samples of `family` (`family{labels} value` lines), summed by
/// (verb, resource[/subresource]).
fn by_verb_and_resource(text: &str, family: &str) -> Requests {
    let mut totals = Requests::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(family).and_then(|r| r.strip_prefix('{')) else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let labels = parse_labels(labels);
        let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
        let mut resource = label("resource");
        let subresource = label("subresource");
        if !subresource.is_empty() {
            resource = format!("{resource}/{subresource}");
        }
        *totals.entry((label("verb"), resource)).or_default() += value;
    }
    totals
}

fn parse_labels(text: &str) -> HashMap<String, String> {
    let mut labels = HashMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        labels.insert(key.trim_start_matches(',').trim().to_owned(), value);
        rest = &after[end..];
    }
    labels
}

/// The requests counted from `before` to `after`.
pub fn diff(after: &Requests, before: &Requests) -> Requests {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// Writes to the resources the operator and the benchmark touch: in all
/// and by "VERB resource".
pub struct Writes {
    pub total: f64,
    pub by_kind: BTreeMap<String, f64>,
}

const WRITE_VERBS: [&str; 6] = [
    "POST",
    "PUT",
    "PATCH",
    "APPLY",
    "DELETE",
    "DELETECOLLECTION",
];
const OUR_RESOURCES: [&str; 4] = ["meetingrooms", "meetingthemes", "secrets", "events"];

fn ours(resource: &str) -> bool {
    OUR_RESOURCES.contains(&resource.split('/').next().unwrap_or(""))
}

/// A write (by verb) to one of the resources the operator and the benchmark touch.
fn is_our_write((verb, resource): &(String, String)) -> bool {
    WRITE_VERBS.contains(&verb.as_str()) && ours(resource)
}

/// Writes to the resources the operator and the benchmark touch.
pub fn writes(requests: &Requests) -> Writes {
    let by_kind: BTreeMap<String, f64> = requests
        .iter()
        .filter(|(key, _)| is_our_write(key))
        .map(|((verb, resource), v)| (format!("{verb} {resource}"), *v))
        .collect();
    Writes {
        total: by_kind.values().sum(),
        by_kind,
    }
}

/// GETs and LISTs of the resources the operator and the benchmark touch.
pub fn reads_k8s(requests: &Requests) -> BTreeMap<String, f64> {
    requests
        .iter()
        .filter(|((verb, resource), _)| matches!(verb.as_str(), "GET" | "LIST") && ours(resource))
        .map(|((verb, resource), v)| (format!("{verb} {resource}"), *v))
        .collect()
}

/// The page size of kube-runtime's watcher (the operator's reflectors).
pub const REFLECTOR_PAGE: u32 = 500;

/// Plain LISTs of every MeetingRoom from the API server.
pub struct ListTiming {
    /// As the operator's reflector lists: pages of 500, resourceVersion "0".
    pub runs: Vec<Duration>,
    pub pages: usize,
    pub items: usize,
    /// One unpaged, consistent (quorum) list.
    pub unpaged: Duration,
}

impl ListTiming {
    pub fn median(&self) -> Duration {
        let mut runs = self.runs.clone();
        runs.sort();
        runs.get(runs.len() / 2).copied().unwrap_or_default()
    }
}

/// Times three LISTs of every MeetingRoom the way kube-runtime's watcher
/// makes its initial list (the operator's reflectors use
/// `watcher::Config::default().any_semantic()`): `limit=500`,
/// `resourceVersion=0` with `NotOlderThan`, following continue tokens, each
/// page decoded into typed objects; then one unpaged consistent list.
pub async fn time_room_lists(kube: &kube::Client) -> Result<ListTiming, String> {
    let api: Api<MeetingRoom> = Api::all(kube.clone());
    let mut timing = ListTiming {
        runs: Vec::new(),
        pages: 0,
        items: 0,
        unpaged: Duration::ZERO,
    };
    for _ in 0..3 {
        let started = Instant::now();
        let (mut pages, mut items) = (0, 0);
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().match_any().limit(REFLECTOR_PAGE);
            if let Some(token) = &token {
                params = params.continue_token(token);
            }
            let page = api
                .list(&params)
                .await
                .map_err(|e| format!("listing the rooms: {e}"))?;
            pages += 1;
            items += page.items.len();
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        timing.runs.push(started.elapsed());
        (timing.pages, timing.items) = (pages, items);
    }
    let started = Instant::now();
    let all = api
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("listing the rooms: {e}"))?;
    timing.unpaged = started.elapsed();
    drop(all);
    Ok(timing)
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = r#"# HELP apiserver_request_total Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",group="meetings.vonage.com",resource="meetingrooms",scope="resource",subresource="status",verb="APPLY",version="v1alpha1"} 7
apiserver_request_total{code="409",component="apiserver",group="meetings.vonage.com",resource="meetingrooms",scope="resource",subresource="status",verb="APPLY",version="v1alpha1"} 3
apiserver_request_total{code="201",resource="events",subresource="",verb="POST"} 2
apiserver_request_total{code="200",resource="pods",subresource="",verb="LIST"} 5
apiserver_request_total_other{resource="events",subresource="",verb="POST"} 100
apiserver_request_duration_seconds_sum{resource="secrets",subresource="",verb="APPLY"} 0.5
apiserver_request_duration_seconds_count{resource="secrets",subresource="",verb="APPLY"} 4
apiserver_request_duration_seconds_sum{resource="pods",subresource="",verb="POST"} 9
apiserver_request_duration_seconds_count{resource="pods",subresource="",verb="POST"} 1
"#;

    fn key(verb: &str, resource: &str) -> (String, String) {
        (verb.to_owned(), resource.to_owned())
    }

    #[test]
    fn a_family_is_summed_by_verb_and_resource_with_its_subresource() {
        let requests = by_verb_and_resource(METRICS, "apiserver_request_total");
        assert_eq!(
            requests.get(&key("APPLY", "meetingrooms/status")),
            Some(&10.0)
        );
        assert_eq!(requests.get(&key("POST", "events")), Some(&2.0));
        assert_eq!(requests.get(&key("LIST", "pods")), Some(&5.0));
        assert_eq!(
            requests.len(),
            3,
            "a family whose name only starts alike is not counted"
        );
    }

    #[test]
    fn writes_count_only_the_resources_the_run_touches() {
        let requests = by_verb_and_resource(METRICS, "apiserver_request_total");
        let counted = writes(&requests);
        assert_eq!(counted.total, 12.0);
        assert_eq!(
            counted.by_kind.keys().collect::<Vec<_>>(),
            ["APPLY meetingrooms/status", "POST events"]
        );
        assert!(reads_k8s(&requests).is_empty(), "pods are not the run's");
    }

    #[test]
    fn write_latencies_are_means_over_the_runs_resources() {
        assert_eq!(
            write_latencies(METRICS),
            BTreeMap::from([("APPLY secrets".to_owned(), 0.125)])
        );
    }

    #[test]
    fn label_values_keep_escaped_quotes_and_commas() {
        let labels = parse_labels(r#"a="x,y",b="say \"hi\"",c="""#);
        assert_eq!(labels["a"], "x,y");
        assert_eq!(labels["b"], r#"say "hi""#);
        assert_eq!(labels["c"], "");
    }

    #[test]
    fn diff_keeps_what_grew() {
        let before = Requests::from([(key("POST", "events"), 2.0), (key("LIST", "secrets"), 1.0)]);
        let after = Requests::from([(key("POST", "events"), 5.0), (key("LIST", "secrets"), 1.0)]);
        assert_eq!(
            diff(&after, &before),
            Requests::from([(key("POST", "events"), 3.0)])
        );
    }
}
