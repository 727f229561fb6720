//! Server-rendered SVG charts: no script, no library, readable without colour (every bar has a
//! `<title>` with its numbers, and the page shows the same numbers in a table). Geometry from
//! money is computed in `Decimal` and rounded to whole pixels; no amount passes through a float.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::view;

const WIDTH: i64 = 720;
const HEIGHT: i64 = 200;
const LEFT: i64 = 76;
const BOTTOM: i64 = 28;
const TOP: i64 = 12;

/// A colour per series, from a fixed palette (stable per series name order).
const PALETTE: &[&str] = &[
    "#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#64748b", "#db2777",
    "#65a30d",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Pixels for `value` out of `max` over `span` pixels, rounded; 0 when `max` is 0.
fn scale(value: Decimal, max: Decimal, span: i64) -> i64 {
    if max <= Decimal::ZERO {
        return 0;
    }
    let pixels = (value * Decimal::from(span) / max).round();
    i64::try_from(pixels).unwrap_or(0).clamp(0, span)
}

fn frame(title: &str, body: &str) -> String {
    format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{title}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{title}</title>{body}</svg>",
        title = escape(title)
    )
}

fn axis(body: &mut String, max_label: &str) {
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        body,
        "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{WIDTH}\" y2=\"{base}\" stroke=\"#94a3b8\"/>\
         <text x=\"{x}\" y=\"{y}\" font-size=\"11\" text-anchor=\"end\" fill=\"#475569\">{max}</text>\
         <text x=\"{x}\" y=\"{base}\" font-size=\"11\" text-anchor=\"end\" fill=\"#475569\">0</text>",
        x = LEFT - 4,
        y = TOP + 10,
        max = escape(max_label),
    );
}

/// Where the columns of a chart go: one slot per day across the plot, a bar centred in each.
struct Columns {
    slot: i64,
    bar: i64,
}

impl Columns {
    fn of(days: usize) -> Columns {
        let slot = (WIDTH - LEFT) / i64::try_from(days.max(1)).unwrap_or(1);
        Columns {
            slot,
            bar: (slot * 3 / 4).clamp(2, 48),
        }
    }

    /// The left edge of the `index`-th bar.
    fn x(&self, index: usize) -> i64 {
        LEFT + self.slot * i64::try_from(index).unwrap_or(0) + (self.slot - self.bar) / 2
    }
}

/// One column per day, stacked by series (counts). `days` are `(label, [(series, count)])`.
pub fn stacked_counts(
    title: &str,
    series: &[String],
    days: &[(String, Vec<(String, i64)>)],
) -> String {
    let max = days
        .iter()
        .map(|(_, values)| values.iter().map(|(_, count)| *count).sum::<i64>())
        .max()
        .unwrap_or(0);
    let mut body = String::new();
    axis(&mut body, &max.to_string());
    let span = HEIGHT - BOTTOM - TOP;
    let columns = Columns::of(days.len());
    let bar = columns.bar;
    for (index, (label, values)) in days.iter().enumerate() {
        let x = columns.x(index);
        let mut y = HEIGHT - BOTTOM;
        for (name, count) in values {
            let height = scale(Decimal::from(*count), Decimal::from(max), span);
            if height == 0 {
                continue;
            }
            y -= height;
            let colour = colour_of(series, name);
            let _ = write!(
                body,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{height}\" fill=\"{colour}\">\
                 <title>{label} {name}: {count}</title></rect>",
                label = escape(label),
                name = escape(name),
            );
        }
        day_label(&mut body, x + bar / 2, label, index, days.len());
    }
    frame(title, &body)
}

/// One column per day of an amount in reais.
pub fn amounts(title: &str, days: &[(String, Decimal)]) -> String {
    let max = days
        .iter()
        .map(|(_, amount)| *amount)
        .max()
        .unwrap_or(Decimal::ZERO);
    let mut body = String::new();
    axis(&mut body, &view::brl(max));
    let span = HEIGHT - BOTTOM - TOP;
    let columns = Columns::of(days.len());
    let bar = columns.bar;
    for (index, (label, amount)) in days.iter().enumerate() {
        let x = columns.x(index);
        let height = scale(*amount, max, span);
        let y = HEIGHT - BOTTOM - height;
        let _ = write!(
            body,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{height}\" fill=\"#dc2626\">\
             <title>{label}: {amount}</title></rect>",
            label = escape(label),
            amount = escape(&view::brl(*amount)),
        );
        day_label(&mut body, x + bar / 2, label, index, days.len());
    }
    frame(title, &body)
}

/// Labels every day when there are few, else about eight of them.
fn day_label(body: &mut String, x: i64, label: &str, index: usize, days: usize) {
    let every = days.div_ceil(8).max(1);
    if !index.is_multiple_of(every) {
        return;
    }
    let _ = write!(
        body,
        "<text x=\"{x}\" y=\"{y}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#475569\">{label}</text>",
        y = HEIGHT - BOTTOM + 14,
        label = escape(label.get(5..).unwrap_or(label)),
    );
}

/// The colour of a series, for charts and their legends.
pub fn colour_of(series: &[String], name: &str) -> &'static str {
    let index = series.iter().position(|s| s == name).unwrap_or(0);
    PALETTE[index % PALETTE.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_heights_are_proportional_and_exact_in_decimal() {
        assert_eq!(
            scale(Decimal::new(5000, 2), Decimal::new(10000, 2), 160),
            80
        );
        assert_eq!(scale(Decimal::ZERO, Decimal::ZERO, 160), 0);
        assert_eq!(
            scale(Decimal::new(1, 2), Decimal::new(100_000_000, 2), 160),
            0
        );
        assert_eq!(scale(Decimal::new(10, 0), Decimal::new(10, 0), 160), 160);
    }

    #[test]
    fn a_chart_names_each_bar_with_its_numbers_and_escapes_labels() {
        let series = vec!["matched".to_owned(), "amount_mismatch".to_owned()];
        let svg = stacked_counts(
            "Items <per> day",
            &series,
            &[(
                "2026-12-01".into(),
                vec![("matched".into(), 3), ("amount_mismatch".into(), 1)],
            )],
        );
        assert!(svg.contains("2026-12-01 matched: 3"), "{svg}");
        assert!(svg.contains("2026-12-01 amount_mismatch: 1"), "{svg}");
        assert!(svg.contains("Items &lt;per&gt; day"), "{svg}");
        let money = amounts(
            "Unmatched",
            &[("2026-12-01".into(), Decimal::new(123_456, 2))],
        );
        assert!(money.contains("R$ 1.234,56"), "{money}");
    }
}
