//! The run at a glance: a hand-written SVG of two panels, rooms Ready over
//! time against the rate-limit bound and the naive design, and the
//! operator's resident memory across the phases.

use std::fmt::Write as _;

/// Everything the picture shows, in seconds and MiB.
pub struct Plot {
    pub title: String,
    pub subtitle: String,
    pub rooms: u64,
    /// Rooms Ready, seconds since the first room's create was sent.
    pub ready: Vec<(f64, f64)>,
    /// Rooms the simulator answered a create for, same clock.
    pub creates: Vec<(f64, f64)>,
    /// The rate-limit lower bound as a curve: (seconds, rooms).
    pub bound: Vec<(f64, f64)>,
    /// The lower bound times the allowed ratio (all Ready by then).
    pub bound_deadline: f64,
    pub ratio_limit: f64,
    /// The naive sweep (one GET per room at the same client rate): rooms
    /// observed, seconds since the sweep started.
    pub naive: Vec<(f64, f64)>,
    /// The operator's RSS: (process id, seconds since the first create, MiB).
    pub rss: Vec<(i32, f64, f64)>,
    /// Phases on the RSS clock: (start, end, name).
    pub phases: Vec<(f64, f64, String)>,
    pub rss_bound_mib: f64,
}

const WIDTH: f64 = 960.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 250.0;
const PANEL_H: f64 = 250.0;
const TOP1: f64 = 84.0;
const TOP2: f64 = 414.0;
const HEIGHT: f64 = 724.0;

const BLUE: &str = "#1f5fbf";
const LIGHT_BLUE: &str = "#8fb3e8";
const ORANGE: &str = "#e07b00";
const RED: &str = "#c0392b";
const GREY: &str = "#555";

struct Axes {
    top: f64,
    x_max: f64,
    y_max: f64,
}

impl Axes {
    fn x(&self, v: f64) -> f64 {
        LEFT + (v / self.x_max).clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        self.top + PANEL_H - (v / self.y_max).clamp(0.0, 1.0) * PANEL_H
    }

    fn right(&self) -> f64 {
        WIDTH - RIGHT
    }
}

/// A round step that cuts `max` into about five intervals.
fn step(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let unit = raw / magnitude;
    let nice = if unit <= 1.0 {
        1.0
    } else if unit <= 2.0 {
        2.0
    } else if unit <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// An upper axis limit: a whole number of steps at or above `max`.
fn ceil_to_step(max: f64) -> f64 {
    let s = step(max);
    (max / s).ceil().max(1.0) * s
}

fn label(v: f64) -> String {
    if v >= 10_000.0 && (v / 1000.0).fract() == 0.0 {
        format!("{}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` points of `points`, evenly picked, the last one kept.
fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let stride = points.len().div_ceil(max - 1);
    let mut kept: Vec<(f64, f64)> = points.iter().step_by(stride).copied().collect();
    if let Some(last) = points.last()
        && kept.last() != Some(last)
    {
        kept.push(*last);
    }
    kept
}

fn polyline(svg: &mut String, axes: &Axes, points: &[(f64, f64)], style: &str) {
    if points.is_empty() {
        return;
    }
    let path: Vec<String> = thin(points, 1500)
        .iter()
        .map(|(x, y)| format!("{:.1},{:.1}", axes.x(*x), axes.y(*y)))
        .collect();
    let _ = writeln!(
        svg,
        r#"<polyline fill="none" {style} points="{}"/>"#,
        path.join(" ")
    );
}

fn frame(svg: &mut String, axes: &Axes, x_unit: &str, y_unit: &str) {
    let (bottom, right) = (axes.top + PANEL_H, axes.right());
    let mut x = 0.0;
    let x_step = step(axes.x_max);
    while x <= axes.x_max + x_step * 1e-9 {
        let px = axes.x(x);
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{bottom:.1}" stroke="#e6e6e6"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            axes.top,
            bottom + 16.0,
            label(x)
        );
        x += x_step;
    }
    let mut y = 0.0;
    let y_step = step(axes.y_max);
    while y <= axes.y_max + y_step * 1e-9 {
        let py = axes.y(y);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{right:.1}" y2="{py:.1}" stroke="#e6e6e6"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 6.0,
            py + 4.0,
            label(y)
        );
        y += y_step;
    }
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="{:.1}" width="{:.1}" height="{PANEL_H}" fill="none" stroke="{GREY}"/>"#,
        axes.top,
        right - LEFT
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (LEFT + right) / 2.0,
        bottom + 34.0,
        escape(x_unit)
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        LEFT - 52.0,
        axes.top + PANEL_H / 2.0,
        escape(y_unit)
    );
}

