//! An invocation's notifications, each to what handles it: lifecycle events, command results,
//! cloud-init's progress, schedules, stream records and instance events.

use super::*;

impl<M, F, T> Runtime<M, F, T>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    /// [`Runtime::handle`] for an invocation that must be done by `deadline` (the Lambda's):
    /// claims taken while handling it run out then at the latest.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// lifecycle_aws::testing::block_on(async {
    ///     // The Lambda's deadline, from its context: no claim outlives the invocation.
    ///     let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(30);
    ///     let answer = runtime.handle_before(&launch, deadline).await.unwrap();
    ///     assert_eq!(answer["outcomes"][0]["end"], "joining_cluster");
    /// });
    /// ```
    pub async fn handle_before(
        &self,
        payload: &Value,
        deadline: SystemTime,
    ) -> Result<Value, HandleError> {
        INVOCATION_DEADLINE
            .scope(deadline, self.handle(payload))
            .await
    }

    /// [`Runtime::handle_bytes`] for an invocation that must be done by `deadline`.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// lifecycle_aws::testing::block_on(async {
    ///     let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(30);
    ///     let answer = runtime.handle_bytes_before(launch.to_string().as_bytes(), deadline).await.unwrap();
    ///     assert_eq!(answer.outcomes.len(), 1);
    /// });
    /// ```
    pub async fn handle_bytes_before(
        &self,
        payload: &[u8],
        deadline: SystemTime,
    ) -> Result<Answer, HandleError> {
        INVOCATION_DEADLINE
            .scope(deadline, self.handle_bytes(payload))
            .await
    }

    /// Handles one invocation payload. For an SQS batch the answer is a partial batch
    /// response (`batchItemFailures`): only the messages that failed are redelivered.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// lifecycle_aws::testing::block_on(async {
    ///     let answer = runtime.handle(&launch).await.unwrap();
    ///     assert_eq!(answer["outcomes"][0]["stop"], "waiting");
    /// });
    /// ```
    pub async fn handle(&self, payload: &Value) -> Result<Value, HandleError> {
        self.handle_invocation(decode_value(payload)?)
            .await
            .map(Answer::into_value)
    }

    /// [`Runtime::handle`] for the payload's JSON text, decoded without building a
    /// [`Value`] of the whole payload first, answered with a typed [`Answer`] that serialises
    /// to the same JSON (what the Lambda does).
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// lifecycle_aws::testing::block_on(async {
    ///     let answer = runtime.handle_bytes(launch.to_string().as_bytes()).await.unwrap();
    ///     assert!(answer.batch_item_failures.is_none(), "not an SQS batch");
    ///     assert_eq!(serde_json::to_value(&answer).unwrap()["outcomes"][0]["end"], "joining_cluster");
    /// });
    /// ```
    pub async fn handle_bytes(&self, payload: &[u8]) -> Result<Answer, HandleError> {
        self.handle_invocation(crate::decode::decode_event(payload)?)
            .await
    }

    /// Handles one decoded invocation.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// lifecycle_aws::testing::block_on(async {
    ///     let invocation = lifecycle_aws::decode::decode_value(&launch).unwrap();
    ///     let answer = runtime.handle_invocation(invocation).await.unwrap();
    ///     assert_eq!(answer.outcomes.len(), 1);
    /// });
    /// ```
    pub async fn handle_invocation(&self, invocation: Invocation) -> Result<Answer, HandleError> {
        match invocation {
            Invocation::Events(notifications) => {
                let mut outcomes = Vec::with_capacity(notifications.len());
                for notification in notifications {
                    let outcome = self.process(notification).await;
                    if let Err(e) = &outcome {
                        self.failed(e);
                    }
                    outcomes.push(outcome?);
                }
                Ok(Answer {
                    batch_item_failures: None,
                    outcomes,
                })
            }
            Invocation::Sqs(messages) => {
                let mut failures = Vec::new();
                let mut outcomes = Vec::new();
                for message in messages {
                    let about = message.notification.as_ref().ok().map(|n| {
                        (
                            n.event_id().unwrap_or("").to_owned(),
                            n.instance_id().unwrap_or("").to_owned(),
                        )
                    });
                    let result = match message.notification {
                        Ok(notification) => self.process(notification).await,
                        Err(e) => Err(e.into()),
                    };
                    match result {
                        Ok(outcome) => outcomes.push(outcome),
                        Err(e) => {
                            self.failed(&e);
                            let (event_id, instance_id) = about.unwrap_or_default();
                            tracing::error!(message_id = %message.message_id, event_id, instance_id, error = %e, retryable = e.is_retryable(), "message failed");
                            failures.push(BatchItemFailure {
                                item_identifier: message.message_id,
                            });
                        }
                    }
                }
                Ok(Answer {
                    batch_item_failures: Some(failures),
                    outcomes,
                })
            }
            Invocation::Stream(changes) => {
                // A partial batch response: the stream is retried from the first record that
                // failed (records of one item are in order, so the rest wait for it).
                let mut outcomes = Vec::with_capacity(changes.len());
                let mut failures = Vec::new();
                for change in changes {
                    let sequence_number = change.sequence_number.clone();
                    match (self.resume_parked(change).await, sequence_number) {
                        (Ok(outcome), _) => outcomes.push(outcome),
                        (Err(e), Some(sequence_number)) => {
                            self.failed(&e);
                            tracing::error!(%sequence_number, error = %e, retryable = e.is_retryable(), "stream record failed");
                            failures.push(BatchItemFailure {
                                item_identifier: sequence_number,
                            });
                            break;
                        }
                        (Err(e), None) => return Err(e),
                    }
                }
                Ok(Answer {
                    batch_item_failures: Some(failures),
                    outcomes,
                })
            }
        }
    }

    /// Handles one decoded notification.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// use lifecycle_aws::decode::{Invocation, decode_value};
    /// use lifecycle_aws::runtime::Outcome;
    /// lifecycle_aws::testing::block_on(async {
    ///     let Ok(Invocation::Events(mut notifications)) = decode_value(&launch) else { panic!("an event") };
    ///     let outcome = runtime.process(notifications.remove(0)).await.unwrap();
    ///     assert!(matches!(outcome, Outcome::Dispatched { .. }));
    /// });
    /// ```
    pub async fn process(&self, notification: Notification) -> Result<Outcome, HandleError> {
        match notification {
            Notification::LifecycleAction {
                id,
                region,
                action,
                time,
            } => {
                let span = tracing::info_span!("event", event_id = %id, instance_id = %action.ec2_instance_id);
                async {
                    if let Some(refused) = self.verify_held(&id, &action, region.as_deref()).await?
                    {
                        return Ok(refused);
                    }
                    let event = Event::lifecycle(id, action.clone());
                    let outcome = self.run_lifecycle(event, region.as_deref(), None).await?;
                    self.keep_late_action_alive(&action, time.as_deref(), &outcome)
                        .await;
                    Ok(outcome)
                }
                .instrument(span)
                .await
            }
            Notification::TestNotification => Ok(ignored("autoscaling:TEST_NOTIFICATION")),
            Notification::InstanceActivity { .. } => Ok(ignored(
                "an instance launch/terminate notification, not a lifecycle action",
            )),
            Notification::CommandStatus {
                id,
                command_id,
                progress,
                requested,
                instance_ids,
                ..
            } => {
                let span = tracing::info_span!("event", event_id = %id, command_id = %command_id);
                self.command_result(id, command_id, progress, requested, &instance_ids)
                    .instrument(span)
                    .await
            }
            Notification::CommandInvocation { .. } => Ok(ignored(
                "a command invocation status: the command's own status-change event carries the result",
            )),
            Notification::Scheduled { id, rule, region } => {
                let span = tracing::info_span!("event", event_id = %id, rule = %rule);
                self.scheduled(id, rule, region).instrument(span).await
            }
            Notification::SpotInterruption {
                id,
                instance_id,
                region,
                action,
            } => {
                let kind = EventKind::SpotInterruption { action };
                self.instance_event(Event::instance(id, instance_id, kind), region)
                    .await
            }
            Notification::RebalanceRecommendation {
                id,
                instance_id,
                region,
            } => {
                let kind = EventKind::RebalanceRecommendation;
                self.instance_event(Event::instance(id, instance_id, kind), region)
                    .await
            }
            Notification::InstanceState {
                id,
                instance_id,
                region,
                state,
            } => {
                let kind = EventKind::InstanceState { state };
                self.instance_event(Event::instance(id, instance_id, kind), region)
                    .await
            }
            Notification::Maintenance {
                id,
                region,
                event_type,
                starts,
                instance_ids,
            } => {
                // One event, several instances: each record gets it.
                let mut outcomes = Vec::with_capacity(instance_ids.len());
                for instance_id in instance_ids {
                    let kind = EventKind::Maintenance {
                        event_type: event_type.clone(),
                        starts: starts.clone(),
                    };
                    let event = Event::instance(id.clone(), instance_id, kind);
                    outcomes.push(self.instance_event(event, region.clone()).await?);
                }
                match <[Outcome; 1]>::try_from(outcomes) {
                    Ok([outcome]) => Ok(outcome),
                    Err(outcomes) => Ok(Outcome::PerInstance { outcomes }),
                }
            }
            Notification::InstanceTagged {
                id,
                instance_id,
                changed,
                tags,
                ..
            } => {
                if !changed.iter().any(|key| key == READY_TAG) {
                    return Ok(ignored("a tag change that is not cloud-init's progress"));
                }
                let span = tracing::info_span!("event", event_id = %id, instance_id = %instance_id);
                self.cloud_init_progress(instance_id, tags.get(READY_TAG).cloned())
                    .instrument(span)
                    .await
            }
        }
    }

    /// An EC2 or AWS Health event about one instance, which belongs to no lifecycle action:
    /// dispatched to the instance's record. An instance with no record is none this model
    /// runs (another group's, one launched by hand): nothing is written.
    pub(super) async fn instance_event(
        &self,
        event: Event,
        region: Option<String>,
    ) -> Result<Outcome, HandleError> {
        let ident = event.instance_id.clone().unwrap_or_default();
        let span = tracing::info_span!("event", event_id = %event.id, instance_id = %ident);
        async {
            let Some(record) = self.store.load(&ident).await? else {
                return Ok(ignored(format!(
                    "no record for instance `{ident}`: not an instance this model runs"
                )));
            };
            self.dispatch_record(record, event, region.as_deref()).await
        }
        .instrument(span)
        .await
    }

    /// An instance tagged itself with how far its cloud-init got: `registered` puts its record
    /// in the last state before the initial one (creating it), `finished` in the initial state
    /// (the table's stream then resumes a parked launch). The record is written from what EC2
    /// says about the instance (its private address, its group), never from what the instance
    /// says: the tag is all it can set.
    pub(super) async fn cloud_init_progress(
        &self,
        instance: String,
        step: Option<String>,
    ) -> Result<Outcome, HandleError> {
        let def = M::DEFINITION;
        let (Some(initial), Some(waiting)) = (def.initial, def.before_initial.last()) else {
            return Ok(ignored(
                "the model has no initial state, or none before it: it does not follow cloud-init",
            ));
        };
        // Either step may come first or again: the record moves on only from a state before the
        // initial one (or is created).
        let from: Vec<&str> = def.before_initial.iter().map(|s| s.name()).collect();
        let state = match step.as_deref() {
            Some("registered") => waiting.name(),
            Some("finished") => initial.name(),
            _ => {
                return Ok(ignored(format!(
                    "unknown cloud-init step {:?} (expected registered or finished)",
                    step.unwrap_or_default()
                )));
            }
        };
        let Some(facts) = self.instances.describe(&instance).await? else {
            return Err(HandleError::UnknownInstance(instance));
        };
        let mut set = Vec::new();
        if let Some(ip) = facts.private_ip {
            set.push(("InstanceIp".to_owned(), Value::from(ip)));
        }
        if let Some(group) = facts.group {
            set.push(("AutoScalingGroupName".to_owned(), Value::from(group)));
        }
        if self
            .store
            .register_instance(&instance, state, &from, &set)
            .await?
        {
            tracing::info!(state, "cloud-init progress recorded");
            Ok(Outcome::Registered {
                ident: instance,
                state: state.to_owned(),
            })
        } else {
            Ok(ignored(format!(
                "the record is past cloud-init's `{}` step",
                step.unwrap_or_default()
            )))
        }
    }

    pub(super) async fn command_result(
        &self,
        id: String,
        command_id: String,
        progress: CommandProgress,
        requested: Option<String>,
        instance_ids: &[String],
    ) -> Result<Outcome, HandleError> {
        let status = match progress {
            CommandProgress::Running(status) => {
                // A long command's progress keeps its lifecycle action alive.
                let Some(command) = self.store.peek_command(&command_id).await? else {
                    return Ok(ignored(format!(
                        "{status} status of a command that is not ours"
                    )));
                };
                if self.overdue(&command).await? {
                    return self.expire(command).await;
                }
                if let Some(action) = &command.lifecycle {
                    self.actions.heartbeat(action, None).await?;
                    self.metric("Heartbeats", &[]);
                    return Ok(Outcome::Heartbeat { command_id });
                }
                return Ok(ignored(format!(
                    "{status} status of a command with no lifecycle action"
                )));
            }
            CommandProgress::Finished(status) => status,
        };
        // Read, not taken: the command stays registered until its result has been handled,
        // so a delivery cut off half way is handled again when it is redelivered.
        let Some(command) = self.store.peek_command(&command_id).await? else {
            if requested
                .as_deref()
                .is_some_and(|r| requested_within(r, self.settings.command_grace, self.clock.now()))
            {
                return Err(HandleError::CommandNotRegisteredYet(command_id));
            }
            // This very result moved its record before, and that delivery was cut off before
            // the steps after it (the registration let go since, by the sweep that found the
            // command ended): delivered again, it goes on from there — if anything there takes
            // it (a duplicate of a result handled to its end stays ignored).
            if let Some(instance) = instance_ids.first()
                && let Some(record) = self.store.load(instance).await?
                && lifecycle_core::moved_by_result(&record, &command_id, &id)
            {
                let event = Event::command_result(id, command_id, status, instance.clone(), None);
                let goes_on = M::State::from_str(&record.state).is_ok_and(|state| {
                    M::DEFINITION
                        .triggers_from(state)
                        .any(|(_, t)| t.accepts(&event))
                });
                if goes_on {
                    tracing::info!(instance_id = %instance, "a result that moved its record before, delivered again: it goes on");
                    return self.dispatch_record(record, event, None).await;
                }
            }
            return Ok(ignored(
                "the result of a command that is not registered: not ours, or already handled",
            ));
        };
        // Known now: every line from here on names the instance too.
        let span = tracing::info_span!(
            "event",
            event_id = %id,
            command_id = %command_id,
            instance_id = %command.instance_id
        );
        if command.marker.is_none() {
            self.adopt_original_wait(&command)
                .instrument(span.clone())
                .await?;
        }
        let event = Event::command_result(
            id.clone(),
            command_id.clone(),
            status,
            command.owner.clone(),
            command.lifecycle,
        );
        let (outcome, _) = self
            .run_result(event, command.sent_at_version, command.sent_at_version)
            .instrument(span)
            .await?;
        Ok(outcome)
    }

    /// Runs a command's result (`event`) through the model and settles the command's
    /// registration, read at `registered_at` (its claim's version): the one place the result
    /// path, the sweep's recovered results and its expired waits decide what becomes of it.
    /// `awaited_since`: the version the command was sent at, when a result before the record
    /// waits for it is to be retried ([`Runtime::run_lifecycle`]). `true` with the outcome if
    /// the registration was let go.
    ///
    /// - The record changed under this delivery (`lost_race`: a termination noted beside the
    ///   wait, say): the result is not handled yet; it stays registered, and the caller retries.
    /// - Not awaited: only the registration read is let go. A later holder of the claim may
    ///   have adopted the command since it was read (registering it again at its own claim's
    ///   version): that registration stays, and its lifecycle waits on.
    /// - Handled: let go, so a duplicate of the result finds nothing.
    pub(super) async fn run_result(
        &self,
        event: Event,
        awaited_since: Option<u64>,
        registered_at: Option<u64>,
    ) -> Result<(Outcome, bool), HandleError> {
        let EventKind::CommandResult { command_id, .. } = &event.kind else {
            return Ok((self.run_lifecycle(event, None, awaited_since).await?, false));
        };
        let command_id = command_id.clone();
        let (event_id, owner) = (
            event.id.clone(),
            event.instance_id.clone().unwrap_or_default(),
        );
        let outcome = self.run_lifecycle(event, None, awaited_since).await?;
        let stop = match &outcome {
            Outcome::Dispatched { stop, .. } => stop.as_str(),
            _ => "",
        };
        if stop == StopReason::LostRace.as_str() {
            return Err(HandleError::Transient {
                event_id,
                ident: owner,
                message: format!(
                    "the record changed while the result of `{command_id}` was handled: again"
                ),
            });
        }
        let let_go = match registered_at {
            Some(version) if stop == StopReason::NotAwaited.as_str() => self
                .store
                .withdraw_command(&command_id, version)
                .await?
                .is_some(),
            _ => self.store.consume_command(&command_id).await?.is_some(),
        };
        Ok((outcome, let_go))
    }

    /// A lifecycle that starts to wait on an event that happened a while ago (delivered again
    /// after a crash, late, or from the dead-letter queue) gets a heartbeat now: its action
    /// has been silent since then, and the sweep's first look may be minutes away. Best
    /// effort: the sweep keeps it alive all the same.
    async fn keep_late_action_alive(
        &self,
        action: &lifecycle_core::LifecycleAction,
        time: Option<&str>,
        outcome: &Outcome,
    ) {
        let waits = matches!(outcome, Outcome::Dispatched { stop, .. } if stop == StopReason::Waiting.as_str());
        let late = time.is_some_and(|time| {
            super::clock::older_than(time, self.settings.heartbeat_interval / 4, self.clock.now())
        });
        if !(waits && late) {
            return;
        }
        match self.actions.heartbeat(action, None).await {
            Ok(_) => {
                tracing::info!("heartbeat: the event came late, its lifecycle waits");
                self.metric("Heartbeats", &[]);
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not keep the late event's action alive: the sweep will")
            }
        }
    }

    /// Whether Auto Scaling holds `action` (when the runtime can ask it): `Some` outcome,
    /// logged with the event id, when it does not — a forged or replayed event, or one that
    /// comes after its action ended. Nothing is read or written before this answer.
    pub(super) async fn verify_held(
        &self,
        event_id: &str,
        action: &lifecycle_core::LifecycleAction,
        region: Option<&str>,
    ) -> Result<Option<Outcome>, HandleError> {
        let Some(fleet) = &self.fleet else {
            return Ok(None);
        };
        if action.lifecycle_action_token.is_none() {
            self.metric("EventsRefused", &[("Reason", "no_token")]);
            return Err(HandleError::NoActionToken {
                event_id: event_id.to_owned(),
                instance: action.ec2_instance_id.clone(),
            });
        }
        let region = action.region.as_deref().or(region);
        let crate::fleet::Held::No(reason) = fleet.held(action, region).await? else {
            return Ok(None);
        };
        tracing::warn!(%reason, "lifecycle action refused: nothing written, nothing sent");
        self.metric("EventsRefused", &[("Reason", "not_held")]);
        Ok(Some(Outcome::Refused {
            event_id: event_id.to_owned(),
            ident: action.ec2_instance_id.clone(),
            reason,
        }))
    }

    /// A command the original library sent (no claim marker) for a record this library wrote:
    /// while both libraries handle events on one table (a migration's blue/green moment), the
    /// original moves a record and sends a command without noting that the record waits for
    /// it. A record that waits for nothing of this library's is made to wait for the
    /// original's command (one conditional write), so that command's result moves it on.
    pub(super) async fn adopt_original_wait(
        &self,
        command: &RegisteredCommand,
    ) -> Result<(), HandleError> {
        let Some(record) = self.store.load(&command.owner).await? else {
            return Ok(());
        };
        if record.version == 0
            || record.awaited_commands().next().is_some()
            || LifecycleProgress::of(&record).is_some_and(|p| p.waiting)
        {
            return Ok(());
        }
        let token = next_write_token(&record)?;
        let set = [(
            lifecycle_core::attr::AWAITED_COMMAND.to_owned(),
            Value::String(command.command_id.clone()),
        )];
        let change = lifecycle_core::StateChange {
            ident: &record.ident,
            from: &record.state,
            version: record.version,
            to: &record.state,
            set: &set,
            token: &token,
        };
        if self.store.compare_and_set(change).await? != lifecycle_core::CasOutcome::Conflict {
            tracing::info!(state = %record.state, "the original library moved the record and sent this command: the record waits for it");
        }
        Ok(())
    }

    pub(super) async fn scheduled(
        &self,
        id: String,
        rule: String,
        region: Option<String>,
    ) -> Result<Outcome, HandleError> {
        // Another stack's rule (or a rule named by hand) is not this runtime's to act on.
        let Some(rule) = rule
            .strip_prefix(self.settings.name_prefix.as_str())
            .map(str::to_owned)
        else {
            return Err(HandleError::UnknownSchedule(rule));
        };
        if rule == self.settings.sweep_rule {
            return self.sweep().await;
        }
        let Ok(start) = M::State::from_str(&rule) else {
            return Err(HandleError::UnknownSchedule(rule));
        };
        let mut record = match self.store.load(&rule).await? {
            Some(record) => record,
            None => {
                self.store.create(&rule, start.name()).await?;
                self.store
                    .load(&rule)
                    .await?
                    .ok_or_else(|| HandleError::UnknownInstance(rule.clone()))?
            }
        };
        let now = epoch_seconds(self.clock.now());
        match lifecycle_core::scheduled_run(&M::DEFINITION, &record, start, &id, now) {
            lifecycle_core::ScheduledRun::Duplicate => {
                return Ok(ignored(format!(
                    "the run event {id} started has ended: a duplicate starts no other"
                )));
            }
            lifecycle_core::ScheduledRun::Start => {
                let token = next_write_token(&record)?;
                let set = [(
                    lifecycle_core::attr::RUN_EVENT.to_owned(),
                    Value::from(id.as_str()),
                )];
                let change = lifecycle_core::StateChange {
                    ident: &record.ident,
                    from: &record.state,
                    version: record.version,
                    to: start.name(),
                    set: &set,
                    token: &token,
                };
                // Lost to a racing delivery of the same run, the dispatch below loses too.
                if let lifecycle_core::CasOutcome::Applied { .. } =
                    self.store.compare_and_set(change).await?
                {
                    record = self
                        .store
                        .load(&rule)
                        .await?
                        .ok_or_else(|| HandleError::UnknownInstance(rule.clone()))?;
                }
            }
            _ => {}
        }
        let event = Event::scheduled(id, rule);
        self.dispatch_record(record, event, region.as_deref()).await
    }
}
