use quick_xml::events::Event;

use super::*;
use crate::regress::analysis::{AnalysisOptions, analyze};
use crate::regress::fixtures::{self, Change};

struct Svg {
    /// (stroke, points) of every polyline.
    polylines: Vec<(String, Vec<(f64, f64)>)>,
    /// Stroke colours of the circles.
    circles: Vec<String>,
    texts: Vec<String>,
}

/// Parse the SVG as XML (well-formed, end tags matching) and collect what the checks need.
fn parse(svg: &str) -> Svg {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut out = Svg {
        polylines: Vec::new(),
        circles: Vec::new(),
        texts: Vec::new(),
    };
    let mut depth = 0i32;
    let mut saw_root = false;
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|error| panic!("not XML: {error}\n{svg}"));
        let element = match &event {
            Event::Start(element) => {
                depth += 1;
                Some(element.clone())
            }
            Event::Empty(element) => Some(element.clone()),
            Event::End(_) => {
                depth -= 1;
                None
            }
            Event::Text(text) => {
                let text = text.decode().expect("UTF-8");
                if !text.trim().is_empty() {
                    out.texts.push(text.trim().to_owned());
                }
                None
            }
            Event::GeneralRef(reference) => {
                out.texts.push(format!("&{};", reference.decode().expect("UTF-8")));
                None
            }
            Event::Eof => break,
            _ => None,
        };
        let Some(element) = element else { continue };
        let name = String::from_utf8(element.name().as_ref().to_vec()).expect("name");
        saw_root |= name == "svg";
        let attribute = |key: &str| {
            element
                .attributes()
                .filter_map(Result::ok)
                .find(|attribute| attribute.key.as_ref() == key.as_bytes())
                .map(|attribute| {
                    attribute
                        .normalized_value(quick_xml::XmlVersion::default())
                        .expect("value")
                        .into_owned()
                })
        };
        match name.as_str() {
            "polyline" => {
                let points = attribute("points")
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|pair| {
                        let (x, y) = pair.split_once(',')?;
                        Some((x.parse().ok()?, y.parse().ok()?))
                    })
                    .collect();
                out.polylines
                    .push((attribute("stroke").unwrap_or_default().to_uppercase(), points));
            }
            "circle" => out.circles.push(attribute("stroke").unwrap_or_default().to_uppercase()),
            _ => {}
        }
    }
    assert!(saw_root && depth == 0, "an <svg> root, every element closed");
    out
}

fn hex(colour: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2)
}

#[test]
fn one_line_per_service_the_target_line_and_a_ring_on_the_regression() {
    let change = Change {
        service: 2,
        phase: "build",
        step: "api",
        night: 28,
        factor: 1.6,
    };
    let runs = fixtures::fleet(3, 30, 21, &[change]);
    let analysis = analyze(
        &runs,
        &AnalysisOptions {
            stale_after_days: 30.0,
            ..AnalysisOptions::default()
        },
    );
    assert_eq!(analysis.charts.len(), 5);
    for chart in &analysis.charts {
        let svg = parse(&render(chart).expect("rendered"));
        // Data lines: more than two points; the legend's samples have two.
        let data: Vec<&String> = svg
            .polylines
            .iter()
            .filter(|(stroke, points)| points.len() > 2 && *stroke != hex(TARGET_COLOUR))
            .map(|(stroke, _)| stroke)
            .collect();
        let expected: Vec<String> = PALETTE[..3].iter().map(|colour| hex(*colour)).collect();
        assert_eq!(
            data,
            expected.iter().collect::<Vec<_>>(),
            "{}: one series per service",
            chart.phase
        );
        let target: Vec<&Vec<(f64, f64)>> = svg
            .polylines
            .iter()
            .filter(|(stroke, points)| {
                *stroke == hex(TARGET_COLOUR) && points.len() == 2 && points[0].0 + 100.0 < points[1].0
            })
            .map(|(_, points)| points)
            .collect();
        assert_eq!(target.len(), 1, "{}: the target line", chart.phase);
        assert_eq!(target[0][0].1, target[0][1].1, "horizontal");
        let wanted = match chart.phase.as_str() {
            "setup" => "target 360 s",
            "build" | "deploy" => "target 180 s",
            "cluster" => "target 15 s",
            _ => "target 45 s",
        };
        assert!(
            svg.texts.iter().any(|text| text == wanted),
            "{}: {:?}",
            chart.phase,
            svg.texts
        );
        assert!(svg.texts.iter().any(|text| text == "services/svc00/hybrid-e2e.yaml"));
        let rings = svg
            .circles
            .iter()
            .filter(|stroke| **stroke == hex(TARGET_COLOUR))
            .count();
        let regressed = chart
            .lines
            .iter()
            .filter(|line| line.status == Verdict::Regression)
            .count();
        assert_eq!(rings, regressed, "{}", chart.phase);
        if chart.phase == "build" {
            assert_eq!(regressed, 1);
        }
    }
}

#[test]
fn names_are_escaped_and_an_empty_chart_is_still_an_svg() {
    let chart = ChartData {
        phase: "deploy <&>".to_owned(),
        lines: vec![ChartLine {
            label: "a<&>\"b".to_owned(),
            points: vec![(0.0, 1.0), (86_400.0, 2.0), (172_800.0, 3.0)],
            target: None,
            status: Verdict::Ok,
        }],
    };
    let svg = parse(&render(&chart).expect("rendered"));
    assert!(svg.texts.concat().contains("a&lt;&amp;&gt;"), "{:?}", svg.texts);
    let empty = ChartData {
        phase: "load".to_owned(),
        lines: Vec::new(),
    };
    parse(&render(&empty).expect("rendered"));
    assert_eq!(file_name("deploy <&>/x"), "charts/deploy_____x.svg");
}
