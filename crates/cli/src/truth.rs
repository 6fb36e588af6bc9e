//! Comparing the hub's sales summary with the sandbox's ground truth.

use serde_json::Value;

/// `Ok` when every count and sum matches: overall, per location, per category, per customer
/// and per UTC hour (the sandbox writes hours as RFC 3339, the hub as epoch milliseconds).
pub fn compare(ours: &Value, truth: &Value) -> Result<(), String> {
    for field in [
        "orders",
        "total_minor",
        "by_location",
        "by_category",
        "by_customer",
    ] {
        if ours[field] != truth[field] {
            return Err(format!(
                "{field} differs from the sandbox truth:\n  sandbox:    {}\n  tillbridge: {}",
                truth[field], ours[field]
            ));
        }
    }
    let hours =
        |v: &Value, hour: fn(&Value) -> Option<i64>| -> Option<Vec<(String, i64, i64, i64)>> {
            v["by_hour"]
                .as_array()?
                .iter()
                .map(|h| {
                    Some((
                        h["location_id"].as_str()?.to_owned(),
                        hour(&h["hour"])?,
                        h["orders"].as_i64()?,
                        h["total_minor"].as_i64()?,
                    ))
                })
                .collect()
        };
    let ours_h = hours(ours, |h| h.as_i64());
    let truth_h = hours(truth, |h| {
        chrono::DateTime::parse_from_rfc3339(h.as_str()?)
            .ok()
            .map(|d| d.timestamp_millis())
    });
    if ours_h.is_none() || ours_h != truth_h {
        return Err("hourly buckets differ from the sandbox truth".into());
    }
    Ok(())
}
