//! DynamoDB Streams records of the node table, and DynamoDB JSON as plain JSON.

use super::*;

pub(super) fn decode_stream_record(
    record: &Value,
    index: usize,
) -> Result<StreamChange, DecodeError> {
    let at = format!("Records[{index}]");
    let event_name = required_str(record, &["eventName"], &format!("{at}.eventName"))?.to_owned();
    let dynamodb = required(record, &["dynamodb"], &format!("{at}.dynamodb"))?;
    let image = |name: &str| -> Result<Option<Map<String, Value>>, DecodeError> {
        match dynamodb.get(name) {
            None => Ok(None),
            Some(image) => plain_item(image, &format!("{at}.dynamodb.{name}")).map(Some),
        }
    };
    let old_image = image("OldImage")?;
    let new_image = image("NewImage")?;
    let keys = plain_item(
        required(dynamodb, &["Keys"], &format!("{at}.dynamodb.Keys"))?,
        &format!("{at}.dynamodb.Keys"),
    )?;
    let ident = keys
        .get("Ident")
        .and_then(Value::as_str)
        .ok_or_else(|| DecodeError::Missing(format!("{at}.dynamodb.Keys.Ident")))?
        .to_owned();
    let status = |image: &Option<Map<String, Value>>| {
        image
            .as_ref()
            .and_then(|i| i.get("ItemStatus"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(StreamChange {
        event_name,
        ident,
        old_status: status(&old_image),
        new_status: status(&new_image),
        new_image: new_image.unwrap_or_default(),
        old_image: old_image.unwrap_or_default(),
        sequence_number: str_at(dynamodb, &["SequenceNumber"]).map(str::to_owned),
    })
}

/// A DynamoDB-JSON item (`{"Ident": {"S": "i-1"}}`) as plain JSON (`{"Ident": "i-1"}`).
///
/// ```
/// use lifecycle_aws::decode::plain_item;
/// let item = serde_json::json!({"Ident": {"S": "i-1"}, "Version": {"N": "3"}, "Ready": {"BOOL": true}});
/// let plain = plain_item(&item, "NewImage").unwrap();
/// assert_eq!(plain["Ident"], "i-1");
/// assert_eq!(plain["Version"], 3);
/// assert_eq!(plain["Ready"], true);
/// ```
pub fn plain_item(item: &Value, at: &str) -> Result<Map<String, Value>, DecodeError> {
    let item = item.as_object().ok_or(DecodeError::WrongType {
        field: at.to_owned(),
        expected: "a DynamoDB item",
    })?;
    item.iter()
        .map(|(k, v)| Ok((k.clone(), plain_value(v, &format!("{at}.{k}"))?)))
        .collect()
}

fn plain_value(value: &Value, at: &str) -> Result<Value, DecodeError> {
    let wrong = || DecodeError::WrongType {
        field: at.to_owned(),
        expected: "a DynamoDB attribute value ({\"S\": ...}, {\"N\": ...}, ...)",
    };
    let object = value
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(wrong)?;
    let (tag, inner) = object.iter().next().ok_or_else(wrong)?;
    Ok(match (tag.as_str(), inner) {
        ("S", Value::String(s)) => Value::String(s.clone()),
        ("N", Value::String(n)) => n
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| n.parse::<f64>().map(Value::from))
            .map_err(|_| wrong())?,
        ("BOOL", Value::Bool(b)) => Value::Bool(*b),
        ("NULL", _) => Value::Null,
        ("M", m) => Value::Object(plain_item(m, at)?),
        ("L", Value::Array(items)) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| plain_value(v, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        ("SS" | "NS" | "BS", Value::Array(items)) => Value::Array(items.clone()),
        ("B", Value::String(b)) => Value::String(b.clone()),
        _ => return Err(wrong()),
    })
}
