//! [`DynamoStore`]: the node table in DynamoDB, every write a conditional one.

use super::*;

/// The node table in DynamoDB.
///
/// Deployed, `DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "lifecycle-nodes")`;
/// here with a mocked client, to show an item as the original library wrote it (no `Version`
/// yet) read as a record:
///
/// ```
/// use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
/// use aws_sdk_dynamodb::types::AttributeValue;
/// use aws_smithy_mocks::{mock, mock_client};
/// use lifecycle_aws::store::DynamoStore;
/// use lifecycle_core::Store;
/// let get = mock!(aws_sdk_dynamodb::Client::get_item)
///     .match_requests(|r| r.table_name() == Some("lifecycle-nodes") && r.consistent_read() == Some(true))
///     .then_output(|| GetItemOutput::builder()
///         .item("Ident", AttributeValue::S("i-1".into()))
///         .item("ItemStatus", AttributeValue::S("ready_for_operation".into()))
///         .item("ItemType", AttributeValue::S("worker".into()))
///         .build());
/// let store = DynamoStore::new(mock_client!(aws_sdk_dynamodb, [&get]), "lifecycle-nodes");
/// let record = lifecycle_aws::testing::block_on(store.load("i-1")).unwrap().unwrap();
/// assert_eq!((record.state.as_str(), record.version), ("ready_for_operation", 0));
/// assert_eq!(record.attributes["ItemType"], "worker");
/// ```
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    command_ttl: Duration,
}

impl DynamoStore {
    /// The table `table`, through `client`. Command items expire a day after they are sent.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            command_ttl: Duration::from_secs(24 * 3600),
        }
    }

    /// Creates the node table `table` (hash key `Ident`, on demand, with the index of waits
    /// [`WAITS_INDEX`]) and returns the store on it: for local servers, simulations and tests (`deploy/template.yaml` creates it on AWS,
    /// with its stream and TTL).
    ///
    /// ```no_run
    /// # async fn f(client: aws_sdk_dynamodb::Client) -> Result<(), lifecycle_aws::store::StoreError> {
    /// let store = lifecycle_aws::store::DynamoStore::create_table(client, "nodes").await?;
    /// assert_eq!(store.table(), "nodes");
    /// # Ok(()) }
    /// ```
    pub async fn create_table(
        client: Client,
        table: impl Into<String>,
    ) -> Result<Self, StoreError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
            Projection, ProjectionType, ScalarAttributeType,
        };
        let store = DynamoStore::new(client, table);
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| {
            store.request_error_message("CreateTable", e.to_string(), false)
        };
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(invalid)
        };
        let definition = |name: &str, kind| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .map_err(invalid)
        };
        // The sparse index of waits: only waiting items carry its keys.
        let waits = GlobalSecondaryIndex::builder()
            .index_name(WAITS_INDEX)
            .key_schema(key(attr::WAIT_SHARD, KeyType::Hash)?)
            .key_schema(key(attr::DUE_AT, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(invalid)?;
        store
            .client
            .create_table()
            .table_name(&store.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(attr::IDENT, KeyType::Hash)?)
            .attribute_definitions(definition(attr::IDENT, ScalarAttributeType::S)?)
            .attribute_definitions(definition(attr::WAIT_SHARD, ScalarAttributeType::S)?)
            .attribute_definitions(definition(attr::DUE_AT, ScalarAttributeType::N)?)
            .global_secondary_indexes(waits)
            .send()
            .await
            .map_err(|e| store.request_error("CreateTable", e))?;
        Ok(store)
    }

    fn request_error_message(
        &self,
        operation: &'static str,
        message: String,
        transient: bool,
    ) -> StoreError {
        StoreError::Request {
            operation,
            table: self.table.clone(),
            message,
            transient,
        }
    }

    /// How long command items live (their `ExpiresAt`).
    pub fn with_command_ttl(mut self, ttl: Duration) -> Self {
        self.command_ttl = ttl;
        self
    }

    /// Deletes command `command_id`'s registration (only the one made at `sent_at_version`, if
    /// given) and returns it; `None` if there is no such registration. One conditional
    /// `DeleteItem`: a retry whose first answer was lost finds nothing, as a duplicate does.
    async fn delete_command(
        &self,
        command_id: &str,
        sent_at_version: Option<u64>,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(command_id))
            .expression_attribute_names("#type", attr::ITEM_TYPE)
            .expression_attribute_values(":command", s(COMMAND_ITEM_TYPE))
            .return_values(ReturnValue::AllOld);
        request = match sent_at_version {
            None => request.condition_expression("#type = :command"),
            Some(version) => request
                .condition_expression("#type = :command AND #sent = :version")
                .expression_attribute_names("#sent", attr::SENT_AT_VERSION)
                .expression_attribute_values(":version", n(version)),
        };
        let old = match request.send().await {
            Ok(output) => output.attributes,
            Err(e) if is_conditional_failure(&e) => None,
            Err(e) => return Err(self.request_error("DeleteItem", e)),
        };
        old.map(|item| command_from_item(command_id, &item))
            .transpose()
    }

    /// The table's name.
    ///
    /// ```
    /// use lifecycle_aws::store::DynamoStore;
    /// # let config = lifecycle_aws::testing::example_sdk_config();
    /// assert_eq!(DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "nodes").table(), "nodes");
    /// ```
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn request_error<E, R>(&self, operation: &'static str, error: SdkError<E, R>) -> StoreError
    where
        E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
        R: std::fmt::Debug + 'static,
    {
        let transient = is_transient(&error);
        self.request_error_message(operation, error_chain(&error), transient)
    }
}

