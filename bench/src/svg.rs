//! A hand-written SVG grouped bar chart with a logarithmic axis (no plotting
//! dependency: the charts are simple and the output stays diffable).

use std::fmt::Write;

/// One group of bars (e.g. a handler), one value per series (None: missing).
pub struct Group {
    pub label: String,
    pub values: Vec<Option<f64>>,
}

const COLORS: [&str; 6] = [
    "#4e79a7", "#e15759", "#76b7b2", "#f28e2b", "#59a14f", "#b07aa1",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Horizontal grouped bars; `unit` labels the axis. Values must be > 0.
pub fn grouped_bars(title: &str, unit: &str, series: &[&str], groups: &[Group]) -> String {
    let bar_h = 12.0;
    let group_gap = 14.0;
    let left = 130.0;
    let width = 900.0;
    let plot_w = width - left - 40.0;
    let top = 60.0;
    let group_h = bar_h * series.len() as f64 + group_gap;
    let height = top + group_h * groups.len() as f64 + 60.0;
    let all: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.values.iter().flatten().copied())
        .filter(|v| *v > 0.0)
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min).max(1e-3);
    let hi = all.iter().copied().fold(0.0, f64::max).max(lo * 10.0);
    let (lo_e, hi_e) = (lo.log10().floor(), hi.log10().ceil());
    let x = |v: f64| left + (v.log10() - lo_e) / (hi_e - lo_e) * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="20" font-size="14" text-anchor="middle">{}</text>"#,
        width / 2.0,
        esc(title)
    );
    // Legend.
    let step = ((width - left - 10.0) / series.len().max(1) as f64).min(140.0);
    for (i, name) in series.iter().enumerate() {
        let lx = left + i as f64 * step;
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="32" width="10" height="10" fill="{}"/><text x="{}" y="41">{}</text>"#,
            COLORS[i % COLORS.len()],
            lx + 14.0,
            esc(name)
        );
    }
    // Decade grid lines.
    let axis_y = top + group_h * groups.len() as f64;
    let mut e = lo_e;
    while e <= hi_e {
        let gx = x(10f64.powf(e));
        let _ = writeln!(
            s,
            r##"<line x1="{gx}" y1="{top}" x2="{gx}" y2="{axis_y}" stroke="#ddd"/><text x="{gx}" y="{}" text-anchor="middle">{}</text>"##,
            axis_y + 14.0,
            10f64.powf(e)
        );
        e += 1.0;
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{} (log scale)</text>"#,
        left + plot_w / 2.0,
        axis_y + 32.0,
        esc(unit)
    );
    for (gi, g) in groups.iter().enumerate() {
        let gy = top + gi as f64 * group_h;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 6.0,
            gy + bar_h * series.len() as f64 / 2.0 + 4.0,
            esc(&g.label)
        );
        for (si, v) in g.values.iter().enumerate() {
            let by = gy + si as f64 * bar_h;
            match v {
                Some(v) if *v > 0.0 => {
                    let w = (x(*v) - left).max(1.0);
                    let _ = writeln!(
                        s,
                        r#"<rect x="{left}" y="{by}" width="{w:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{}" font-size="9">{v:.1}</text>"#,
                        bar_h - 2.0,
                        COLORS[si % COLORS.len()],
                        left + w + 3.0,
                        by + bar_h - 3.0
                    );
                }
                _ => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{}" y="{}" font-size="9" fill="#888">n/a</text>"##,
                        left + 3.0,
                        by + bar_h - 3.0
                    );
                }
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