/// One legend line per entry: (style of a short sample line, text).
fn legend(svg: &mut String, top: f64, entries: &[(String, String)]) {
    let x = WIDTH - RIGHT + 16.0;
    for (i, (style, text)) in entries.iter().enumerate() {
        let y = top + 10.0 + i as f64 * 36.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" {style}/>"#,
            x + 24.0
        );
        // Two short lines at most: the legend column is narrow.
        let (first, second) = split_text(text, 30);
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 30.0,
            y + 4.0,
            escape(&first)
        );
        if !second.is_empty() {
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                x + 30.0,
                y + 18.0,
                escape(&second)
            );
        }
    }
}

fn split_text(text: &str, width: usize) -> (String, String) {
    if text.chars().count() <= width {
        return (text.to_owned(), String::new());
    }
    let mut first = String::new();
    let mut words = text.split(' ').peekable();
    while let Some(word) = words.peek() {
        if !first.is_empty() && first.chars().count() + 1 + word.chars().count() > width {
            break;
        }
        if !first.is_empty() {
            first.push(' ');
        }
        first.push_str(word);
        words.next();
    }
    (first, words.collect::<Vec<_>>().join(" "))
}

impl Plot {
    pub fn svg(&self) -> String {
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            svg,
            r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
        );
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="26" font-size="16" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="46" fill="{GREY}">{}</text>"#,
            escape(&self.subtitle)
        );
        self.ready_panel(&mut svg);
        self.rss_panel(&mut svg);
        svg.push_str("</svg>\n");
        svg
    }

    fn ready_panel(&self, svg: &mut String) {
        let last = |points: &[(f64, f64)]| points.last().map_or(0.0, |p| p.0);
        let x_max = ceil_to_step(
            last(&self.ready)
                .max(last(&self.naive))
                .max(self.bound_deadline)
                .max(1.0),
        );
        let axes = Axes {
            top: TOP1,
            x_max,
            y_max: ceil_to_step((self.rooms as f64).max(1.0)),
        };
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{:.1}" font-weight="bold">Rooms Ready after apply</text>"#,
            TOP1 - 8.0
        );
        frame(
            svg,
            &axes,
            "seconds since the first room was applied (naive: since its sweep began)",
            "rooms",
        );
        let deadline = axes.x(self.bound_deadline);
        let _ = writeln!(
            svg,
            r#"<line x1="{deadline:.1}" y1="{:.1}" x2="{deadline:.1}" y2="{:.1}" stroke="{RED}" stroke-dasharray="2,3"/>"#,
            TOP1,
            TOP1 + PANEL_H
        );
        let bound_style = "stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"6,4\"";
        let naive_style = format!("stroke=\"{ORANGE}\" stroke-width=\"2\"");
        let creates_style = format!("stroke=\"{LIGHT_BLUE}\" stroke-width=\"1.5\"");
        let ready_style = format!("stroke=\"{BLUE}\" stroke-width=\"2.5\"");
        polyline(svg, &axes, &self.bound, bound_style);
        polyline(svg, &axes, &self.naive, &naive_style);
        polyline(svg, &axes, &self.creates, &creates_style);
        polyline(svg, &axes, &self.ready, &ready_style);
        let mut entries = vec![
            (ready_style, "operator: rooms Ready".to_owned()),
            (creates_style, "rooms created in the API".to_owned()),
            (
                bound_style.to_owned(),
                "rate-limit lower bound (burst, then rate, + latency)".to_owned(),
            ),
            (
                format!("stroke=\"{RED}\" stroke-dasharray=\"2,3\""),
                format!("{:.2} × bound: all Ready by here", self.ratio_limit),
            ),
        ];
        if !self.naive.is_empty() {
            entries.push((
                naive_style,
                "naive: rooms observed, one GET each at the same rate".to_owned(),
            ));
        }
        legend(svg, TOP1, &entries);
    }

    fn rss_panel(&self, svg: &mut String) {
        let x_end = self
            .phases
            .iter()
            .map(|p| p.1)
            .fold(self.rss.last().map_or(0.0, |p| p.1), f64::max);
        let rss_max = self.rss.iter().map(|p| p.2).fold(0.0, f64::max);
        // The bound is drawn when it fits a scale that keeps the curve readable.
        let bound_on_scale = self.rss_bound_mib <= rss_max * 3.0;
        let y_top = if bound_on_scale {
            rss_max.max(self.rss_bound_mib) * 1.1
        } else {
            rss_max * 1.2
        };
        let axes = Axes {
            top: TOP2,
            x_max: ceil_to_step(x_end.max(1.0)),
            y_max: ceil_to_step(y_top.max(1.0)),
        };
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{:.1}" font-weight="bold">Operator resident memory (RSS, from /proc) across the phases</text>"#,
            TOP2 - 8.0
        );
        for (i, (start, end, name)) in self.phases.iter().enumerate() {
            let (x0, x1) = (axes.x(*start), axes.x(*end));
            let fill = if i % 2 == 0 { "#f3f6fb" } else { "#fbf6ef" };
            let _ = writeln!(
                svg,
                r#"<rect x="{x0:.1}" y="{TOP2:.1}" width="{:.1}" height="{PANEL_H}" fill="{fill}"/>"#,
                (x1 - x0).max(0.0)
            );
            if x1 - x0 > 30.0 {
                let _ = writeln!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{GREY}">{}</text>"#,
                    (x0 + x1) / 2.0,
                    TOP2 + 14.0,
                    escape(name)
                );
            }
        }
        frame(
            svg,
            &axes,
            "seconds since the first room was applied",
            "RSS, MiB",
        );
        let rss_style = format!("stroke=\"{BLUE}\" stroke-width=\"2\"");
        let bound_style = format!("stroke=\"{RED}\" stroke-width=\"1.5\" stroke-dasharray=\"6,4\"");
        if bound_on_scale {
            let y = axes.y(self.rss_bound_mib);
            let _ = writeln!(
                svg,
                r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" {bound_style}/>"#,
                axes.right()
            );
        }
        // One line per process.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut pid = None;
        for (process, t, mib) in &self.rss {
            if pid.is_some_and(|p| p != *process) {
                polyline(svg, &axes, &run, &rss_style);
                run.clear();
            }
            pid = Some(*process);
            run.push((*t, *mib));
        }
        polyline(svg, &axes, &run, &rss_style);
        let bound_text = if bound_on_scale {
            format!("bound {} MiB", label(self.rss_bound_mib))
        } else {
            format!("bound {} MiB (off the scale)", label(self.rss_bound_mib))
        };
        legend(
            svg,
            TOP2,
            &[
                (
                    rss_style,
                    "operator RSS (the restart is a new process)".to_owned(),
                ),
                (bound_style, bound_text),
            ],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(step(1000.0), 200.0);
        assert_eq!(step(21.0), 5.0);
        assert_eq!(ceil_to_step(21.0), 25.0);
        assert_eq!(label(20000.0), "20k");
    }
}
