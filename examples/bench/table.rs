//! The report as a table on standard output: every target against its
//! bound, then the figures behind them.

use serde_json::Value;

/// Prints the report's targets and figures as aligned text.
pub fn print_table(r: &Value) {
    let p = &r["parameters"];
    let c = &r["convergence"];
    let s = &r["steady_state"];
    let f = &r["footprint"];
    let u = &r["startup"];
    let n = &r["naive"];
    let h = &r["harness"];
    let num = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let slashed = |values: &[&Value]| {
        values
            .iter()
            .map(|v| num(v))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let map = |v: &Value| {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k} {}", num(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "none".to_owned())
    };
    println!(
        "\nmeetings-operator benchmark ({} build): {} rooms in {} namespaces, {} themes; API latency {} ms, \
         server limit {}/s (burst {}), client {}/s (burst {}), page size {}, resync {} s, concurrency {}, {} CPUs",
        num(&r["build"]),
        num(&p["rooms"]),
        num(&p["namespaces"]),
        num(&p["themes"]),
        num(&p["latency_ms"]),
        num(&p["server_rate_per_s"]),
        num(&p["server_burst"]),
        num(&p["client_rate_per_s"]),
        num(&p["client_burst"]),
        num(&p["page_size"]),
        num(&p["resync_s"]),
        num(&p["concurrency"]),
        num(&p["cpus"]),
    );
    println!("command: {}\n", r["command"].as_str().unwrap_or(""));

    // The targets: measured, bound, ratio to the reference, CPU, verdict.
    let header = [
        "target".to_owned(),
        "measured".to_owned(),
        "bound".to_owned(),
        "ratio (limit)".to_owned(),
        "operator CPU s".to_owned(),
        String::new(),
    ];
    let mut table = vec![header];
    for t in r["targets"].as_array().into_iter().flatten() {
        let unit = t["unit"].as_str().unwrap_or("");
        let with_unit = |v: &Value| {
            if unit.is_empty() || v.is_null() {
                num(v)
            } else {
                format!("{} {unit}", num(v))
            }
        };
        let ratio = if t["ratio"].is_null() {
            "-".to_owned()
        } else {
            format!("{} (≤ {})", num(&t["ratio"]), num(&t["ratio_limit"]))
        };
        table.push([
            num(&t["target"]),
            with_unit(&t["measured"]),
            format!("≤ {}", with_unit(&t["bound"])),
            ratio,
            num(&t["operator_cpu_s"]),
            if t["met"].as_bool() == Some(true) {
                "met".to_owned()
            } else {
                "NOT met".to_owned()
            },
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            table
                .iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &table {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    println!();

    let rows: Vec<(&str, String)> = vec![
        (
            "apply (Kubernetes creates), s / rooms per s",
            format!(
                "{} / {}{}",
                num(&c["apply_s"]),
                num(&c["apply_rooms_per_s"]),
                if c["apply_longer_than_bound"].as_bool() == Some(true) {
                    " (longer than the bound: the harness sets the pace)"
                } else {
                    ""
                }
            ),
        ),
        (
            "lower bound / at the client's burst, s",
            slashed(&[&c["lower_bound_s"], &c["lower_bound_with_client_burst_s"]]),
        ),
        (
            "host CPU busy while converging (all cores)",
            num(&c["host_cpu_busy_fraction"]),
        ),
        (
            "time to Ready per room p50 / p99, s",
            slashed(&[&c["time_to_ready_p50_s"], &c["time_to_ready_p99_s"]]),
        ),
        (
            "first / last create answered, s",
            slashed(&[&c["first_create_s"], &c["last_create_s"]]),
        ),
        (
            "room reconciles / mean s / limiter wait mean s",
            slashed(&[
                &c["diagnostics"]["room_reconciles"],
                &c["diagnostics"]["room_reconcile_mean_s"],
                &c["diagnostics"]["rate_limiter_wait_mean_s"],
            ]),
        ),
        (
            "API calls per room (convergence)",
            map(&c["api_calls_per_room"]),
        ),
        (
            "Kubernetes writes by the operator per room",
            format!(
                "{} (room status {})",
                num(&c["kubernetes_writes_by_operator_per_room"]),
                num(&c["kubernetes_room_status_writes_per_room"])
            ),
        ),
        ("  of which", map(&c["kubernetes_writes"])),
        (
            "room writes after Ready: total",
            num(&c["room_writes_seen_after_ready_total"]),
        ),
        (
            "steady: listings / period s / window s",
            slashed(&[&s["listings"], &s["period_s"], &s["window_s"]]),
        ),
        (
            "steady: room pages per listing / theme reads per period",
            format!(
                "{} (of {}) / {}",
                num(&s["api_room_page_reads_per_listing"]),
                num(&s["page_reads_per_listing"]),
                num(&s["api_theme_reads_per_period"])
            ),
        ),
        (
            "steady: reads vs naive",
            format!(
                "{} ({} reads per period)",
                num(&s["reads_vs_naive"]),
                num(&s["naive_reads_per_period"])
            ),
        ),
        (
            "steady: Kubernetes reads per period",
            num(&s["kubernetes_reads_per_period"]),
        ),
        (
            "operator CPU s: convergence / steady per period",
            slashed(&[&f["cpu_s_convergence"], &f["cpu_s_steady_per_period"]]),
        ),
        (
            "start-up: LIST of the rooms, s (runs; unpaged)",
            format!(
                "{} ({}; {})",
                num(&u["list"]["median_s"]),
                u["list"]["runs_s"]
                    .as_array()
                    .map(|runs| runs.iter().map(num).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default(),
                num(&u["list"]["unpaged_consistent_s"])
            ),
        ),
        (
            "start-up: caches synced / first API call / all re-observed, s",
            slashed(&[
                &u["to_caches_synced_s"],
                &u["to_first_api_call_s"],
                &u["to_all_rooms_reobserved_s"],
            ]),
        ),
        (
            "start-up: API calls to re-observe",
            map(&u["api_calls_by_operation"]),
        ),
        (
            "naive: reads per period / sweep s / 429s",
            slashed(&[
                &n["polite"]["reads_per_period"],
                &n["polite"]["sweep_s"],
                &n["polite"]["api_429"],
            ]),
        ),
        (
            "naive, unbounded retries: attempts / 429s / sweep s",
            slashed(&[
                &n["unbounded_retries"]["attempts"],
                &n["unbounded_retries"]["api_429"],
                &n["unbounded_retries"]["sweep_s"],
            ]),
        ),
        (
            "bench process: peak RSS MiB / CPU s to all Ready",
            slashed(&[&h["bench_peak_rss_mib"], &h["bench_cpu_s_to_all_ready"]]),
        ),
    ];
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    for (name, value) in rows {
        let pad = width - name.chars().count();
        println!("{name}{}  {value}", " ".repeat(pad));
    }
}
