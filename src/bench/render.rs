//! A benchmark's report as text, JSON and a self-contained HTML page with
//! an SVG latency plot.

use super::{thousands, BenchReport, KindStats};
use std::fmt::Write as _;

impl BenchReport {
    /// One line on what was measured.
    pub fn headline(&self) -> String {
        let load = match self.rate {
            Some(r) => format!("open loop at {r} req/s"),
            None => "closed loop".to_string(),
        };
        format!(
            "{} {}, concurrency {}, {load}, {} queries, {:.1} s",
            self.mode, self.target, self.concurrency, self.queries, self.duration_s
        )
    }

    fn rows(&self) -> Vec<(&str, &KindStats)> {
        let mut rows: Vec<(&str, &KindStats)> =
            self.kinds.iter().map(|(k, s)| (k.as_str(), s)).collect();
        rows.push(("all", &self.overall));
        rows
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.headline());
        let _ = writeln!(
            out,
            "{:<8} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "kind", "requests", "errors", "qps", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
        );
        for (name, s) in self.rows() {
            let _ = writeln!(
                out,
                "{:<8} {:>10} {:>7} {:>9.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                name,
                thousands(s.requests),
                thousands(s.errors),
                s.qps,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.p999_ms,
                s.max_ms
            );
        }
        if !self.errors_by_kind.is_empty() {
            let errors: Vec<String> = self
                .errors_by_kind
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let _ = writeln!(out, "errors: {}", errors.join(", "));
        }
        out
    }

    /// A self-contained HTML page: the latency distribution of every kind
    /// as an inline SVG plot, and the table.
    pub fn html(&self) -> String {
        let mut h = String::new();
        let title = format!("postsearch bench: {}", self.headline());
        let _ = write!(
            h,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{}</title>\n<style>\
             body{{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}}\
             table{{border-collapse:collapse;margin-top:1em}}\
             th,td{{padding:.25em .8em;text-align:right;border-bottom:1px solid #ddd}}\
             th:first-child,td:first-child{{text-align:left}}\
             tr.all td{{font-weight:600}}svg text{{font-size:12px;fill:#444}}\
             </style></head><body>\n<h1>postsearch latency</h1>\n<p>{}</p>\n",
            escape(&title),
            escape(&self.headline())
        );
        h.push_str(&self.svg());
        h.push_str("\n<table><tr><th>kind</th><th>requests</th><th>errors</th><th>qps</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>\n");
        for (name, s) in self.rows() {
            let _ = writeln!(
                h,
                "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
                if name == "all" { " class=\"all\"" } else { "" },
                escape(name),
                thousands(s.requests),
                thousands(s.errors),
                s.qps,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.p999_ms,
                s.max_ms
            );
        }
        h.push_str("</table>\n");
        if !self.errors_by_kind.is_empty() {
            h.push_str("<p>errors: ");
            let parts: Vec<String> = self
                .errors_by_kind
                .iter()
                .map(|(k, n)| format!("{} {n}", escape(k)))
                .collect();
            h.push_str(&parts.join(", "));
            h.push_str("</p>\n");
        }
        h.push_str("<p>Latency of successful requests by percentile (x: 0 to 99.99, spaced by −log₁₀(1 − p); y: milliseconds, log scale).</p>\n</body></html>\n");
        h
    }

    fn svg(&self) -> String {
        // One per kind, then the overall curve's.
        const COLORS: [&str; 11] = [
            "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf", "#222222",
        ];
        let (w, ht) = (760.0, 420.0);
        let (left, right, top, bottom) = (60.0, 130.0, 20.0, 40.0);
        let (pw, ph) = (w - left - right, ht - top - bottom);
        let values: Vec<f64> = self
            .curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.1))
            .filter(|v| *v > 0.0)
            .collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(0.0, f64::max);
        let (lo, hi) = if values.is_empty() {
            (0.001, 1.0)
        } else {
            (
                10f64.powf(lo.log10().floor()),
                10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0)),
            )
        };
        let x_of = |p: f64| left + pw * (-(1.0 - p / 100.0).max(1e-4).log10()) / 4.0;
        let y_of = |ms: f64| {
            let ms = ms.max(lo);
            top + ph * (1.0 - (ms.log10() - lo.log10()) / (hi.log10() - lo.log10()))
        };
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" role=\"img\" aria-label=\"latency by percentile\">\n\
             <rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>\n"
        );
        for (p, label) in [
            (0.0, "0"),
            (50.0, "50"),
            (90.0, "90"),
            (99.0, "99"),
            (99.9, "99.9"),
            (99.99, "99.99"),
        ] {
            let x = x_of(p);
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                top + ph,
                top + ph + 16.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">percentile</text>",
            left + pw / 2.0,
            ht - 4.0
        );
        let mut tick = lo;
        while tick <= hi * 1.0001 {
            for m in [1.0, 2.0, 5.0] {
                let v = tick * m;
                if v > hi * 1.0001 {
                    break;
                }
                let y = y_of(v);
                let _ = writeln!(
                    s,
                    "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
                     <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                    left + pw,
                    left - 6.0,
                    y + 4.0,
                    trim_number(v)
                );
            }
            tick *= 10.0;
        }
        let _ = writeln!(
            s,
            "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">ms</text>",
            top + ph / 2.0
        );
        for (i, c) in self.curves.iter().enumerate() {
            let color = if c.name == "all" {
                COLORS[COLORS.len() - 1]
            } else {
                COLORS[i % (COLORS.len() - 1)]
            };
            let dash = if c.name == "all" {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            };
            if !c.points.is_empty() {
                let pts: Vec<String> = c
                    .points
                    .iter()
                    .map(|(p, ms)| format!("{:.1},{:.1}", x_of(*p), y_of(*ms)))
                    .collect();
                let _ = writeln!(
                    s,
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\"{dash} points=\"{}\"><title>{}</title></polyline>",
                    pts.join(" "),
                    escape(&c.name)
                );
            }
            let ly = top + 10.0 + i as f64 * 20.0;
            let lx = left + pw + 14.0;
            let _ = writeln!(
                s,
                "<line x1=\"{lx:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{color}\" stroke-width=\"2.5\"{dash}/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                lx + 24.0,
                lx + 30.0,
                ly + 4.0,
                escape(&c.name)
            );
        }
        s.push_str("</svg>");
        s
    }
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

use postsearch_engine::snippet::escape;
