//! Buttons on a firing message (bot-token mode with a signing secret):
//! silence the group's alerts for 1 h, 4 h or 24 h, or acknowledge. The
//! matchers a silence will get are shown above the buttons, before anyone
//! presses one, and travel in the button's value (Slack signs it back).

use crate::format::{context, escape};
use crate::payload::Labels;
use serde_json::{json, Value};

/// The `block_id` of the buttons, so an edit can find and replace them.
pub const ACTIONS_BLOCK: &str = "srp_actions";
/// Slack: a button's value holds at most 2000 characters.
const MAX_VALUE_CHARS: usize = 2000;
pub const SILENCE_CHOICES: &[(&str, &str)] = &[
    ("silence_1h", "1h"),
    ("silence_4h", "4h"),
    ("silence_24h", "24h"),
];

fn button(action_id: &str, text: &str, value: &str) -> Value {
    json!({"type": "button", "action_id": action_id, "value": value,
           "text": {"type": "plain_text", "text": text}})
}

/// The matchers of a silence for this group: its group labels, else its
/// common labels (internal `__` labels left out).
pub fn matchers(group_labels: &Labels, common_labels: &Labels) -> Labels {
    let from = if group_labels.is_empty() {
        common_labels
    } else {
        group_labels
    };
    from.iter()
        .filter(|(k, _)| !k.starts_with("__"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Add the matchers line and the buttons to the last place before the
/// message's closing context blocks. No buttons (and a warning) when the
/// matchers are empty or too long for a button value.
pub fn add(message: &mut Value, matchers: &Labels) {
    if matchers.is_empty() {
        return;
    }
    let shown: Vec<String> = matchers
        .iter()
        .map(|(k, v)| format!("`{}=\"{}\"`", escape(k), escape(v)))
        .collect();
    let mut buttons = Vec::new();
    for (id, d) in SILENCE_CHOICES {
        let value = json!({"m": matchers, "d": d}).to_string();
        if value.chars().count() > MAX_VALUE_CHARS {
            tracing::warn!("matchers too long for a Slack button; no silence buttons");
            return;
        }
        buttons.push(button(id, &format!("Silence {d}"), &value));
    }
    buttons.push(button("acknowledge", "Acknowledge", "{}"));
    let Some(blocks) = message["attachments"][0]["blocks"].as_array_mut() else {
        return;
    };
    blocks.push(context(&format!("Silence matches: {}", shown.join(" "))));
    blocks.push(json!({"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons}));
}

/// Replace the buttons of a posted message with `status` (who did what,
/// until when) and, for a silence, an "expire silence" button.
pub fn replace(message: &mut Value, status: &str, expire: Option<&str>) {
    let Some(blocks) = message["attachments"][0]["blocks"].as_array_mut() else {
        return;
    };
    blocks.retain(|b| b["block_id"] != ACTIONS_BLOCK);
    blocks.push(context(status));
    if let Some(id) = expire {
        blocks.push(json!({"type": "actions", "block_id": ACTIONS_BLOCK,
            "elements": [button("expire", "Expire silence", &json!({"s": id}).to_string())]}));
    }
}
