//! A record's recent story: what moved it, when, on which event, with which command, and how
//! that ended. Written by the dispatcher in the same conditional write as each state change
//! (no extra call), bounded to the last [`HISTORY_LEN`] steps, and made of names and ids only
//! (no attribute values, so no secret), so that "why is this instance stuck?" is answered by
//! reading one item.
//!
//! The steps are one string attribute, [`attr::HISTORY`], a line each, oldest first:
//! `AT FROM TO TRIGGER EVENT COMMAND RESULT`, `-` for what is unknown, `=` for the time and the
//! event of the line before, which the steps of one delivery share (the first line always has
//! its own). One string costs a write one copy where a list would cost one per step, and
//! DynamoDB its characters alone: the ten steps of a long launch fit with the record in one
//! write unit (BENCHMARKS.md, "A record's history").
//!
//! ```
//! use lifecycle_core::{Record, attr};
//! let record = Record::new("i-1", "joined_cluster").with(attr::HISTORY,
//!     "1764158400 finished_cloud_init joining_cluster join_cluster evt-1 cmd-1 -\n\
//!      1764158412 joining_cluster joined_cluster cluster_joined evt-2 cmd-1 Success");
//! let story = record.history();
//! assert_eq!(story[0].trigger, "join_cluster");
//! assert_eq!(story[1].result.as_deref(), Some("Success"));
//! ```

use std::fmt;

use serde_json::{Map, Value};

use crate::{Record, attr};

/// How many steps a record keeps: the newest, the oldest dropped first. Ten is more than a
/// launch or a termination takes in the examples, and keeps the item within one write unit.
///
/// ```
/// assert_eq!(lifecycle_core::HISTORY_LEN, 10);
/// ```
pub const HISTORY_LEN: usize = 10;

/// The longest a field is kept: event ids come from outside, and an item has a size limit.
const FIELD_LEN: usize = 80;

/// One step of a record's story.
///
/// ```
/// use lifecycle_core::HistoryEntry;
/// let entry = HistoryEntry {
///     at: Some(1_764_158_400),
///     from: "joining_cluster".into(),
///     to: "failure".into(),
///     trigger: "cluster_joined".into(),
///     event_id: "evt-2".into(),
///     command: Some("cmd-1".into()),
///     result: Some("Failed".into()),
/// };
/// let stored = entry.to_string();
/// assert_eq!(stored, "1764158400 joining_cluster failure cluster_joined evt-2 cmd-1 Failed");
/// assert_eq!(HistoryEntry::parse(&stored, None), Some(entry));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// When (epoch seconds), if the effects knew the time (the runtime's clock does).
    pub at: Option<u64>,
    /// The state the step started in.
    pub from: String,
    /// The state it stored.
    pub to: String,
    /// The trigger (task) that fired.
    pub trigger: String,
    /// The event that fired it.
    pub event_id: String,
    /// The commands the step sent (comma-separated), or the command whose result it applied.
    pub command: Option<String>,
    /// How it ended: the applied command's status, or `failed` for the step into the failure
    /// state.
    pub result: Option<String>,
}

impl HistoryEntry {
    /// Reads a stored step; `None` if it is not one (an item edited by hand). A time or event
    /// stored as `=` (the step before's) is taken from `previous`.
    ///
    /// ```
    /// use lifecycle_core::HistoryEntry;
    /// let first = HistoryEntry::parse("1764158400 new pending registered evt-9 - -", None).unwrap();
    /// let next = HistoryEntry::parse("= pending ready finish = - -", Some(&first)).unwrap();
    /// assert_eq!((next.at, next.event_id.as_str()), (Some(1_764_158_400), "evt-9"));
    /// assert_eq!(HistoryEntry::parse("- new pending registered evt-9 - -", None).unwrap().at, None);
    /// assert!(HistoryEntry::parse("not a step", None).is_none());
    /// ```
    pub fn parse(text: &str, previous: Option<&HistoryEntry>) -> Option<HistoryEntry> {
        let mut fields = text.split(' ');
        let mut next = || fields.next().filter(|f| !f.is_empty());
        let optional = |field: &str| (field != "-").then(|| field.to_owned());
        let at = match next()? {
            "-" => None,
            "=" => previous.and_then(|p| p.at),
            at => Some(at.parse().ok()?),
        };
        let from = next()?.to_owned();
        let to = next()?.to_owned();
        let trigger = next()?.to_owned();
        let event_id = match next()? {
            "=" => previous.map_or_else(|| "-".to_owned(), |p| p.event_id.clone()),
            id => id.to_owned(),
        };
        let entry = HistoryEntry {
            at,
            from,
            to,
            trigger,
            event_id,
            command: optional(next()?),
            result: optional(next()?),
        };
        next().is_none().then_some(entry)
    }
}

