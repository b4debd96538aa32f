//! What DynamoDB counts of an item: its size (the 400 KB limit applies to it) and the write
//! units a write of it costs, by the rules of the DynamoDB Developer Guide ("Item sizes and
//! formats"), so the cost of what a record carries (its history above all) can be measured
//! without a table.
//!
//! ```
//! use lifecycle_aws::store::{record_size, write_units};
//! use lifecycle_core::Record;
//! let record = Record::new("i-0abc123def4567890", "ready").with("ItemType", "worker");
//! // "Ident" 5 + 19, "ItemStatus" 10 + 5, "Version" 7 + 1 (the number 0), "ItemType" 8 + 6.
//! assert_eq!(record_size(&record), 61);
//! assert_eq!(write_units(record_size(&record)), 1);
//! ```

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use lifecycle_core::Record;

use super::{attr, to_attribute};

/// The bytes DynamoDB counts for one attribute value (its name not included): strings and
/// binaries their length, a number one byte per two significant digits and one more, a null
/// or a boolean one byte, a list or a map three bytes, one per element, and its elements (a
/// map's names included).
///
/// ```
/// use aws_sdk_dynamodb::types::AttributeValue;
/// use lifecycle_aws::store::attribute_size;
/// assert_eq!(attribute_size(&AttributeValue::S("worker".into())), 6);
/// // Ten digits, eight significant (trailing zeros do not count): four bytes and one.
/// assert_eq!(attribute_size(&AttributeValue::N("1764158400".into())), 5);
/// assert_eq!(attribute_size(&AttributeValue::L(vec![AttributeValue::S("ab".into())])), 3 + 1 + 2);
/// ```
pub fn attribute_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::Ns(items) => items.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(items) => items.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + attribute_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + attribute_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

fn number_size(text: &str) -> usize {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

/// The size of an item: each attribute's name and value.
///
/// ```
/// use std::collections::HashMap;
/// use aws_sdk_dynamodb::types::AttributeValue;
/// use lifecycle_aws::store::item_size;
/// let item = HashMap::from([("Ident".to_owned(), AttributeValue::S("i-1".into()))]);
/// assert_eq!(item_size(&item), 5 + 3);
/// ```
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + attribute_size(v)).sum()
}

/// The size of the item [`DynamoStore`](super::DynamoStore) keeps for `record`: `Ident`,
/// `ItemStatus`, `Version` and every attribute.
///
/// ```
/// use lifecycle_aws::store::record_size;
/// use lifecycle_core::Record;
/// let bare = record_size(&Record::new("i-1", "new"));
/// let noted = record_size(&Record::new("i-1", "new").with("History", "- new ready go e-1 - -"));
/// assert_eq!(noted - bare, "History".len() + "- new ready go e-1 - -".len());
/// ```
pub fn record_size(record: &Record) -> usize {
    let mut item: HashMap<String, AttributeValue> = record
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), to_attribute(v)))
        .collect();
    item.insert(
        attr::IDENT.to_owned(),
        AttributeValue::S(record.ident.clone()),
    );
    item.insert(
        attr::ITEM_STATUS.to_owned(),
        AttributeValue::S(record.state.clone()),
    );
    item.insert(
        attr::VERSION.to_owned(),
        AttributeValue::N(record.version.to_string()),
    );
    item_size(&item)
}

/// The write units a standard write of an item of `size` bytes costs: one per KB started.
///
/// ```
/// use lifecycle_aws::store::write_units;
/// assert_eq!((write_units(1), write_units(1024), write_units(1025)), (1, 1, 2));
/// ```
pub fn write_units(size: usize) -> usize {
    size.div_ceil(1024).max(1)
}
