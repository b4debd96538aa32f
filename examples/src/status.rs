//! An operator's view of a node table: who waits, for what, since when, until when — read from
//! the index of waits (no `Scan` for the waiting list) — and, on request, every record's state.
//! `lifecycle-local status` prints it.

use std::time::Duration;

use lifecycle_aws::store::{DynamoStore, NodeTable, StoreError, Wait};
use lifecycle_core::Store;
use serde::Serialize;

/// One waiting lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    /// The instance (or scheduled machine) whose lifecycle waits.
    pub ident: String,
    /// Its record's state (`?` if the record is gone).
    pub state: String,
    /// What it waits for: `command ID (DOCUMENT…)` or `cloud-init (parked launch)`.
    pub waits_for: String,
    /// Since when (epoch seconds), if known.
    pub since: Option<u64>,
    /// Its deadline (epoch seconds), if known.
    pub deadline: Option<u64>,
    /// Which limit sets the deadline: `configured` (the runtime's wait deadline), or `hook`
    /// (the lifecycle hook's global timeout comes first; known with `--groups`).
    pub limit: &'static str,
    /// The lifecycle action the wait belongs to, if any.
    #[serde(skip)]
    pub action: Option<lifecycle_core::LifecycleAction>,
}

impl Waiting {
    /// A wait that began at `since`, ending at the configured `deadline` after it.
    fn new(
        ident: String,
        state: String,
        waits_for: String,
        since: Option<u64>,
        action: Option<lifecycle_core::LifecycleAction>,
        deadline: Duration,
    ) -> Self {
        Waiting {
            deadline: since.map(|s| s.saturating_add(deadline.as_secs())),
            ident,
            state,
            waits_for,
            since,
            limit: "configured",
            action,
        }
    }
}

/// What `record` waits for, from the record itself: each command it awaits (its registration
/// read by id) and a launch parked on it. One read per awaited command, no Query of the
/// index: what `status --instance` shows.
pub async fn waits_of(
    table: &DynamoStore,
    record: &lifecycle_core::Record,
    deadline: Duration,
) -> Result<Vec<Waiting>, StoreError> {
    let wait = |waits_for: String, since, action| {
        Waiting::new(
            record.ident.clone(),
            record.state.clone(),
            waits_for,
            since,
            action,
            deadline,
        )
    };
    let mut rows = Vec::new();
    for id in record.awaited_commands() {
        rows.push(match table.peek_command(id).await? {
            Some(command) => wait(
                format!("command {id}"),
                command.registered_at,
                command.lifecycle,
            ),
            None => wait(
                format!("command {id} (not registered: its result came, or it expired)"),
                None,
                None,
            ),
        });
    }
    match lifecycle_aws::store::pending_from_image(&record.ident, &record.attributes) {
        Some(Ok(pending)) => rows.push(wait(
            "cloud-init (parked launch)".to_owned(),
            pending.parked_at,
            Some(pending.action),
        )),
        Some(Err(e)) => rows.push(wait(format!("malformed: {e}"), None, None)),
        None => {}
    }
    Ok(rows)
}

/// One record of the table, for `--all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordState {
    /// `Ident`.
    pub ident: String,
    /// `ItemType`, if any.
    pub item_type: Option<String>,
    /// `ItemStatus`.
    pub state: String,
}

/// Every lifecycle of model `waiter` that waits, from the index of waits (paged Query), with
/// its record's state; `deadline` is the runtime's wait deadline. Malformed items are listed
/// with what is wrong.
pub async fn waiting(
    table: &DynamoStore,
    waiter: &str,
    deadline: Duration,
) -> Result<Vec<Waiting>, StoreError> {
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .due_waits(waiter, u64::MAX, cursor.take(), 100)
            .await?;
        for wait in page.waits {
            let (ident, waits_for, since, action) = match wait {
                Ok(Wait::Command(command)) => (
                    command.owner.clone(),
                    format!("command {}", command.command_id),
                    command.registered_at,
                    command.lifecycle,
                ),
                Ok(Wait::Parked { ident, pending }) => (
                    ident,
                    "cloud-init (parked launch)".to_owned(),
                    pending.parked_at,
                    Some(pending.action),
                ),
                // A record at rest, checked now and then for its instance: nothing waits.
                Ok(Wait::AliveCheck { .. }) => continue,
                // A kind of wait a newer library notes: not this tool's to explain.
                Ok(_) => continue,
                Err(e) => (String::from("?"), format!("malformed: {e}"), None, None),
            };
            let state = match table.load(&ident).await {
                Ok(Some(record)) => record.state,
                _ => "?".to_owned(),
            };
            rows.push(Waiting::new(
                ident, state, waits_for, since, action, deadline,
            ));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    rows.sort_by(|a, b| a.ident.cmp(&b.ident));
    Ok(rows)
}

/// Every record's state: a `Scan` of the whole table, for an operator who asks for it
/// (`--all`), never on a Lambda's path.
pub async fn all_records(table: &DynamoStore) -> Result<Vec<RecordState>, StoreError> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let text =
        |item: &std::collections::HashMap<String, AttributeValue>, key: &str| match item.get(key) {
            Some(AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        };
    let mut rows = Vec::new();
    let mut pages = table
        .client()
        .scan()
        .table_name(table.table())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| StoreError::Request {
            operation: "Scan",
            table: table.table().to_owned(),
            message: lifecycle_aws::store::error_chain(&e),
            transient: lifecycle_aws::store::is_transient(&e),
        })?;
        for item in page.items() {
            let Some(state) = text(item, "ItemStatus") else {
                continue; // command items have no state
            };
            rows.push(RecordState {
                ident: text(item, "Ident").unwrap_or_default(),
                item_type: text(item, "ItemType"),
                state,
            });
        }
    }
    rows.sort_by(|a, b| a.ident.cmp(&b.ident));
    Ok(rows)
}