impl DynamoStore {
    /// Sets number attribute `name` on `ident` if the item has attribute `present` (nothing
    /// otherwise): bookkeeping that needs no version, idempotent when sent again.
    async fn set_number_where(
        &self,
        ident: &str,
        name: &str,
        value: u64,
        present: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression("SET #name = :value")
            .condition_expression("attribute_exists(#present)")
            .expression_attribute_names("#name", name)
            .expression_attribute_names("#present", present)
            .expression_attribute_values(":value", n(value))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }
}

impl NodeTable for DynamoStore {
    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        until: u64,
        now: u64,
    ) -> Result<ClaimOutcome, StoreError> {
        let next = request.version + 1;
        let mut values = HashMap::from([
            (":from".to_owned(), s(request.state)),
            (":holder".to_owned(), s(request.holder)),
            (":until".to_owned(), n(until)),
            (":now".to_owned(), n(now)),
            (":next".to_owned(), n(next)),
            (":token".to_owned(), s(request.token)),
        ]);
        let condition = format!(
            "#status = :from AND {} AND (attribute_not_exists(#by) OR #until < :now)",
            version_condition(request.version, &mut values)
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(request.ident))
            .update_expression(
                "SET #by = :holder, #until = :until, #version = :next, #token = :token",
            )
            .condition_expression(condition)
            .set_expression_attribute_names(Some(HashMap::from([
                ("#status".to_owned(), attr::ITEM_STATUS.to_owned()),
                ("#version".to_owned(), attr::VERSION.to_owned()),
                ("#by".to_owned(), attr::CLAIMED_BY.to_owned()),
                ("#until".to_owned(), attr::CLAIMED_UNTIL.to_owned()),
                ("#token".to_owned(), attr::WRITE_TOKEN.to_owned()),
            ])))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(ClaimOutcome::Claimed { version: next }),
            Err(e) => e,
        };
        let item = match conditional_failure(&error) {
            Some(Some(item)) => item,
            Some(None) => return Ok(ClaimOutcome::Lost),
            None => return Err(self.request_error("UpdateItem", error)),
        };
        if holds_write(item, request.token, next) {
            return Ok(ClaimOutcome::Claimed { version: next });
        }
        let moved = item.get(attr::ITEM_STATUS) != Some(&s(request.state))
            || item_version(item) != request.version;
        Ok(if moved {
            ClaimOutcome::Lost
        } else {
            ClaimOutcome::Busy {
                until: number(item, attr::CLAIMED_UNTIL).unwrap_or(0),
            }
        })
    }

    async fn release_claim(
        &self,
        ident: &str,
        holder: &str,
        version: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression("SET #until = :zero")
            .condition_expression("#by = :holder AND #version = :version")
            .expression_attribute_names("#until", attr::CLAIMED_UNTIL)
            .expression_attribute_names("#by", attr::CLAIMED_BY)
            .expression_attribute_names("#version", attr::VERSION)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":holder", s(holder))
            .expression_attribute_values(":version", n(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }

    async fn register_command(
        &self,
        registration: CommandRegistration<'_>,
    ) -> Result<(), StoreError> {
        let CommandRegistration {
            command_id,
            owner,
            targets,
            lifecycle,
            event_id,
            comment,
            document_name,
            registered_at,
            sent_at_version,
            marker,
            due_at,
            waiter,
        } = registration;
        let expires = SystemTime::now()
            .checked_add(self.command_ttl)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            // A retry whose first answer was lost, or an adoption, finds its own marker; a
            // delivery that lost its claim while paused does not take back a command a later
            // holder adopted (registered at a later claim's version).
            .condition_expression(
                "attribute_not_exists(#ident) OR (#marker = :marker AND \
                 (attribute_not_exists(#sent) OR #sent <= :version))",
            )
            .expression_attribute_names("#ident", attr::IDENT)
            .expression_attribute_names("#marker", attr::MARKER)
            .expression_attribute_names("#sent", attr::SENT_AT_VERSION)
            .expression_attribute_values(":marker", s(marker))
            .expression_attribute_values(":version", n(sent_at_version))
            .item(attr::IDENT, s(command_id))
            .item(attr::MARKER, s(marker))
            .item(attr::WAIT_SHARD, s(waiter))
            .item(attr::DUE_AT, n(due_at))
            .item(
                attr::SENT_AT_VERSION,
                AttributeValue::N(sent_at_version.to_string()),
            )
            .item(attr::ITEM_TYPE, s(COMMAND_ITEM_TYPE))
            .item(attr::OWNER, s(owner))
            .item(
                attr::RUNNING_ON,
                s(targets.first().map_or("", String::as_str)),
            )
            .item(
                attr::TARGETS,
                AttributeValue::L(targets.iter().map(|t| s(t)).collect()),
            )
            .item("EventId", s(event_id))
            .item("Commands", s(document_name))
            .item(attr::EXPIRES_AT, AttributeValue::N(expires.to_string()))
            .item(
                attr::REGISTERED_AT,
                AttributeValue::N(registered_at.to_string()),
            );
        if let Some(comment) = comment {
            request = request.item("Comment", s(comment));
        }
        if let Some(action) = lifecycle {
            request = request.item(attr::LIFECYCLE_DATA, action_to_item(action));
        }
        request
            .send()
            .await
            .map_err(|e| self.request_error("PutItem", e))?;
        Ok(())
    }

    async fn consume_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        self.delete_command(command_id, None).await
    }

    async fn withdraw_command(
        &self,
        command_id: &str,
        sent_at_version: u64,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        self.delete_command(command_id, Some(sent_at_version)).await
    }

    async fn first_seen(
        &self,
        command_id: &str,
        waiter: &str,
        now: u64,
    ) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(command_id))
            // Into the index of waits too: the original library's commands are not in it.
            .update_expression(
                "SET #at = if_not_exists(#at, :now), #shard = if_not_exists(#shard, :shard), \
                 #due = if_not_exists(#due, :now)",
            )
            .condition_expression("#type = :command")
            .expression_attribute_names("#at", attr::REGISTERED_AT)
            .expression_attribute_names("#shard", attr::WAIT_SHARD)
            .expression_attribute_names("#due", attr::DUE_AT)
            .expression_attribute_values(":shard", s(waiter))
            .expression_attribute_names("#type", attr::ITEM_TYPE)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":command", s(COMMAND_ITEM_TYPE))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match output {
            Ok(output) => Ok(output
                .attributes
                .as_ref()
                .and_then(|a| number(a, attr::REGISTERED_AT))
                .unwrap_or(now)),
            // Consumed in the meantime: its wait is over anyway.
            Err(e) if is_conditional_failure(&e) => Ok(now),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }

    async fn peek_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(command_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.request_error("GetItem", e))?;
        match output.item {
            Some(item) if item.get(attr::ITEM_TYPE) == Some(&s(COMMAND_ITEM_TYPE)) => {
                command_from_item(command_id, &item).map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn due_waits(
        &self,
        waiter: &str,
        now: u64,
        after: Option<WaitCursor>,
        limit: usize,
    ) -> Result<DueWaits, StoreError> {
        // The index is eventually consistent: a wait that just ended may still show, and is
        // checked again (conditionally) when it is handled.
        let start = after.map(|cursor| {
            HashMap::from([
                (attr::IDENT.to_owned(), s(&cursor.ident)),
                (attr::WAIT_SHARD.to_owned(), s(waiter)),
                (attr::DUE_AT.to_owned(), n(cursor.due_at)),
            ])
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(WAITS_INDEX)
            .key_condition_expression("#shard = :shard AND #due <= :now")
            .expression_attribute_names("#shard", attr::WAIT_SHARD)
            .expression_attribute_names("#due", attr::DUE_AT)
            .expression_attribute_values(":shard", s(waiter))
            .expression_attribute_values(":now", n(now))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| self.request_error("Query", e))?;
        let next = output.last_evaluated_key().map(|key| WaitCursor {
            ident: match key.get(attr::IDENT) {
                Some(AttributeValue::S(ident)) => ident.clone(),
                _ => String::new(),
            },
            due_at: number(key, attr::DUE_AT).unwrap_or(now),
        });
        let waits = output.items().iter().map(wait_from_item).collect();
        Ok(DueWaits { waits, next })
    }

    async fn reschedule(&self, ident: &str, due_at: u64) -> Result<(), StoreError> {
        self.set_number_where(ident, attr::DUE_AT, due_at, attr::WAIT_SHARD)
            .await
    }

    async fn retain_until(&self, ident: &str, expires_at: u64) -> Result<(), StoreError> {
        self.set_number_where(ident, attr::EXPIRES_AT, expires_at, attr::IDENT)
            .await
    }

    async fn park_lifecycle(
        &self,
        ident: &str,
        waiting: &[&str],
        pending: &PendingLifecycle,
        waiter: &str,
        due_at: u64,
    ) -> Result<bool, StoreError> {
        let mut values: HashMap<String, AttributeValue> = waiting
            .iter()
            .enumerate()
            .map(|(i, state)| (format!(":w{i}"), s(state)))
            .collect();
        values.insert(":pending".into(), pending_to_item(pending));
        values.insert(":shard".into(), s(waiter));
        values.insert(":due".into(), n(due_at));
        let placeholders: Vec<String> = (0..waiting.len()).map(|i| format!(":w{i}")).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression("SET #pending = :pending, #shard = :shard, #due = :due")
            .expression_attribute_names("#shard", attr::WAIT_SHARD)
            .expression_attribute_names("#due", attr::DUE_AT)
            .condition_expression(format!("#status IN ({})", placeholders.join(", ")))
            .expression_attribute_names("#pending", attr::PENDING_LIFECYCLE)
            .expression_attribute_names("#status", attr::ITEM_STATUS)
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }

    async fn schedule_alive_check(
        &self,
        ident: &str,
        version: u64,
        waiter: &str,
        due_at: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression("SET #shard = :shard, #due = :due, #alive = :alive")
            .condition_expression(
                "#version = :version AND attribute_not_exists(#pending) AND attribute_exists(#ident)",
            )
            .expression_attribute_names("#shard", attr::WAIT_SHARD)
            .expression_attribute_names("#due", attr::DUE_AT)
            .expression_attribute_names("#alive", attr::ALIVE_CHECK)
            .expression_attribute_names("#version", attr::VERSION)
            .expression_attribute_names("#pending", attr::PENDING_LIFECYCLE)
            .expression_attribute_names("#ident", attr::IDENT)
            .expression_attribute_values(":shard", s(waiter))
            .expression_attribute_values(":due", n(due_at))
            .expression_attribute_values(":alive", AttributeValue::Bool(true))
            .expression_attribute_values(":version", n(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }

    async fn create(&self, ident: &str, state: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .condition_expression("attribute_not_exists(#ident)")
            .expression_attribute_names("#ident", attr::IDENT)
            .item(attr::IDENT, s(ident))
            .item(attr::ITEM_STATUS, s(state))
            .item(attr::VERSION, AttributeValue::N("1".into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(self.request_error("PutItem", e)),
        }
    }

    async fn register_instance(
        &self,
        ident: &str,
        state: &str,
        from: &[&str],
        set: &[(String, serde_json::Value)],
    ) -> Result<bool, StoreError> {
        let mut names = HashMap::from([
            ("#ident".to_owned(), attr::IDENT.to_owned()),
            ("#status".to_owned(), attr::ITEM_STATUS.to_owned()),
            ("#version".to_owned(), attr::VERSION.to_owned()),
        ]);
        let mut values =
            HashMap::from([(":state".to_owned(), s(state)), (":one".to_owned(), n(1))]);
        let mut update = String::from("SET #status = :state");
        for (i, (key, value)) in set.iter().enumerate() {
            names.insert(format!("#a{i}"), key.clone());
            values.insert(format!(":a{i}"), to_attribute(value));
            update.push_str(&format!(", #a{i} = :a{i}"));
        }
        update.push_str(" ADD #version :one");
        let mut condition = String::from("attribute_not_exists(#ident)");
        if !from.is_empty() {
            let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":f{i}")).collect();
            for (i, state) in from.iter().enumerate() {
                values.insert(format!(":f{i}"), s(state));
            }
            condition.push_str(&format!(" OR #status IN ({})", placeholders.join(", ")));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(self.request_error("UpdateItem", e)),
        }
    }
}

impl Store for DynamoStore {
    type Error = StoreError;

    async fn load(&self, ident: &str) -> Result<Option<Record>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.request_error("GetItem", e))?;
        output
            .item
            .map(|item| record_from_item(ident, item))
            .transpose()
    }

    async fn compare_and_set(&self, change: StateChange<'_>) -> Result<CasOutcome, StoreError> {
        self.conditional_write(
            change.ident,
            change.from,
            change.version,
            Some(change.to),
            change.set,
            change.token,
        )
        .await
    }

    async fn update_attributes(
        &self,
        update: AttributeUpdate<'_>,
    ) -> Result<CasOutcome, StoreError> {
        self.conditional_write(
            update.ident,
            update.state,
            update.version,
            None,
            update.set,
            update.token,
        )
        .await
    }
}

impl DynamoStore {
    /// One UpdateItem if the record is still in `from` at `version`: a state change (`to`),
    /// which also releases the claim and takes off a parked launch and its wait, or attributes
    /// alone (`to` = `None`), which leave those to the record's own lifecycle.
    async fn conditional_write(
        &self,
        ident: &str,
        from: &str,
        version: u64,
        to: Option<&str>,
        attributes: &[(String, serde_json::Value)],
        token: &str,
    ) -> Result<CasOutcome, StoreError> {
        let next = version + 1;
        let mut set = String::from("SET #version = :next, #token = :token");
        let mut remove = String::new();
        let mut names = HashMap::from([
            ("#status".to_owned(), attr::ITEM_STATUS.to_owned()),
            ("#version".to_owned(), attr::VERSION.to_owned()),
            ("#token".to_owned(), attr::WRITE_TOKEN.to_owned()),
        ]);
        let mut values = HashMap::from([
            (":from".to_owned(), s(from)),
            (":next".to_owned(), n(next)),
            (":token".to_owned(), s(token)),
        ]);
        if let Some(to) = to {
            set.push_str(", #status = :to");
            values.insert(":to".to_owned(), s(to));
            // Every state change releases the record's claim, and takes a parked launch off:
            // this library writes a record only once it left the states a launch is parked in,
            // so its first write is that launch's (resumed or redelivered) first state change.
            remove.push_str(" REMOVE #by, #until, #pending, #shard, #due, #alive");
            names.extend([
                ("#by".to_owned(), attr::CLAIMED_BY.to_owned()),
                ("#until".to_owned(), attr::CLAIMED_UNTIL.to_owned()),
                ("#pending".to_owned(), attr::PENDING_LIFECYCLE.to_owned()),
                ("#shard".to_owned(), attr::WAIT_SHARD.to_owned()),
                ("#due".to_owned(), attr::DUE_AT.to_owned()),
                ("#alive".to_owned(), attr::ALIVE_CHECK.to_owned()),
            ]);
        }
        for (i, (key, value)) in attributes
            .iter()
            .filter(|(key, _)| {
                !matches!(
                    key.as_str(),
                    attr::IDENT
                        | attr::ITEM_STATUS
                        | attr::VERSION
                        | attr::WRITE_TOKEN
                        | attr::CLAIMED_BY
                        | attr::CLAIMED_UNTIL
                        | attr::PENDING_LIFECYCLE
                        | attr::WAIT_SHARD
                        | attr::DUE_AT
                        | attr::ALIVE_CHECK
                )
            })
            .enumerate()
        {
            names.insert(format!("#a{i}"), key.clone());
            if value.is_null() {
                remove.push_str(if remove.is_empty() { " REMOVE " } else { ", " });
                remove.push_str(&format!("#a{i}"));
            } else {
                set.push_str(&format!(", #a{i} = :a{i}"));
                values.insert(format!(":a{i}"), to_attribute(value));
            }
        }
        let condition = format!(
            "#status = :from AND {}",
            version_condition(version, &mut values)
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::IDENT, s(ident))
            .update_expression(set + &remove)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(CasOutcome::Applied { version: next }),
            Err(e) => match conditional_failure(&e) {
                // The SDK sent the write again after losing the answer to the first: the item
                // holds this very write.
                Some(Some(item)) if holds_write(item, token, next) => {
                    Ok(CasOutcome::Applied { version: next })
                }
                Some(_) => Ok(CasOutcome::Conflict),
                None => Err(self.request_error("UpdateItem", e)),
            },
        }
    }
}
