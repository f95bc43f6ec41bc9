//! Witness mode's families (`--witness`): each witness's state and messages, the quorum, and
//! whether this monitor's own verdicts are final. Without witness mode the families have no
//! series.

use crate::http::metrics::model::{Family, Value};
use crate::http::views::WitnessSnapshot;

fn count(n: usize) -> Value {
    Value::Int(u64::try_from(n).unwrap_or(u64::MAX))
}

/// The witness families of one scrape.
pub(crate) fn families(w: Option<&WitnessSnapshot>) -> Vec<Family> {
    let mut up = Family::gauge(
        "witness_up",
        "Whether the witness (--witness, by address) is heard within the detector's bound (1)",
    );
    let mut messages = Family::counter(
        "witness_messages",
        "Verdict messages accepted from the witness (--witness, by address): its beats to this monitor",
    );
    let mut needed = Family::gauge(
        "quorum_needed",
        "Monitors, this one included, that must suspect a node for it to be down (--quorum)",
    );
    let mut monitors = Family::gauge(
        "monitors_up",
        "Monitors up as this one sees them: itself and the witnesses it hears",
    );
    let mut fallback = Family::gauge(
        "quorum_fallback",
        "Whether fewer than --quorum monitors are up (1), so this monitor's own verdicts are final",
    );
    let mut agreed = Family::counter(
        "downs_agreed",
        "Nodes reported down because enough monitors agreed (reason agreed)",
    );
    let mut unreachable = Family::counter(
        "unreachable_reported",
        "Nodes reported unreachable: silent here, but not to enough witnesses (this monitor's path to them is suspect)",
    );
    if let Some(w) = w {
        for p in &w.witnesses {
            let label = vec![("witness", p.addr.to_string())];
            up.push(label.clone(), Value::Int(u64::from(p.up)));
            messages.push(label, Value::Int(p.messages));
        }
        needed.push(Vec::new(), count(w.needed));
        monitors.push(Vec::new(), count(w.up));
        fallback.push(Vec::new(), Value::Int(u64::from(w.fallback)));
        agreed.push(Vec::new(), Value::Int(w.agreed));
        unreachable.push(Vec::new(), Value::Int(w.unreachable_reported));
    }
    vec![
        up,
        messages,
        needed,
        monitors,
        fallback,
        agreed,
        unreachable,
    ]
}