impl fmt::Display for HistoryEntry {
    /// The stored form of a step with its own time and event: fields separated by one space,
    /// `-` for what is unknown; a field from outside loses its whitespace and is cut at 80
    /// characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::with_capacity(96);
        encode(
            &mut line,
            StepNote {
                at: self.at,
                from: &self.from,
                to: &self.to,
                trigger: &self.trigger,
                event_id: &self.event_id,
                command: self.command.as_deref(),
                result: self.result.as_deref(),
            },
            false,
        );
        f.write_str(&line)
    }
}

/// A step as the dispatcher has it, borrowed.
pub(crate) struct StepNote<'a> {
    pub(crate) at: Option<u64>,
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    pub(crate) trigger: &'a str,
    pub(crate) event_id: &'a str,
    pub(crate) command: Option<&'a str>,
    pub(crate) result: Option<&'a str>,
}

/// Appends `step`'s line to `out`; with `same_as_before`, its time and event as `=`.
fn encode(out: &mut String, step: StepNote<'_>, same_as_before: bool) {
    if same_as_before {
        out.push('=');
    } else {
        match step.at {
            Some(at) => push_number(out, at),
            None => out.push('-'),
        }
    }
    for (index, field) in [
        Some(step.from),
        Some(step.to),
        Some(step.trigger),
        Some(step.event_id),
        step.command,
        step.result,
    ]
    .into_iter()
    .enumerate()
    {
        out.push(' ');
        if index == 3 && same_as_before {
            out.push('=');
        } else {
            match field {
                // An id or status from outside that reads as "unknown" or "the line
                // before's" (the trigger is ours: `-` there is "none").
                Some("-" | "=") if index >= 3 => out.push('_'),
                Some(field) => push_field(out, field),
                None => out.push('-'),
            }
        }
    }
}

fn push_number(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|d| char::from(*d)));
}

fn push_field(out: &mut String, field: &str) {
    if field.is_empty() {
        out.push('-');
    } else if field.len() <= FIELD_LEN && field.bytes().all(|b| b.is_ascii_graphic()) {
        // Names and AWS ids: the common case, copied as they are.
        out.push_str(field);
    } else {
        let plain = |c: char| !(c.is_whitespace() || c.is_control());
        out.extend(
            field
                .chars()
                .take(FIELD_LEN)
                .map(|c| if plain(c) { c } else { '_' }),
        );
    }
}

impl Record {
    /// The record's stored story, oldest step first ([`attr::HISTORY`]); lines that do not
    /// read as a step are left out.
    ///
    /// ```
    /// use lifecycle_core::Record;
    /// assert!(Record::new("i-1", "new").history().is_empty());
    /// ```
    pub fn history(&self) -> Vec<HistoryEntry> {
        let Some(text) = self.get_str(attr::HISTORY) else {
            return Vec::new();
        };
        let mut story: Vec<HistoryEntry> = Vec::with_capacity(HISTORY_LEN);
        for line in text.lines() {
            if let Some(entry) = HistoryEntry::parse(line, story.last()) {
                story.push(entry);
            }
        }
        story
    }