/// `2026-11-25T10:00:00Z` for epoch seconds.
///
/// ```
/// assert_eq!(lifecycle_examples::status::utc(1_795_564_800), "2026-11-25T00:00:00Z");
/// ```
pub fn utc(epoch_seconds: u64) -> String {
    use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
    // A time past what the formatter takes (an item's absurd number) is shown as its number.
    i64::try_from(epoch_seconds)
        .ok()
        .and_then(|secs| DateTime::from_secs(secs).fmt(DateTimeFormat::DateTime).ok())
        .unwrap_or_else(|| epoch_seconds.to_string())
}

/// The waiting list as an on-call engineer pastes it: one line a lifecycle, aligned.
pub fn waiting_table(rows: &[Waiting]) -> String {
    let time = |t: Option<u64>| t.map_or_else(|| "-".to_owned(), utc);
    let mut out = format!(
        "{:<20} {:<22} {:<46} {:<20} {}\n",
        "instance", "state", "waits for", "since", "deadline"
    );
    for row in rows {
        out.push_str(&format!(
            "{:<20} {:<22} {:<46} {:<20} {}\n",
            row.ident,
            row.state,
            row.waits_for,
            time(row.since),
            match row.limit {
                "hook" => format!("{} (hook's timeout)", time(row.deadline)),
                _ => time(row.deadline),
            }
        ));
    }
    out.push_str(&format!("{} waiting\n", rows.len()));
    out
}

/// One record's story, for `status --instance`: where it is, the steps that brought it there
/// (its stored history), and what it waits for now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Story {
    /// `Ident`.
    pub ident: String,
    /// `ItemType`, if any.
    pub item_type: Option<String>,
    /// `ItemStatus`.
    pub state: String,
    /// The record's version (writes so far).
    pub version: u64,
    /// Its last steps, oldest first.
    pub steps: Vec<lifecycle_core::HistoryEntry>,
    /// Its waits in the index (with their deadlines): none if it is at rest.
    pub waits: Vec<Waiting>,
    /// What the model makes of the stored state, if it is not one of its states (a former
    /// name, or an unknown one).
    pub state_note: Option<String>,
}

impl Story {
    /// `record`'s story, with its `waits` ([`waits_of`]).
    ///
    /// ```
    /// use lifecycle_core::{Record, attr};
    /// use lifecycle_examples::status::Story;
    /// let record = Record::new("i-1", "pending").with(attr::HISTORY, "- new pending registered e-1 - -");
    /// let story = Story::of(&record, Vec::new());
    /// assert_eq!((story.steps.len(), story.waits.len()), (1, 0));
    /// ```
    pub fn of(record: &lifecycle_core::Record, waits: Vec<Waiting>) -> Story {
        Story {
            ident: record.ident.clone(),
            item_type: record.item_type().map(str::to_owned),
            state: record.state.clone(),
            version: record.version,
            steps: record.history(),
            waits,
            state_note: None,
        }
    }

    /// Notes what model `M` makes of the stored state when it is not one of its states.
    ///
    /// ```
    /// use lifecycle_core::Record;
    /// use lifecycle_core::testing::example::Node;
    /// use lifecycle_examples::status::Story;
    /// let story = Story::of(&Record::new("i-1", "labelling"), Vec::new()).judged_by::<Node>();
    /// assert!(story.state_note.unwrap().starts_with("`labelling` is not a state of Node"));
    /// assert!(Story::of(&Record::new("i-1", "ready"), Vec::new()).judged_by::<Node>().state_note.is_none());
    /// ```
    pub fn judged_by<M: lifecycle_core::LifecycleModel>(mut self) -> Story {
        use std::str::FromStr;
        let definition = &M::DEFINITION;
        if M::State::from_str(&self.state).is_ok() {
            return self;
        }
        self.state_note = Some(
            match definition.former.iter().find(|f| f.name == self.state) {
                Some(former) if former.retired => format!(
                    "`{}` is a retired state of {}: the next event moves the record to `{}`",
                    self.state, definition.name, former.now
                ),
                Some(former) => format!(
                    "`{}` is {}'s former name of `{}`: read as that, written so at the next state change",
                    self.state, definition.name, former.now
                ),
                None => format!(
                    "`{}` is not a state of {} nor a former one: every event for this record fails \
                     (metric EventsFailed, Retryable=false); name it in the model \
                     (`renamed(...)` or `retired(...)`) or move the record",
                    self.state, definition.name
                ),
            },
        );
        self
    }
}

