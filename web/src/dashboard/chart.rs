//! The overview's chart, drawn on the server as SVG (no script, no inline style: the site's CSP allows neither):
//! one stacked bar a minute, succeeded below failed, over the last hour.

use std::fmt::Write as _;

/// Tasks finished in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Minute {
    pub succeeded: i64,
    pub failed: i64,
}

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 140.0;
const TOP: f64 = 14.0;

/// `minutes`, oldest first (one per minute, zeros included), as an SVG drawing with a text alternative.
pub fn bars(minutes: &[Minute]) -> String {
    let peak = minutes.iter().map(|m| m.succeeded + m.failed).max().unwrap_or(0).max(1);
    let slot = WIDTH / minutes.len().max(1) as f64;
    let scale = (HEIGHT - TOP) / peak as f64;
    let (succeeded, failed): (i64, i64) = minutes.iter().fold((0, 0), |(s, f), m| (s + m.succeeded, f + m.failed));
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" preserveAspectRatio=\"none\" \
         aria-label=\"Tasks per minute over the last hour: {succeeded} succeeded, {failed} failed; at most {peak} in one minute\">"
    );
    let _ = write!(svg, "<line class=\"axis\" x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\"/>");
    let _ = write!(svg, "<text class=\"peak\" x=\"2\" y=\"10\">{peak} / min</text>");
    for (i, minute) in minutes.iter().enumerate() {
        let x = i as f64 * slot + slot * 0.1;
        let w = slot * 0.8;
        let ok = minute.succeeded as f64 * scale;
        let bad = minute.failed as f64 * scale;
        if ok > 0.0 {
            let _ = write!(
                svg,
                "<rect class=\"ok\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{ok:.1}\"/>",
                HEIGHT - ok
            );
        }
        if bad > 0.0 {
            let _ = write!(
                svg,
                "<rect class=\"failed\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{bad:.1}\"/>",
                HEIGHT - ok - bad
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_minute_and_say_it_in_words() {
        let svg = bars(&[Minute { succeeded: 4, failed: 0 }, Minute::default(), Minute { succeeded: 1, failed: 1 }]);
        assert!(svg.contains("5 succeeded, 1 failed; at most 4 in one minute"), "{svg}");
        assert_eq!(svg.matches("class=\"ok\"").count(), 2);
        assert_eq!(svg.matches("class=\"failed\"").count(), 1);
        assert!(svg.contains("height=\"126.0\""), "the busiest bar fills the height below the label: {svg}");
        assert!(!svg.contains("style="), "no inline style (CSP)");
    }

    #[test]
    fn an_idle_hour_draws_no_bars() {
        let svg = bars(&[Minute::default(); 60]);
        assert!(!svg.contains("<rect"));
        assert!(svg.contains("0 succeeded, 0 failed"));
    }
}