    /// When the record's last step was taken (epoch seconds, the time of the delivery that
    /// took it): `None` for a record with no timed step. Read from the end, without parsing
    /// the rest of the story.
    ///
    /// ```
    /// use lifecycle_core::Record;
    /// let record = Record::new("i-1", "ready")
    ///     .with("History", "1764158400 new pending registered evt-9 - -\n= pending ready finish = - -");
    /// assert_eq!(record.last_step_at(), Some(1_764_158_400));
    /// assert_eq!(Record::new("i-1", "new").last_step_at(), None);
    /// ```
    pub fn last_step_at(&self) -> Option<u64> {
        let text = self.get_str(attr::HISTORY)?;
        text.lines()
            .rev()
            .filter_map(|line| line.split(' ').next())
            .find(|at| *at != "=")
            .and_then(|at| at.parse().ok())
    }
}

/// The most a stored history may hold: ten lines of seven fields of at most 80 characters
/// (4 bytes each at worst). Lines written here never reach it; a longer stored value (an item
/// edited by hand, or forged) is replaced rather than grown past DynamoDB's item limit.
const MAX_HISTORY_BYTES: usize = HISTORY_LEN * 7 * (4 * FIELD_LEN + 1);
// A tenth of DynamoDB's 400 KB item limit at most: the rest is the record's.
const _: () = assert!(MAX_HISTORY_BYTES < 400 * 1024 / 10);

/// Adds `step` to the history in `attributes` in place: the oldest lines dropped past
/// [`HISTORY_LEN`], and a stored value that could not be one of ours replaced. Returns the
/// value to store. `same_as_before`: the line before is this delivery's own (same time, same
/// event).
pub(crate) fn append(
    attributes: &mut Map<String, Value>,
    step: StepNote<'_>,
    same_as_before: bool,
) -> Value {
    match attributes.get_mut(attr::HISTORY) {
        // The common case: grown in place, copied once for the write.
        Some(Value::String(history)) if history.len() <= MAX_HISTORY_BYTES => {
            add_line(history, step, same_as_before);
            Value::String(history.clone())
        }
        _ => {
            let mut history = String::with_capacity(128);
            add_line(&mut history, step, false);
            attributes.insert(attr::HISTORY.to_owned(), Value::String(history.clone()));
            Value::String(history)
        }
    }
}

/// Appends `step`'s line to `history` and keeps the newest lines.
fn add_line(history: &mut String, step: StepNote<'_>, same_as_before: bool) {
    let same_as_before = same_as_before && !history.is_empty();
    if !history.is_empty() {
        history.push('\n');
    }
    encode(history, step, same_as_before);
    keep_newest(history);
}