/// A record's stored steps as a timeline, one line a step (what the local simulation prints
/// for each instance, and `status --instance` above what the instance waits for).
///
/// ```
/// use lifecycle_core::HistoryEntry;
/// let step = HistoryEntry::parse("1795564800 finished_cloud_init joining_cluster join_cluster e-1 cmd-1 -", None).unwrap();
/// let table = lifecycle_examples::status::steps_table(&[step]);
/// assert!(table.contains("2026-11-25T00:00:00Z  finished_cloud_init → joining_cluster"));
/// assert!(table.contains("join_cluster") && table.contains("cmd-1"));
/// ```
pub fn steps_table(steps: &[lifecycle_core::HistoryEntry]) -> String {
    let mut out = format!(
        "{:<20}  {:<44} {:<22} {:<46} {:<38} {}\n",
        "at", "step", "trigger", "event", "command", "result"
    );
    for step in steps {
        out.push_str(&format!(
            "{:<20}  {:<44} {:<22} {:<46} {:<38} {}\n",
            step.at.map_or_else(|| "-".to_owned(), utc),
            format!("{} → {}", step.from, step.to),
            step.trigger,
            step.event_id,
            step.command.as_deref().unwrap_or("-"),
            step.result.as_deref().unwrap_or("-"),
        ));
    }
    out
}

/// `status --instance`: the record, its timeline, and what it waits for now with the deadline
/// that applies.
///
/// ```
/// use lifecycle_core::{Record, attr};
/// use lifecycle_examples::status::{story_text, Story};
/// let record = Record::new("i-1", "ready").with("ItemType", "worker")
///     .with(attr::HISTORY, "1795564800 joined_cluster ready mark_ready e-2 - -");
/// let text = story_text(&Story::of(&record, Vec::new()));
/// assert!(text.starts_with("i-1  worker  ready  (version 0)\n"));
/// assert!(text.ends_with("waits for: nothing (no wait in the index: at rest)\n"));
/// ```
pub fn story_text(story: &Story) -> String {
    let time = |t: Option<u64>| t.map_or_else(|| "-".to_owned(), utc);
    let mut out = format!(
        "{}  {}  {}  (version {})\n\n",
        story.ident,
        story.item_type.as_deref().unwrap_or("-"),
        story.state,
        story.version
    );
    if let Some(note) = &story.state_note {
        out.push_str(&format!("state: {note}\n\n"));
    }
    if story.steps.is_empty() {
        out.push_str("no steps stored (a record this library has not moved yet)\n");
    } else {
        out.push_str(&steps_table(&story.steps));
    }
    out.push('\n');
    if story.waits.is_empty() {
        out.push_str("waits for: nothing (no wait in the index: at rest)\n");
    }
    for wait in &story.waits {
        out.push_str(&format!(
            "waits for: {}, since {}, deadline {} ({})\n",
            wait.waits_for,
            time(wait.since),
            time(wait.deadline),
            match wait.limit {
                "hook" => "the lifecycle hook's global timeout comes first",
                _ => "the configured wait deadline",
            }
        ));
    }
    out
}

/// `--all`: every record's state.
pub fn records_table(rows: &[RecordState]) -> String {
    let mut out = format!("{:<20} {:<10} {}\n", "ident", "type", "state");
    for row in rows {
        out.push_str(&format!(
            "{:<20} {:<10} {}\n",
            row.ident,
            row.item_type.as_deref().unwrap_or("-"),
            row.state
        ));
    }
    out.push_str(&format!("{} records\n", rows.len()));
    out
}

/// Actions Auto Scaling holds that no lifecycle handles (`--groups`): one line each, with
/// what the next sweep does about it.
///
/// ```
/// use lifecycle_aws::fleet::FleetInstance;
/// use lifecycle_aws::runtime::UnhandledAction;
/// let row = UnhandledAction {
///     instance: FleetInstance { instance_id: "i-1".into(), group: "workers".into(), lifecycle_state: "Pending:Wait".into() },
///     next_sweep: "starts its lifecycle (its event was lost)".into(),
/// };
/// let table = lifecycle_examples::status::unhandled_table(&[row]);
/// assert!(table.contains("i-1") && table.ends_with("1 held by Auto Scaling, handled by no lifecycle\n"));
/// ```
pub fn unhandled_table(rows: &[lifecycle_aws::runtime::UnhandledAction]) -> String {
    let mut out = format!(
        "{:<20} {:<20} {:<24} {}\n",
        "instance", "group", "Auto Scaling state", "the next sweep"
    );
    for row in rows {
        out.push_str(&format!(
            "{:<20} {:<20} {:<24} {}\n",
            row.instance.instance_id,
            row.instance.group,
            row.instance.lifecycle_state,
            row.next_sweep
        ));
    }
    out.push_str(&format!(
        "{} held by Auto Scaling, handled by no lifecycle\n",
        rows.len()
    ));
    out
}
