//! How long a typical property takes to render: three expressions, two
//! filters, against an execution's context. Prints figures; asserts
//! nothing. Run with `cargo bench -p engine --bench expressions`.

use std::sync::Arc;
use std::time::Instant;

use engine::flow::expr::{NoHost, Renderer};
use serde_json::json;

fn main() {
    let renderer = Renderer::new(Arc::new(NoHost::default()));
    let context = json!({
        "inputs": {"name": "World", "workers": 2},
        "outputs": {"query": {"rows": (0..1000).map(|i| json!({"id": i, "region": "north"})).collect::<Vec<_>>()}},
        "execution": {"id": "4Uq2ZnSkXKxFuEmD3nkeZs", "startDate": "2026-11-25T08:30:00Z"},
    });
    let property = json!(
        "{{ inputs.name | upper }} ran {{ outputs.query.rows[999].region | default('none') }} in {{ execution.id }}"
    );
    let lone = json!("{{ inputs.workers * 2 }}");
    for (name, value) in [
        ("text, three expressions and two filters", &property),
        ("one typed expression", &lone),
    ] {
        let rounds = 100_000;
        let start = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(renderer.render("t", "p", value, &context).unwrap());
        }
        let each = start.elapsed() / rounds;
        println!(
            "{name}: {each:?} a render (parse and evaluate, context of 1,000 rows not copied)"
        );
    }
}
