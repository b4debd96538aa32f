//! One lifecycle run on a record: the claimed dispatch, its clean-up, the alive check, and the
//! completion of the lifecycle action.

use super::*;

impl<M, F, T> Runtime<M, F, T>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    /// A lifecycle event (launching, terminating, or a command result) for its instance. A
    /// command result carries the version its record had when the command was sent.
    pub(super) async fn run_lifecycle(
        &self,
        event: Event,
        region: Option<&str>,
        sent_at_version: Option<u64>,
    ) -> Result<Outcome, HandleError> {
        let ident = event.instance_id.clone().unwrap_or_default();
        let record = self
            .store
            .load(&ident)
            .await?
            .ok_or_else(|| HandleError::UnknownInstance(ident.clone()))?;
        self.run_lifecycle_on(record, event, region, sent_at_version)
            .await
    }

    /// [`Runtime::run_lifecycle`] on `record`, just loaded.
    pub(super) async fn run_lifecycle_on(
        &self,
        record: Record,
        event: Event,
        region: Option<&str>,
        sent_at_version: Option<u64>,
    ) -> Result<Outcome, HandleError> {
        let ident = record.ident.clone();
        let before_initial: Vec<&str> = M::DEFINITION
            .before_initial
            .iter()
            .map(|s| s.name())
            .collect();
        // Parsed, not compared: a record in a former name of such a state counts too.
        let still_before_initial =
            M::State::from_str(&record.state).is_ok_and(|s| M::DEFINITION.is_before_initial(s));
        let record = if event.kind == EventKind::Launching && still_before_initial {
            if LifecycleProgress::of(&record).is_some_and(|p| p.event_id == event.id && !p.waiting)
            {
                // This very launch already ended (its parked wait ran out): not parked again.
                return Ok(ignored("this launch is over"));
            }
            let now = epoch_seconds(self.clock.now());
            let pending = PendingLifecycle {
                action: event
                    .lifecycle
                    .clone()
                    .expect("a launching event carries its action"),
                event_id: event.id.clone(),
                parked_at: Some(now),
            };
            if self
                .store
                .park_lifecycle(
                    &ident,
                    &before_initial,
                    &pending,
                    M::DEFINITION.name,
                    self.next_look(now, now),
                )
                .await?
            {
                tracing::info!(state = %record.state, "launch parked until cloud-init finishes");
                return Ok(Outcome::Parked { ident });
            }
            // Cloud-init finished in the meantime: run now.
            self.store
                .load(&ident)
                .await?
                .ok_or_else(|| HandleError::UnknownInstance(ident.clone()))?
        } else {
            record
        };
        if let EventKind::CommandResult { command_id, .. } = &event.kind
            && sent_at_version == Some(record.version)
            && !record.awaits(command_id)
        {
            // Sent, but the write that makes the record wait for it has not happened (yet).
            return Err(HandleError::CommandNotAwaitedYet(command_id.clone()));
        }
        let mut event = event;
        if let EventKind::CommandResult { command_id, .. } = &event.kind
            && event.lifecycle.is_none()
            && record.awaits(command_id)
            && LifecycleProgress::of(&record).is_some_and(|p| p.waiting)
        {
            // A lifecycle action waits for this command, but the registration read before the
            // record came without one: a later holder of the claim adopted the command for its
            // action in between (a termination taking over a Spot drain, say). The
            // registration read now, after the record, is that holder's.
            if let Some(fresh) = self.store.peek_command(command_id).await? {
                event.lifecycle = fresh.lifecycle;
            }
        }
        self.dispatch_record(record, event, region).await
    }

    /// A stream record of the node table: a parked launch resumes when its instance reaches
    /// the initial state.
    pub(super) async fn resume_parked(&self, change: StreamChange) -> Result<Outcome, HandleError> {
        let Some(initial) = M::DEFINITION.initial else {
            return Ok(ignored("the model has no initial state"));
        };
        let reached = change.new_status.as_deref() == Some(initial.name())
            && change.old_status.as_deref() != Some(initial.name());
        if !reached {
            return Ok(ignored("not a record reaching the initial state"));
        }
        // Left on the record until the launch's first state change removes it, in the same
        // write: a resume that fails is retried from the stream record, which still has it.
        // Cloud-init may have replaced the whole item (put-item) and the parked launch with it:
        // the old image still has it. Racing resumers are kept apart by the claim and the
        // compare-and-set, a late one finds the lifecycle's progress and resumes from there.
        let pending = pending_from_image(&change.ident, &change.new_image)
            .or_else(|| pending_from_image(&change.ident, &change.old_image))
            .transpose()?;
        let Some(pending) = pending else {
            return Ok(ignored("no parked launch on the record"));
        };
        let span =
            tracing::info_span!("event", event_id = %pending.event_id, instance_id = %change.ident);
        let region = pending.action.region.clone();
        let event = Event::lifecycle(pending.event_id, pending.action);
        self.run_lifecycle(event, region.as_deref(), None)
            .instrument(span)
            .await
    }

    pub(super) async fn dispatch_record(
        &self,
        mut record: Record,
        event: Event,
        region: Option<&str>,
    ) -> Result<Outcome, HandleError> {
        let now = self.clock.now();
        if let (Some(holder), Some(until)) = (record.claimed_by(), record.claimed_until())
            && until >= epoch_seconds(now)
        {
            tracing::info!(
                holder,
                until,
                "another delivery holds the record's claim: retry later"
            );
            return Err(HandleError::Busy {
                ident: record.ident.clone(),
                until,
            });
        }
        let seconds = epoch_seconds(now);
        let lease = seconds.saturating_add(self.settings.claim_lease.as_secs());
        let lease_until = INVOCATION_DEADLINE
            .try_with(|deadline| epoch_seconds(*deadline))
            .map_or(lease, |deadline| deadline.min(lease));
        let effects = AwsEffects::new(
            &*self.commands,
            &self.store,
            &*self.actions,
            region,
            seconds,
            lease_until,
        )
        .with_document_prefix(&self.settings.name_prefix)
        .with_clock(&*self.clock)
        // A new wait is looked at by the next sweep, not one heartbeat interval on: its action
        // has been silent since Auto Scaling opened it, for as long as its event (and its
        // redeliveries) took to come, and the sweep runs only every few minutes.
        .with_waits(
            M::DEFINITION.name,
            seconds,
            seconds.saturating_add(self.settings.wait_deadline.as_secs()),
        );
        let mut model = (self.new_model)();
        // Boxed: the dispatcher's future nests the model's task futures, and nested again
        // inside the runtime's own it can overflow rustc's query depth for large models.
        let dispatching = Box::pin(dispatch(
            &mut model,
            &self.store,
            &mut record,
            &event,
            &effects,
        ));
        let dispatched = dispatching.await;
        self.settle_effects(&effects, &dispatched).await;
        let report = match dispatched {
            Ok(report) => report,
            Err(DispatchError::Store(e)) => return Err(e.into()),
            Err(DispatchError::Busy { ident, until }) => {
                return Err(HandleError::Busy { ident, until });
            }
            Err(DispatchError::Transient { error, .. }) => {
                return Err(HandleError::Transient {
                    event_id: event.id.clone(),
                    ident: record.ident.clone(),
                    message: error.to_string(),
                });
            }
            Err(e) => {
                return Err(HandleError::Dispatch {
                    event_id: event.id.clone(),
                    ident: record.ident.clone(),
                    message: e.to_string(),
                });
            }
        };
        let completed = match (report.lifecycle_result, &event.lifecycle) {
            (Some(result), Some(action)) => Some(self.complete(action, region, result).await?),
            _ => None,
        };
        // A terminated instance's lifecycle is over: its record expires after the retention.
        // So does one EC2 reports terminated (outside its group, with no lifecycle action)
        // that the model brought to its end.
        let terminated_by_ec2 = matches!(&event.kind, EventKind::InstanceState { state } if state == "terminated")
            && report.states.len() > 1;
        if ((completed.is_some()
            && event.lifecycle_transition() == Some(LifecycleTransition::Terminating))
            || terminated_by_ec2)
            && M::DEFINITION.is_terminal(report.end)
        {
            let expires =
                epoch_seconds(self.clock.now()).saturating_add(self.settings.retention.as_secs());
            if let Err(e) = self.store.retain_until(&report.ident, expires).await {
                tracing::warn!(error = %e, "could not set the record's expiry");
            }
        }
        if report.stop == StopReason::Deferred {
            // The termination's action is kept alive by the looks at the wait before it: the
            // next sweep looks, not the wait's next heartbeat an interval on.
            let now = epoch_seconds(self.clock.now());
            for command_id in record.awaited_commands() {
                if let Err(e) = self.store.reschedule(command_id, now).await {
                    tracing::warn!(command_id, error = %e, "could not bring the wait's next look forward");
                }
            }
        }
        let mut outcome = summary::<M>(&event, &report, completed);
        // A termination that came while this lifecycle waited runs now that it is over.
        if let Some(termination) = lifecycle_core::deferred_termination(&record)
            && !lifecycle_core::is_waiting(&record)
            && report.stop != StopReason::LostRace
        {
            tracing::info!(termination = %termination.id, "the launch is over: the termination that waited for it runs");
            let region = termination
                .lifecycle
                .as_ref()
                .and_then(|a| a.region.clone());
            let then = Box::pin(self.dispatch_record(record, termination, region.as_deref()));
            if let Outcome::Dispatched { deferred, .. } = &mut outcome {
                *deferred = Some(Box::new(then.await?));
            }
            return Ok(outcome);
        }
        self.schedule_alive_check(&record, &event, &report).await;
        Ok(outcome)
    }

    /// A record an instance's event left at rest (not waiting, not at its end) is checked now
    /// and then for its instance still existing, when the runtime reconciles: a record whose
    /// instance vanished with its events lost is not left for ever. Scheduled once per rest
    /// (the next state change takes it off); best effort: the next event schedules it again.
    pub(super) async fn schedule_alive_check(
        &self,
        record: &Record,
        event: &Event,
        report: &ModelReport<M>,
    ) {
        if self.fleet.is_none()
            || self.settings.groups.is_empty()
            || event.instance_id.is_none()
            || report.stop == StopReason::LostRace
            || M::DEFINITION.is_terminal(report.end)
            || M::DEFINITION.is_before_initial(report.end)
            || lifecycle_core::is_waiting(record)
            || lifecycle_core::deferred_termination(record).is_some()
            || (report.states.len() == 1
                && record.attributes.contains_key(crate::store::attr::DUE_AT))
        {
            return;
        }
        let due =
            epoch_seconds(self.clock.now()).saturating_add(self.settings.alive_check.as_secs());
        match self
            .store
            .schedule_alive_check(&record.ident, record.version, M::DEFINITION.name, due)
            .await
        {
            Ok(true) => tracing::debug!(due, "the instance's existence is checked at"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not schedule the check that the instance still exists")
            }
        }
    }

    /// After a dispatch: a claim still held is let go, so the next delivery takes over at
    /// once. Commands no stored state change took up are withdrawn — unless the delivery failed
    /// in a way its redelivery resumes (a transient error, DynamoDB failing): that delivery
    /// takes the claim over and adopts them instead of sending them again.
    pub(super) async fn settle_effects<R, E>(
        &self,
        effects: &AwsEffects<'_, T>,
        dispatched: &Result<R, DispatchError<M::State, M::Error, E>>,
    ) {
        if let Some(claim) = effects.held_claim()
            && let Err(e) = self
                .store
                .release_claim(&claim.ident, &claim.holder, claim.version)
                .await
        {
            tracing::warn!(error = %e, "could not release the claim; it runs out by itself");
        }
        let resumed = matches!(
            dispatched,
            Err(DispatchError::Transient { .. } | DispatchError::Store(_))
        );
        if !resumed {
            for (command_id, version) in effects.uncommitted() {
                self.withdraw_command(&command_id, version).await;
            }
        }
    }

    /// Unregisters and cancels a command no state change of this delivery took up (a lost
    /// race's, a failed transition's) — unless it is registered at another claim's version: a
    /// later holder of the claim (this delivery paused past its lease) adopted it, and its
    /// lifecycle waits for it. Best effort: a command left registered is answered by a result
    /// the record does not wait for, which is not applied.
    pub(super) async fn withdraw_command(&self, command_id: &str, version: u64) {
        match self.store.withdraw_command(command_id, version).await {
            Ok(Some(_)) => {}
            // Registered by another claim: adopted, and kept. Not registered at all (never,
            // or its result already handled): cancelled, as nothing waits for it.
            Ok(None) => match self.store.peek_command(command_id).await {
                Ok(None) => {}
                Ok(Some(_)) => {
                    tracing::info!(
                        command_id,
                        "a later holder of the claim adopted the command: kept"
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(command_id, error = %e, "could not tell whether the command was adopted: left as it is");
                    return;
                }
            },
            // Whose it is now cannot be told: cancelling could end a later holder's command.
            Err(e) => {
                tracing::warn!(command_id, error = %e, "could not unregister a command of a lost race: left as it is");
                return;
            }
        }
        match self.commands.cancel(command_id).await {
            Ok(()) => tracing::info!(command_id, "cancelled a command of a lost race"),
            Err(e) => {
                tracing::warn!(command_id, error = %e, "could not cancel a command of a lost race")
            }
        }
    }

    pub(super) async fn complete(
        &self,
        action: &lifecycle_core::LifecycleAction,
        region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<String, HandleError> {
        Ok(match self.complete_action(action, region, result).await? {
            Completed::Done => result.to_string(),
            Completed::NoActiveAction => format!("{result} (no active lifecycle action)"),
        })
    }

    /// Completes `action` with `result`, logged and counted: whether Auto Scaling still held
    /// it.
    pub(super) async fn complete_action(
        &self,
        action: &lifecycle_core::LifecycleAction,
        region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<Completed, HandleError> {
        let completed = self.actions.complete(action, region, result).await?;
        let transition = match action.lifecycle_transition {
            LifecycleTransition::Launching => "launch",
            LifecycleTransition::Terminating => "termination",
        };
        match completed {
            Completed::Done => {
                tracing::info!(%result, transition, "lifecycle action completed");
                self.metric(
                    "LifecyclesCompleted",
                    &[("Transition", transition), ("Result", result.as_aws_str())],
                );
            }
            Completed::NoActiveAction => {
                tracing::warn!(%result, transition, "no active lifecycle action (already completed or timed out)");
                self.metric("CompletionsRepeated", &[("Transition", transition)]);
            }
        }
        Ok(completed)
    }
}

impl<M, F, T> Runtime<M, F, T>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    /// One count of metric `name` for this model, now.
    pub(super) fn metric(&self, name: &str, dimensions: &[(&str, &str)]) {
        self.metrics
            .count(M::DEFINITION.name, name, dimensions, self.now_ms());
    }

    /// Now, in epoch milliseconds (the metrics' timestamps).
    pub(super) fn now_ms(&self) -> u64 {
        self.clock
            .now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// An event's handling failed: counted by whether delivering it again may help.
    pub(super) fn failed(&self, error: &HandleError) {
        let retryable = if error.is_retryable() {
            "true"
        } else {
            "false"
        };
        self.metric("EventsFailed", &[("Retryable", retryable)]);
    }
}

/// A write token for the write after `record`'s version (`DELIVERY.VERSION`), or the record is
/// malformed: its version is past [`lifecycle_core::MAX_VERSION`] and no write can follow it.
pub(super) fn next_write_token(record: &Record) -> Result<String, HandleError> {
    lifecycle_core::write_token_after(record).ok_or_else(|| {
        HandleError::Store(StoreError::Malformed {
            ident: record.ident.clone(),
            problem: "Version is past the largest a record can reach by counting writes".to_owned(),
        })
    })
}
