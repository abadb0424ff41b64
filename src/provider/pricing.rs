//! Prices in USD per million tokens: a built-in table, overridden per model in `llmops.yaml`.

use indexmap::IndexMap;

use crate::config::Price;

/// Public list prices per million tokens (input, output), by model-name prefix. Longest
/// prefix wins, so `gpt-4o-mini-2024-07-18` finds `gpt-4o-mini`, not `gpt-4o`.
const BUILT_IN: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4-turbo", 10.00, 30.00),
    ("gpt-3.5-turbo", 0.50, 1.50),
    ("o1-mini", 1.10, 4.40),
    ("o1", 15.00, 60.00),
    ("o3-mini", 1.10, 4.40),
    ("o3", 2.00, 8.00),
    ("o4-mini", 1.10, 4.40),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-3-7-sonnet", 3.00, 15.00),
    ("claude-3-haiku", 0.25, 1.25),
    ("claude-3-opus", 15.00, 75.00),
    ("claude-haiku-4", 1.00, 5.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
];

/// The price of `model`: a config override, else the built-in table, else none.
pub fn price(model: &str, overrides: &IndexMap<String, Price>) -> Option<Price> {
    if let Some(p) = overrides.get(model) {
        return Some(*p);
    }
    BUILT_IN
        .iter()
        .filter(|(prefix, _, _)| model.starts_with(prefix))
        .max_by_key(|(prefix, _, _)| prefix.len())
        .map(|(_, input, output)| Price {
            input: *input,
            output: *output,
        })
}

/// Cost in USD of a call, or `None` when the model has no known price.
pub fn cost(
    model: &str,
    input_tokens: u64,
    output_tokens: u64,
    overrides: &IndexMap<String, Price>,
) -> Option<f64> {
    price(model, overrides)
        .map(|p| (input_tokens as f64 * p.input + output_tokens as f64 * p.output) / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_and_overrides() {
        let none = IndexMap::new();
        assert_eq!(price("gpt-4o-mini-2024-07-18", &none).unwrap().input, 0.15);
        assert_eq!(price("gpt-4o-2024-08-06", &none).unwrap().input, 2.50);
        assert!(price("my-local-model", &none).is_none());
        let mut o = IndexMap::new();
        o.insert(
            "gpt-4o".to_string(),
            Price {
                input: 1.0,
                output: 2.0,
            },
        );
        assert_eq!(cost("gpt-4o", 1_000_000, 500_000, &o), Some(2.0));
    }
}