/// Keeps the last [`HISTORY_LEN`] lines; the new first line, if it said `=`, gets the time and
/// event of the nearest dropped line that has its own (the first line always has its own).
fn keep_newest(history: &mut String) {
    let lines = history.matches('\n').count() + 1;
    let Some(excess) = lines.checked_sub(HISTORY_LEN).filter(|e| *e > 0) else {
        return;
    };
    let cut = history
        .match_indices('\n')
        .nth(excess - 1)
        .map_or(0, |(i, _)| i + 1);
    let first_end = history[cut..].find('\n').map_or(history.len(), |e| cut + e);
    let first = &history[cut..first_end];
    let Some(rest) = first.strip_prefix("= ") else {
        history.drain(..cut);
        return;
    };
    // The nearest dropped line with its own time and event.
    let owner = history[..cut.saturating_sub(1)]
        .rsplit('\n')
        .find(|line| !line.starts_with("= "))
        .unwrap_or("- - - - -");
    let mut owned = owner.split(' ');
    let (at, event) = (owned.next().unwrap_or("-"), owned.nth(3).unwrap_or("-"));
    // `rest` is `FROM TO TRIGGER = COMMAND RESULT`.
    let mut parts = rest.splitn(4, ' ');
    let (from, to, trigger, tail) = (
        parts.next().unwrap_or("-"),
        parts.next().unwrap_or("-"),
        parts.next().unwrap_or("-"),
        parts.next().unwrap_or("- - -"),
    );
    // The event is `=` too (they are written together), unless the item was edited by hand.
    let (event, tail) = match tail.strip_prefix("= ") {
        Some(tail) => (event, tail),
        None => ("", tail),
    };
    let mut line = String::with_capacity(first.len() + at.len() + event.len());
    for part in [at, from, to, trigger, event, tail] {
        if !part.is_empty() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(part);
        }
    }
    history.replace_range(..first_end, &line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step<'a>(at: u64, from: &'a str, to: &'a str, event: &'a str) -> StepNote<'a> {
        StepNote {
            at: Some(at),
            from,
            to,
            trigger: "go",
            event_id: event,
            command: None,
            result: None,
        }
    }

    #[test]
    fn past_the_bound_the_oldest_goes_and_the_new_first_line_is_written_out() {
        let mut record = Record::new("i-1", "s0");
        let mut same = false;
        for n in 0..HISTORY_LEN + 3 {
            let (from, to) = (format!("s{n}"), format!("s{}", n + 1));
            append(&mut record.attributes, step(100, &from, &to, "e-1"), same);
            same = true;
        }
        let text = record.get_str(attr::HISTORY).unwrap();
        assert_eq!(text.lines().count(), HISTORY_LEN);
        assert_eq!(text.lines().next(), Some("100 s3 s4 go e-1 - -"));
        assert!(text.lines().skip(1).all(|l| l.starts_with("= ")), "{text}");
        let story = record.history();
        assert_eq!(story.len(), HISTORY_LEN);
        assert!(
            story
                .iter()
                .all(|s| s.at == Some(100) && s.event_id == "e-1")
        );
        assert_eq!(story.last().unwrap().to, format!("s{}", HISTORY_LEN + 3));
    }

    #[test]
    fn a_stored_history_that_is_not_ours_is_bounded_by_the_next_step() {
        // A thousand lines (an item edited by hand): the next step keeps the newest ten, and
        // the new first line, written `=`, gets the time and event of the last full line.
        let mut lines: Vec<String> = (0..1000).map(|n| format!("{n} a b go e-{n} - -")).collect();
        lines.push("= b c go = - -".into());
        lines.extend((0..8).map(|_| "= c c go = - -".to_owned()));
        let mut record = Record::new("i-1", "c").with(attr::HISTORY, lines.join("\n"));
        append(&mut record.attributes, step(2000, "c", "d", "e-new"), false);
        let text = record.get_str(attr::HISTORY).unwrap();
        assert_eq!(text.lines().count(), HISTORY_LEN);
        assert_eq!(text.lines().next(), Some("999 b c go e-999 - -"));
        assert_eq!(text.lines().last(), Some("2000 c d go e-new - -"));
        // Half a megabyte on one line (forged): replaced, not grown past the item limit.
        let mut forged = Record::new("i-2", "c").with(attr::HISTORY, "x".repeat(500_000));
        append(&mut forged.attributes, step(1, "c", "d", "e-1"), true);
        assert_eq!(forged.get_str(attr::HISTORY), Some("1 c d go e-1 - -"));
    }

    #[test]
    fn a_field_from_outside_that_reads_as_a_marker_is_not_taken_for_one() {
        let mut record = Record::new("i-1", "a");
        append(&mut record.attributes, step(1, "a", "b", "e-1"), false);
        append(&mut record.attributes, step(2, "b", "c", "="), false);
        append(&mut record.attributes, step(3, "c", "d", "-"), false);
        let story = record.history();
        assert_eq!(story[1].event_id, "_", "not the line before's event");
        assert_eq!((story[1].at, story[2].event_id.as_str()), (Some(2), "_"));
    }

    #[test]
    fn a_field_from_outside_is_kept_on_one_line_and_short() {
        let mut record = Record::new("i-1", "a");
        let long = format!("evt\n{}", "x".repeat(200));
        append(&mut record.attributes, step(1, "a", "b", &long), false);
        let text = record.get_str(attr::HISTORY).unwrap();
        assert_eq!(text.lines().count(), 1);
        let event = text.split(' ').nth(4).unwrap();
        assert_eq!(event.len(), FIELD_LEN);
        assert!(event.starts_with("evt_x"));
    }
}
