//! The sweep: the waits that are due, from the sparse index of waits, each kept alive or
//! ended at its deadline.

use lifecycle_core::{Event, LifecycleModel, LifecycleResult, Record, State};
use tracing::Instrument;

use super::{HandleError, Outcome, Runtime, epoch_seconds};
use crate::actions::Completed;
use crate::store::{NodeTable, PendingLifecycle, RegisteredCommand, StoreError, Wait};

impl<M, F, T> Runtime<M, F, T>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    /// When the sweep next looks at a wait that started at `since`: its next heartbeat, or its
    /// deadline if that comes first.
    pub(super) fn next_look(&self, now: u64, since: u64) -> u64 {
        now.saturating_add(self.settings.heartbeat_interval.as_secs())
            .min(since.saturating_add(self.settings.wait_deadline.as_secs()))
    }

    /// Handles the waits that are due, from the sparse index of waits (a `Query` for
    /// `DueAt` up to a quarter of the heartbeat interval on, page by page — never a `Scan`): SSM is asked how a command stands (a
    /// result whose event was lost ends its wait), a wait within its deadline gets a heartbeat
    /// for its lifecycle action (and for a termination deferred behind it) and its next look
    /// one heartbeat interval on; past it (or when Auto Scaling no longer has the action) the
    /// wait ends — a command is handled as `TimedOut`, a parked
    /// launch is completed ABANDON. A malformed item is logged and skipped; the sweep goes on.
    /// It stops when its time budget is spent, leaving the rest (still due) to the next run.
    /// Run by the scheduled rule named by [`Runtime::with_sweep_rule`].
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// lifecycle_aws::testing::block_on(async {
    ///     let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    ///     runtime.handle(&launch).await.unwrap();
    ///     // Run by the `lifecycle-sweep` rule every 5 minutes: the next run keeps the new
    ///     // wait's lifecycle action alive; the one after waits for the heartbeat interval.
    ///     runtime.sweep().await.unwrap();
    ///     assert_eq!(actions.heartbeats().len(), 1);
    ///     runtime.sweep().await.unwrap();
    ///     assert_eq!(actions.heartbeats().len(), 1);
    /// });
    /// ```
    pub async fn sweep(&self) -> Result<Outcome, HandleError> {
        let started = std::time::Instant::now();
        let now = epoch_seconds(self.clock.now());
        let mut swept = Swept::default();
        // A look due within a quarter of the heartbeat interval is taken now: a sweep run off
        // its schedule (an invocation Lambda retried a minute or two later) would otherwise
        // set a wait's next look just past the next regular run, a whole period on.
        let horizon = now.saturating_add(self.settings.heartbeat_interval.as_secs() / 4);
        let mut cursor = None;
        'pages: loop {
            let page = self
                .store
                .due_waits(M::DEFINITION.name, horizon, cursor.take(), 50)
                .await?;
            // Records at rest whose instance is checked: asked together, after the page.
            let mut alive_checks = Vec::new();
            for wait in page.waits {
                if swept.looked_at > 0 && started.elapsed() >= self.settings.sweep_budget {
                    swept.unfinished = true;
                    break;
                }
                swept.looked_at += 1;
                match wait {
                    Ok(Wait::AliveCheck { ident }) => alive_checks.push(ident),
                    Err(e) => {
                        // Names and the problem only: attribute values may hold secrets.
                        tracing::error!(error = %e, "skipped a malformed item in the index of waits");
                        swept.skipped.push(match e {
                            StoreError::Malformed { ident, .. } => ident,
                            other => other.to_string(),
                        });
                    }
                    Ok(Wait::Command(command)) => {
                        let id = command.command_id.clone();
                        let span = tracing::info_span!("sweep", command_id = %id, instance_id = %command.instance_id);
                        match self.sweep_command(command, now).instrument(span).await {
                            Ok(true) => swept.expired.push(id),
                            Ok(false) => swept.kept_alive.push(id),
                            Err(e) => {
                                tracing::error!(command_id = %id, error = %e, "sweep could not handle a command");
                                swept.failed.push(id);
                            }
                        }
                    }
                    Ok(Wait::Parked { ident, pending }) => {
                        let span = tracing::info_span!("sweep", event_id = %pending.event_id, instance_id = %ident);
                        match self
                            .sweep_parked(&ident, pending, now)
                            .instrument(span)
                            .await
                        {
                            Ok(true) => swept.expired.push(ident),
                            Ok(false) => swept.kept_alive.push(ident),
                            Err(e) => {
                                tracing::error!(instance_id = %ident, error = %e, "sweep could not handle a parked launch");
                                swept.failed.push(ident);
                            }
                        }
                    }
                }
            }
            if !alive_checks.is_empty() {
                let checked = self.check_alive(alive_checks, now).await;
                swept.kept_alive.extend(checked.alive);
                swept.vanished.extend(checked.vanished);
                swept.failed.extend(checked.failed);
            }
            if swept.unfinished {
                break 'pages;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // Then what Auto Scaling holds that no lifecycle handles (a lost event's action).
        let reconciled = if swept.unfinished {
            Default::default()
        } else {
            self.reconcile(started).await
        };
        swept.failed.extend(reconciled.failed);
        for (kind, ids) in [
            ("started", &reconciled.started),
            ("recompleted", &reconciled.completed),
            ("unhandled", &reconciled.unhandled),
            ("vanished", &swept.vanished),
        ] {
            for _ in ids.iter() {
                self.metric("Reconciled", &[("Kind", kind)]);
            }
        }
        self.metrics.milliseconds(
            M::DEFINITION.name,
            "SweepDuration",
            started.elapsed().as_secs_f64() * 1000.0,
            &[],
            self.now_ms(),
        );
        Ok(Outcome::Swept {
            kept_alive: swept.kept_alive,
            expired: swept.expired,
            failed: swept.failed,
            skipped: swept.skipped,
            unfinished: swept.unfinished || reconciled.unfinished,
            reconciled: reconciled.started,
            recompleted: reconciled.completed,
            unhandled: reconciled.unhandled,
            vanished: swept.vanished,
        })
    }

    /// When the wait for `command` started. The original library's commands carry no
    /// registration time: their wait starts when this library first sees them.
    async fn wait_start(&self, command: &RegisteredCommand, now: u64) -> Result<u64, HandleError> {
        Ok(match command.registered_at {
            Some(at) => at,
            None => {
                self.store
                    .first_seen(&command.command_id, M::DEFINITION.name, now)
                    .await?
            }
        })
    }

    /// Whether the wait for `command` is past its deadline.
    pub(super) async fn overdue(&self, command: &RegisteredCommand) -> Result<bool, HandleError> {
        let now = epoch_seconds(self.clock.now());
        let since = self.wait_start(command, now).await?;
        let (deadline, _) = self.deadline(command.lifecycle.as_ref(), since).await;
        Ok(now >= deadline)
    }

    /// One due command: `true` if its wait ended. SSM is asked first: a command that has
    /// ended but whose result never came (its status event lost, or come before the command
    /// was registered and let go) ends the wait with its real result.
    async fn sweep_command(
        &self,
        command: RegisteredCommand,
        now: u64,
    ) -> Result<bool, HandleError> {
        match self.commands.status(&command.command_id).await {
            Ok(Some(status)) => match self.ended(command.clone(), status).await {
                Ok(_) => return Ok(true),
                // Its sender has not yet written that the record waits for it (paused, or
                // cut off and redelivered): the wait goes on, and is looked at again.
                Err(HandleError::CommandNotAwaitedYet(_)) => {
                    tracing::info!(
                        "the command has ended, but the record does not wait for it yet"
                    );
                }
                Err(e) => return Err(e),
            },
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not ask SSM how the command stands; its result may still come")
            }
        }
        let since = self.wait_start(&command, now).await?;
        let (deadline, limit) = self.deadline(command.lifecycle.as_ref(), since).await;
        let owner = self.store.load(&command.owner).await?;
        if let Some(record) = &owner
            && !awaited(record, &command)
        {
            // Sent and let run (nothing waits for it, a label, say): no wait to keep alive or
            // end, nothing to cancel. Its registration goes when SSM says it ended, or at the
            // deadline.
            if now >= deadline {
                if let Some(version) = command.sent_at_version {
                    self.store
                        .withdraw_command(&command.command_id, version)
                        .await?;
                }
                return Ok(true);
            }
            let next = now
                .saturating_add(self.settings.heartbeat_interval.as_secs())
                .min(deadline);
            self.store.reschedule(&command.command_id, next).await?;
            return Ok(false);
        }
        if now < deadline {
            self.keep_deferred_alive(owner.as_ref()).await?;
            let next = now
                .saturating_add(self.settings.heartbeat_interval.as_secs())
                .min(deadline);
            match &command.lifecycle {
                Some(action) => {
                    if self.actions.heartbeat(action, None).await? == Completed::Done {
                        tracing::info!(
                            deadline,
                            limit = limit.as_str(),
                            "heartbeat: still waiting for the command"
                        );
                        self.metric("Heartbeats", &[]);
                        self.store.reschedule(&command.command_id, next).await?;
                        return Ok(false);
                    }
                    tracing::warn!(
                        "Auto Scaling no longer has the lifecycle action: ending the wait"
                    );
                }
                // No hook of its own (a drain): looked at again after the interval all the
                // same, for SSM to say whether it ended with its result lost.
                None => {
                    self.store.reschedule(&command.command_id, next).await?;
                    return Ok(false);
                }
            }
        }
        if now >= deadline {
            tracing::warn!(
                deadline,
                limit = limit.as_str(),
                "the wait reached its deadline: the model decides now"
            );
            let limit = match limit {
                super::deadline::Limit::Configured => "configured",
                super::deadline::Limit::HookGlobalTimeout => "hook",
            };
            self.metric("WaitsExpired", &[("Limit", limit)]);
        }
        self.expire(command).await.map(|_| true)
    }

    /// Keeps alive the termination deferred behind `owner`'s wait, if any: it came while a
    /// launch or a drain waited for its command, and runs once the wait is over — its own
    /// hook times out meanwhile unless it gets the same heartbeats as the wait.
    async fn keep_deferred_alive(&self, owner: Option<&Record>) -> Result<(), HandleError> {
        let Some(record) = owner else {
            return Ok(());
        };
        let Some(action) = lifecycle_core::deferred_termination(record)
            .and_then(|termination| termination.lifecycle)
        else {
            return Ok(());
        };
        match self.actions.heartbeat(&action, None).await? {
            Completed::Done => {
                tracing::info!("heartbeat: the termination deferred behind the wait");
                self.metric("Heartbeats", &[]);
            }
            // Timed out or completed elsewhere: the wait's end runs it all the same, and
            // its completion is then told there is nothing to complete.
            Completed::NoActiveAction => {
                tracing::warn!("Auto Scaling no longer has the deferred termination's action")
            }
        }
        Ok(())
    }

    /// One due parked launch: `true` if its wait ended (cloud-init never finished in time: the
    /// launch is completed with the failure result, ABANDON, and taken off the record).
    async fn sweep_parked(
        &self,
        ident: &str,
        pending: PendingLifecycle,
        now: u64,
    ) -> Result<bool, HandleError> {
        // The launch may have resumed since this sweep read the index of waits: nothing of
        // this parked launch left on the record, nothing to do.
        let Some(record) = self.store.load(ident).await? else {
            return Ok(true);
        };
        if !still_parked(&record, &pending) {
            return Ok(true);
        }
        // Cloud-init has finished, and the stream record that resumes the launch never did
        // (its retries spent while the record's claim was held, or the function down longer
        // than the stream keeps trying): the launch is resumed now, not ABANDONed at the
        // deadline.
        if <M::State as std::str::FromStr>::from_str(&record.state)
            .is_ok_and(|state| !M::DEFINITION.is_before_initial(state))
        {
            tracing::warn!(state = %record.state, "cloud-init has finished but the parked launch was not resumed: resuming it");
            let region = pending.action.region.clone();
            let event = Event::lifecycle(pending.event_id, pending.action);
            Box::pin(self.run_lifecycle_on(record, event, region.as_deref(), None)).await?;
            self.metric("ParkedResumed", &[]);
            return Ok(true);
        }
        let since = pending.parked_at.unwrap_or(now);
        if now < since.saturating_add(self.settings.wait_deadline.as_secs()) {
            if self.actions.heartbeat(&pending.action, None).await? == Completed::Done {
                tracing::info!("heartbeat: the launch still waits for cloud-init");
                self.store
                    .reschedule(ident, self.next_look(now, since))
                    .await?;
                return Ok(false);
            }
            tracing::warn!("Auto Scaling no longer has the parked launch's action");
        }
        tracing::warn!(
            deadline_seconds = self.settings.wait_deadline.as_secs(),
            "cloud-init did not finish in time: the parked launch ends ABANDON"
        );
        self.metric("WaitsExpired", &[("Limit", "configured")]);
        let Some(record) = self
            .store
            .load(ident)
            .await?
            .filter(|record| still_parked(record, &pending))
        else {
            return Ok(true);
        };
        // Into the failure state (if the model has one) with the launch noted as failed, in
        // one conditional write that also takes the parked launch off, so a stream record or a
        // redelivery that comes later does not run the launch.
        let failure = M::DEFINITION.failure.map(|state| state.name());
        let token = super::next_write_token(&record)?;
        let set = [(
            lifecycle_core::PROGRESS_ATTRIBUTE.to_owned(),
            lifecycle_core::progress_note(
                &pending.action,
                &pending.event_id,
                LifecycleResult::Abandon,
            ),
        )];
        let change = lifecycle_core::StateChange {
            ident,
            from: &record.state,
            version: record.version,
            to: failure.unwrap_or(&record.state),
            set: &set,
            token: &token,
        };
        if self.store.compare_and_set(change).await? == lifecycle_core::CasOutcome::Conflict {
            // The record moved (cloud-init finished, the launch resumed): not ours to end.
            return Ok(false);
        }
        let region = pending.action.region.clone();
        if failure.is_none() {
            self.complete(&pending.action, region.as_deref(), LifecycleResult::Abandon)
                .await?;
            return Ok(true);
        }
        // The model's failure path runs from there, as for a launch that failed, and the
        // launch is completed ABANDON at its end.
        let Some(record) = self.store.load(ident).await? else {
            return Ok(true);
        };
        let event = Event::lifecycle(pending.event_id, pending.action);
        Box::pin(self.dispatch_record(record, event, region.as_deref())).await?;
        Ok(true)
    }

    /// Ends a wait with the result SSM gives for a command whose status event never came —
    /// unless the record is still at the version it was sent at without waiting for it
    /// (`CommandNotAwaitedYet`): its sender's write is still to come, and the registration
    /// stays for it.
    async fn ended(
        &self,
        command: RegisteredCommand,
        status: lifecycle_core::CommandStatus,
    ) -> Result<Outcome, HandleError> {
        let command_id = command.command_id.clone();
        tracing::warn!(
            command_id,
            %status,
            "the command has ended but its result never came: handling it now"
        );
        let event = Event::command_result(
            format!("recovered-{command_id}-{status}"),
            command_id,
            status,
            command.owner,
            command.lifecycle,
        );
        let (outcome, _) = self
            .run_result(event, command.sent_at_version, command.sent_at_version)
            .await?;
        self.metric("ResultsRecovered", &[]);
        Ok(outcome)
    }

    /// Ends a wait: the command's result is taken to be `TimedOut`, and it is cancelled.
    pub(super) async fn expire(&self, command: RegisteredCommand) -> Result<Outcome, HandleError> {
        let command_id = command.command_id.clone();
        tracing::warn!(
            command_id,
            deadline_seconds = self.settings.wait_deadline.as_secs(),
            "the wait for this command is over: handling it as TimedOut"
        );
        let event = Event::command_result(
            format!("deadline-{command_id}"),
            command_id.clone(),
            lifecycle_core::CommandStatus::TimedOut,
            command.owner,
            command.lifecycle,
        );
        let (outcome, let_go) = self
            .run_result(event, None, command.sent_at_version)
            .await?;
        // A registration another claim made since (it adopted the command) is not ours to
        // cancel; one already gone (a duplicate result, a retried delete) is.
        let adopted = !let_go && self.store.peek_command(&command_id).await?.is_some();
        if !adopted && let Err(e) = self.commands.cancel(&command_id).await {
            tracing::warn!(command_id, error = %e, "could not cancel the overdue command");
        }
        Ok(outcome)
    }
}

/// Whether `record` still holds the launch parked as `pending` (its first state change takes it
/// off).
fn still_parked(record: &Record, pending: &PendingLifecycle) -> bool {
    crate::store::pending_from_image(&record.ident, &record.attributes)
        .and_then(Result::ok)
        .is_some_and(|parked| parked.event_id == pending.event_id)
}

/// Whether `record` waits for `command` ([`lifecycle_core::waits_for`]), or may yet: its sender
/// has not written since it sent it (it may be about to write the wait), or the command is the
/// original library's.
fn awaited(record: &Record, command: &RegisteredCommand) -> bool {
    lifecycle_core::waits_for(record, &command.command_id)
        || command.marker.is_none()
        || command.sent_at_version.is_none_or(|v| v == record.version)
}

/// What one sweep did, as it goes.
#[derive(Default)]
struct Swept {
    vanished: Vec<String>,
    looked_at: usize,
    kept_alive: Vec<String>,
    expired: Vec<String>,
    failed: Vec<String>,
    skipped: Vec<String>,
    unfinished: bool,
}
