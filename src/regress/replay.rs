//! The night-by-night replay of `benches/regress.rs --replay` (the peer comparison of
//! `tests/peers/regress`): the alarm events a series raises under given parameters.

use serde_json::{Value, json};

use super::stats::{Direction, Params, Rule, Verdict, decide_all};

/// Replay a series night by night (night t sees the values up to t) and list its alarm events:
/// a night whose status is regression or improvement when the night before had another. The
/// format of `tests/peers/regress/peers.py`, so the peer comparison scores every detector alike.
pub(crate) fn replay(values: &[f64], params: &Value) -> Result<Value, String> {
    let params: Params = serde_json::from_value(params.clone()).map_err(|error| error.to_string())?;
    params.validate().map_err(|error| error.to_string())?;
    let mut events = Vec::new();
    let mut previous = Verdict::Ok;
    for (night, decision) in decide_all(values, &params).iter().enumerate() {
        let flagged = matches!(decision.status, Verdict::Regression | Verdict::Improvement);
        if flagged && decision.status != previous {
            let (index, rule) = match (decision.rule, decision.change_point) {
                (Some(Rule::ChangePoint), Some(change)) => (change.start, "change-point"),
                _ => (night + 1 - decision.consecutive_breaches, "threshold"),
            };
            let direction = if decision.status == Verdict::Regression {
                Direction::Up
            } else {
                Direction::Down
            };
            events.push(json!({ "night": night, "index": index, "direction": direction, "rule": rule }));
        }
        previous = decision.status;
    }
    Ok(json!({ "events": events, "params": params }))
}
