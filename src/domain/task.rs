//! The task record and its state machine: pending → processing → completed | failed.

use super::credits::Credits;
use super::ids::{TaskId, UserId};
use super::pricing::AppliedPrice;
use super::request::UnifiedRequest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Processing,
    Completed,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Processing => "processing",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Status::Pending,
            "processing" => Status::Processing,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed)
    }
}

/// Where the engine is with a task; finer than the public status and never shown raw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Waiting to be sent upstream (public: pending).
    Queued,
    /// A submission was recorded before calling upstream; its outcome is not known yet.
    /// A restart that finds this must not blindly submit again.
    Submitting { route: usize },
    /// Upstream accepted it (public: processing).
    Submitted { upstream_id: String },
    /// Upstream finished; results are being copied into local storage (public: processing).
    Mirroring { results: Vec<ResultRef> },
    /// Terminal.
    Done,
}

/// Where a finished upstream video can be fetched; internal only, never shown to callers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRef {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
    /// Fingerprint of the channel key needed to fetch it, when the URL needs auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// What upstream says it made, for settlement; `None` where its answer is silent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<bool>,
    /// The provider's own billing units for the task (Kling `final_unit_deduction`, Ark
    /// `usage.completion_tokens`), carried on the first result only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_units: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskError {
    pub code: String,
    pub message: String,
}

/// A mirrored output video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Storage key, e.g. `videos/vidgen_..._x.mp4`; the URL is `<public url>/<key>`.
    pub key: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<u64>,
    pub model: String,
    pub request: UnifiedRequest,
    pub price: AppliedPrice,
    pub status: Status,
    pub phase: Phase,
    pub credits_reserved: Credits,
    pub credits_refunded: bool,
    /// What the task finally cost; `None` until settled (and on tasks settled before
    /// settlement existed, which kept their reservation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits_charged: Option<Credits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<super::settlement::Settlement>,
    pub poll_interval_seconds: u32,
    /// Route chosen for the current or last submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_model: Option<String>,
    /// Fingerprint of the channel key the task was submitted with; it is polled with the
    /// same one (never the key itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Routes that already refused this task with a retryable error (indexes into the model).
    #[serde(default)]
    pub tried_routes: Vec<usize>,
    pub submit_attempts: u32,
    #[serde(default)]
    pub outputs: Vec<Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<i64>,
    pub deadline_ms: i64,
    /// `api` or `console`.
    pub source: String,
}

impl Task {
    /// Only a task nobody sent upstream yet can be cancelled: after that, upstream is
    /// already spending money on it.
    pub fn can_cancel(&self) -> bool {
        self.status == Status::Pending && self.phase == Phase::Queued
    }

    /// Elapsed milliseconds from creation to finish (or to `now`).
    pub fn elapsed_ms(&self, now_ms: i64) -> i64 {
        self.finished_at_ms.unwrap_or(now_ms) - self.created_at_ms
    }

    /// Mark failed; the caller refunds in the same transaction.
    pub fn fail(&mut self, code: &str, message: &str, now_ms: i64) {
        self.status = Status::Failed;
        self.phase = Phase::Done;
        self.error = Some(TaskError {
            code: code.into(),
            message: message.into(),
        });
        self.finished_at_ms = Some(now_ms);
        self.updated_at_ms = now_ms;
    }
}

// ---------------------------------------------------------------------------------------
// The state machine. Every change of a task's phase or status is one `Event` applied by
// `transition`, a pure function: the store writes the task it returns and performs the
// ledger effects in the same write transaction; the engine only does I/O and picks the
// event. Anything not listed in `transition` is an illegal transition and changes nothing.
// ---------------------------------------------------------------------------------------

/// Something that happened to a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// About to call upstream on route `route` (recorded first, so a crash mid-call is
    /// visible on restart). Queued → Submitting.
    Submitting {
        route: usize,
        provider: String,
        upstream_model: String,
        credential: Option<String>,
    },
    /// Upstream accepted the task. Submitting → Submitted (public: processing).
    Accepted { upstream_id: String },
    /// Upstream created nothing (a retryable or channel refusal): back to the queue.
    /// `skip_route` puts the route on the task's tried list so another one is picked.
    Requeued { route: usize, skip_route: bool },
    /// Every route refused: forget the tried list and start over. Queued only.
    RoutesReset,
    /// Upstream finished with results; mirroring starts. Submitted → Mirroring.
    UpstreamSucceeded { results: Vec<ResultRef> },
    /// Every result is in local storage. Mirroring → completed (the charge settles).
    Mirrored { outputs: Vec<Output> },
    /// Failed for `code`; the reservation is refunded. Any unfinished phase.
    Failed { code: String, message: String },
    /// The caller cancelled. Only a task nobody sent upstream yet.
    Cancelled,
    /// The deadline passed. Any unfinished phase, once `now >= deadline_ms`.
    DeadlinePassed,
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::Submitting { .. } => "submitting",
            Event::Accepted { .. } => "accepted",
            Event::Requeued { .. } => "requeued",
            Event::RoutesReset => "routes_reset",
            Event::UpstreamSucceeded { .. } => "upstream_succeeded",
            Event::Mirrored { .. } => "mirrored",
            Event::Failed { .. } => "failed",
            Event::Cancelled => "cancelled",
            Event::DeadlinePassed => "deadline_passed",
        }
    }
}

/// What a transition asks the store to do besides writing the task, in the same write
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Give the reservation back (a ledger refund entry); happens at most once per task.
    Refund {
        user_id: UserId,
        amount: Credits,
        code: String,
    },
    /// The reservation becomes the charge. Nothing moves today (the price was reserved up
    /// front); the settlement of a final price against the reservation goes here.
    Settle { user_id: UserId, reserved: Credits },
    /// The task ended: it leaves the active index, its callback enters the outbox, and
    /// whatever held a place for it (a per-key slot) lets go.
    Finished,
}

/// Why an event does not apply to a task; the task is left as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Illegal {
    #[error("the task already ended")]
    Terminal,
    #[error("{event} does not apply in phase {phase}")]
    WrongPhase {
        phase: &'static str,
        event: &'static str,
    },
    #[error("the deadline has not passed")]
    NotDue,
}

/// A task after a legal transition, and what the store must do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub task: Task,
    pub effects: Vec<Effect>,
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Submitting { .. } => "submitting",
            Phase::Submitted { .. } => "submitted",
            Phase::Mirroring { .. } => "mirroring",
            Phase::Done => "done",
        }
    }
}

/// Message of a deadline failure (shown to the caller).
pub const DEADLINE_MESSAGE: &str =
    "the task did not finish before its deadline; credits were refunded";
/// Message of a cancellation (shown to the caller).
pub const CANCEL_MESSAGE: &str = "cancelled by the caller; credits were refunded";

/// Apply `event` to `task` at `now_ms`: the new task and its effects, or why not.
pub fn transition(task: &Task, event: Event, now_ms: i64) -> Result<Transition, Illegal> {
    // The status decides: a record whose phase says done but whose status does not
    // (an old or hand-edited one) can still be failed and refunded.
    if task.status.is_terminal() {
        return Err(Illegal::Terminal);
    }
    let wrong = || Illegal::WrongPhase {
        phase: task.phase.name(),
        event: event.name(),
    };
    let mut t = task.clone();
    let mut effects = Vec::new();
    match (&task.phase, event.clone()) {
        (
            Phase::Queued,
            Event::Submitting {
                route,
                provider,
                upstream_model,
                credential,
            },
        ) => {
            t.phase = Phase::Submitting { route };
            t.submit_attempts = t.submit_attempts.saturating_add(1);
            t.provider = Some(provider);
            t.upstream_model = Some(upstream_model);
            t.credential = credential;
        }
        (Phase::Submitting { .. }, Event::Accepted { upstream_id }) => {
            t.status = Status::Processing;
            t.phase = Phase::Submitted { upstream_id };
            t.submitted_at_ms = Some(now_ms);
        }
        (Phase::Submitting { .. }, Event::Requeued { route, skip_route }) => {
            t.phase = Phase::Queued;
            if skip_route && !t.tried_routes.contains(&route) {
                t.tried_routes.push(route);
            }
        }
        (Phase::Queued, Event::RoutesReset) => t.tried_routes.clear(),
        (Phase::Submitted { .. }, Event::UpstreamSucceeded { results }) => {
            t.phase = Phase::Mirroring { results };
        }
        (Phase::Mirroring { .. }, Event::Mirrored { outputs }) => {
            t.status = Status::Completed;
            t.phase = Phase::Done;
            t.outputs = outputs;
            t.finished_at_ms = Some(now_ms);
            effects.push(Effect::Settle {
                user_id: t.user_id,
                reserved: t.credits_reserved,
            });
            effects.push(Effect::Finished);
        }
        (Phase::Queued, Event::Cancelled) if t.status == Status::Pending => {
            fail(&mut t, &mut effects, "cancelled", CANCEL_MESSAGE, now_ms);
        }
        (_, Event::DeadlinePassed) => {
            if now_ms < t.deadline_ms {
                return Err(Illegal::NotDue);
            }
            fail(
                &mut t,
                &mut effects,
                "deadline_exceeded",
                DEADLINE_MESSAGE,
                now_ms,
            );
        }
        (_, Event::Failed { code, message }) => {
            fail(&mut t, &mut effects, &code, &message, now_ms);
        }
        _ => return Err(wrong()),
    }
    t.updated_at_ms = now_ms;
    Ok(Transition { task: t, effects })
}

fn fail(t: &mut Task, effects: &mut Vec<Effect>, code: &str, message: &str, now_ms: i64) {
    t.fail(code, message, now_ms);
    if !t.credits_refunded && t.credits_reserved > 0 {
        effects.push(Effect::Refund {
            user_id: t.user_id,
            amount: t.credits_reserved,
            code: code.to_string(),
        });
    }
    t.credits_refunded = true;
    effects.push(Effect::Finished);
}

/// The first poll after upstream accepted a task comes this soon: a job upstream finishes
/// at once is seen at once instead of a whole interval later.
pub const FIRST_POLL_MS: i64 = 10;
/// The longest pause between two tries after errors.
pub const MAX_BACKOFF_MS: i64 = 300_000;

/// How long until the next poll of a task upstream accepted `age_ms` ago: half its age, at
/// least [`FIRST_POLL_MS`], at most the model's interval (`interval_ms`), so polls are
/// dense while a quick result is likely and sparse for long jobs (about 16 polls to reach
/// a 5 s interval, then one per interval). With a completion callback
/// the callback brings the news and polling is a fallback at three intervals.
pub fn poll_delay_ms(age_ms: i64, interval_ms: i64, callback: bool) -> i64 {
    let ceiling = if callback {
        interval_ms.saturating_mul(3)
    } else {
        interval_ms
    };
    (age_ms.max(0) / 2).clamp(FIRST_POLL_MS, ceiling.max(FIRST_POLL_MS))
}

/// The pause after `failures` consecutive failed tries: doubling from `base_ms`, capped.
pub fn backoff_ms(failures: u8, base_ms: i64) -> i64 {
    base_ms
        .max(1)
        .saturating_mul(1i64 << failures.min(10))
        .min(MAX_BACKOFF_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;
    const DEADLINE: i64 = 2_000_000;

    fn task(status: Status, phase: Phase) -> Task {
        serde_json::from_value(serde_json::json!({
            "id": "vidgen_1_ab", "user_id": 7, "model": "m",
            "request": {"type": "text-to-video", "prompt": "p", "image_urls": [], "video_urls": [],
                "audio_urls": [], "resolution": "720p", "duration": null, "seconds": 5,
                "aspect_ratio": "16:9", "generate_audio": false},
            "price": {"mode": "per_task", "unit_credits": 50, "units": 1, "total": 50},
            "status": status, "phase": phase, "credits_reserved": 50, "credits_refunded": false,
            "poll_interval_seconds": 5, "submit_attempts": 0, "created_at_ms": 0,
            "updated_at_ms": 0, "deadline_ms": DEADLINE, "source": "api"
        }))
        .expect("task json")
    }

    fn states() -> Vec<(&'static str, Task)> {
        vec![
            ("queued", task(Status::Pending, Phase::Queued)),
            (
                "submitting",
                task(Status::Pending, Phase::Submitting { route: 0 }),
            ),
            (
                "submitted",
                task(
                    Status::Processing,
                    Phase::Submitted {
                        upstream_id: "up".into(),
                    },
                ),
            ),
            (
                "mirroring",
                task(Status::Processing, Phase::Mirroring { results: vec![] }),
            ),
            ("completed", task(Status::Completed, Phase::Done)),
            ("failed", task(Status::Failed, Phase::Done)),
        ]
    }

    fn events() -> Vec<Event> {
        vec![
            Event::Submitting {
                route: 1,
                provider: "demo".into(),
                upstream_model: "um".into(),
                credential: Some("fp".into()),
            },
            Event::Accepted {
                upstream_id: "u1".into(),
            },
            Event::Requeued {
                route: 1,
                skip_route: true,
            },
            Event::RoutesReset,
            Event::UpstreamSucceeded {
                results: vec![ResultRef {
                    url: "https://up/v.mp4".into(),
                    ..ResultRef::default()
                }],
            },
            Event::Mirrored {
                outputs: vec![Output {
                    key: "videos/x.mp4".into(),
                    size: 3,
                }],
            },
            Event::Failed {
                code: "boom".into(),
                message: "m".into(),
            },
            Event::Cancelled,
            Event::DeadlinePassed,
        ]
    }

    /// The outcome of a cell, in words: `phase/status +effects` or `illegal:<why>`.
    fn outcome(r: &Result<Transition, Illegal>) -> String {
        match r {
            Ok(tr) => {
                let fx: Vec<&str> = tr
                    .effects
                    .iter()
                    .map(|e| match e {
                        Effect::Refund { .. } => "refund",
                        Effect::Settle { .. } => "settle",
                        Effect::Finished => "finished",
                    })
                    .collect();
                format!(
                    "{}/{} {}",
                    tr.task.phase.name(),
                    tr.task.status.as_str(),
                    fx.join("+")
                )
                .trim_end()
                .to_string()
            }
            Err(Illegal::Terminal) => "illegal:terminal".into(),
            Err(Illegal::WrongPhase { .. }) => "illegal:phase".into(),
            Err(Illegal::NotDue) => "illegal:not_due".into(),
        }
    }

    /// Every (state, event) pair, after the deadline has passed.
    #[test]
    fn every_state_and_event_has_one_outcome() {
        // Rows: states; columns: submitting, accepted, requeued, routes_reset,
        // upstream_succeeded, mirrored, failed, cancelled, deadline_passed.
        let fail = "done/failed refund+finished";
        let phase = "illegal:phase";
        let term = "illegal:terminal";
        let expected: [(&str, [&str; 9]); 6] = [
            (
                "queued",
                [
                    "submitting/pending",
                    phase,
                    phase,
                    "queued/pending",
                    phase,
                    phase,
                    fail,
                    fail,
                    fail,
                ],
            ),
            (
                "submitting",
                [
                    phase,
                    "submitted/processing",
                    "queued/pending",
                    phase,
                    phase,
                    phase,
                    fail,
                    phase,
                    fail,
                ],
            ),
            (
                "submitted",
                [
                    phase,
                    phase,
                    phase,
                    phase,
                    "mirroring/processing",
                    phase,
                    fail,
                    phase,
                    fail,
                ],
            ),
            (
                "mirroring",
                [
                    phase,
                    phase,
                    phase,
                    phase,
                    phase,
                    "done/completed settle+finished",
                    fail,
                    phase,
                    fail,
                ],
            ),
            ("completed", [term; 9]),
            ("failed", [term; 9]),
        ];
        let after_deadline = DEADLINE + 1;
        for ((name, t), (row, cells)) in states().into_iter().zip(expected) {
            assert_eq!(name, row);
            for (ev, want) in events().into_iter().zip(cells) {
                let label = ev.name();
                let got = outcome(&transition(&t, ev, after_deadline));
                assert_eq!(got, want, "{name} + {label}");
            }
        }
    }

    #[test]
    fn an_illegal_transition_names_the_phase_and_event() {
        let t = task(Status::Pending, Phase::Queued);
        let err = transition(
            &t,
            Event::Accepted {
                upstream_id: "x".into(),
            },
            NOW,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "accepted does not apply in phase queued");
    }

    #[test]
    fn the_deadline_is_not_due_before_it_passes() {
        for (name, t) in states().into_iter().take(4) {
            assert_eq!(
                transition(&t, Event::DeadlinePassed, DEADLINE - 1),
                Err(Illegal::NotDue),
                "{name}"
            );
            let tr = transition(&t, Event::DeadlinePassed, DEADLINE).expect(name);
            assert_eq!(tr.task.error.unwrap().code, "deadline_exceeded");
        }
    }

    #[test]
    fn a_refund_is_the_reservation_and_happens_once() {
        let t = task(
            Status::Processing,
            Phase::Submitted {
                upstream_id: "u".into(),
            },
        );
        let fail = || Event::Failed {
            code: "upstream_error".into(),
            message: "x".into(),
        };
        let tr = transition(&t, fail(), NOW).unwrap();
        assert_eq!(
            tr.effects,
            vec![
                Effect::Refund {
                    user_id: UserId::new(7),
                    amount: Credits::new(50),
                    code: "upstream_error".into()
                },
                Effect::Finished
            ]
        );
        assert!(tr.task.credits_refunded);
        assert_eq!(tr.task.finished_at_ms, Some(NOW));
        // A failed task never moves again, so no second refund can come out of it.
        assert_eq!(transition(&tr.task, fail(), NOW), Err(Illegal::Terminal));
        // A task already refunded (or reserving nothing) fails without a ledger entry.
        let mut free = t.clone();
        free.credits_reserved = Credits::ZERO;
        assert_eq!(
            transition(&free, fail(), NOW).unwrap().effects,
            vec![Effect::Finished]
        );
    }

    #[test]
    fn submission_records_route_credential_and_attempts() {
        let t = task(Status::Pending, Phase::Queued);
        let tr = transition(&t, events().remove(0), NOW).unwrap();
        assert_eq!(tr.task.phase, Phase::Submitting { route: 1 });
        assert_eq!(tr.task.submit_attempts, 1);
        assert_eq!(tr.task.provider.as_deref(), Some("demo"));
        assert_eq!(tr.task.credential.as_deref(), Some("fp"));
        assert_eq!(tr.task.updated_at_ms, NOW);
        assert!(tr.effects.is_empty());
        // A refusal that skips the route remembers it once; reset forgets it.
        let back = transition(
            &tr.task,
            Event::Requeued {
                route: 1,
                skip_route: true,
            },
            NOW,
        )
        .unwrap()
        .task;
        assert_eq!(back.tried_routes, vec![1]);
        let keep = transition(
            &back,
            Event::Submitting {
                route: 1,
                provider: "demo".into(),
                upstream_model: "um".into(),
                credential: None,
            },
            NOW,
        )
        .unwrap()
        .task;
        let again = transition(
            &keep,
            Event::Requeued {
                route: 1,
                skip_route: true,
            },
            NOW,
        )
        .unwrap()
        .task;
        assert_eq!(again.tried_routes, vec![1]);
        let reset = transition(&again, Event::RoutesReset, NOW).unwrap().task;
        assert!(reset.tried_routes.is_empty());
    }

    #[test]
    fn acceptance_and_completion_stamp_their_times() {
        let t = task(Status::Pending, Phase::Submitting { route: 0 });
        let sub = transition(
            &t,
            Event::Accepted {
                upstream_id: "u9".into(),
            },
            NOW,
        )
        .unwrap()
        .task;
        assert_eq!(sub.submitted_at_ms, Some(NOW));
        let mir = transition(&sub, Event::UpstreamSucceeded { results: vec![] }, NOW + 1)
            .unwrap()
            .task;
        let done = transition(&mir, Event::Mirrored { outputs: vec![] }, NOW + 2).unwrap();
        assert_eq!(done.task.finished_at_ms, Some(NOW + 2));
        assert!(!done.task.credits_refunded);
        assert_eq!(done.task.elapsed_ms(0), NOW + 2);
    }
    #[test]
    fn polls_are_fast_early_and_reach_the_interval_later() {
        let cases = [
            // (age, interval, callback, delay)
            (0, 5_000, false, 10),
            (15, 5_000, false, 10),
            (300, 5_000, false, 150),
            (2_000, 5_000, false, 1_000),
            (20_000, 5_000, false, 5_000),
            (3_600_000, 5_000, false, 5_000),
            (-50, 5_000, false, 10),
            (0, 5_000, true, 10),
            (10_000, 5_000, true, 5_000),
            (3_600_000, 5_000, true, 15_000),
            (10_000, 5, false, 10),
        ];
        for (age, interval, cb, want) in cases {
            assert_eq!(
                poll_delay_ms(age, interval, cb),
                want,
                "{age} {interval} {cb}"
            );
        }
    }

    /// Tasks as the store held them while `id` and `user_id` were a plain `String` and
    /// `u64` (the store's encoding is `serde_json::to_vec`): they decode, and encode back
    /// to the very same bytes, so a restart on an old database reads and rewrites them
    /// unchanged. One with every optional field set, one with none.
    #[test]
    fn a_task_stored_before_the_id_types_round_trips_to_the_same_bytes() {
        let full: &[u8] = br#"{"id":"vidgen_1783003830450_081f0558","user_id":42,"key_id":9,"model":"seedance-pro","request":{"type":"image-to-video","prompt":"a cat","image_urls":["https://example.com/a.png"],"video_urls":[],"audio_urls":[],"resolution":"1080p","duration":5,"seconds":5,"aspect_ratio":"16:9","generate_audio":true,"callback_url":"https://example.com/hook"},"price":{"mode":"per_second","unit_credits":36,"units":5,"total":180,"pricing_group":"vip"},"status":"completed","phase":{"phase":"done"},"credits_reserved":180,"credits_refunded":false,"credits_charged":144,"settlement":{"charged":144,"refunded":36,"seconds":4,"videos":1,"capped":false,"upstream_cost":100,"breakdown":[]},"poll_interval_seconds":5,"provider":"ark","upstream_model":"seedance-1-0-pro","credential":"fp_ab12","tried_routes":[1],"submit_attempts":2,"outputs":[{"key":"videos/vidgen_1783003830450_081f0558_0.mp4","size":1048576}],"error":{"code":"upstream_error","message":"retried"},"created_at_ms":1783003830450,"updated_at_ms":1783003890000,"submitted_at_ms":1783003831000,"finished_at_ms":1783003890000,"deadline_ms":1783007430450,"source":"console"}"#;
        let bare: &[u8] = br#"{"id":"vidgen_1_ab","user_id":7,"model":"m","request":{"type":"text-to-video","prompt":"p","image_urls":[],"video_urls":[],"audio_urls":[],"resolution":"720p","duration":null,"seconds":5,"aspect_ratio":"16:9","generate_audio":false},"price":{"mode":"per_task","unit_credits":50,"units":1,"total":50},"status":"pending","phase":{"phase":"queued"},"credits_reserved":50,"credits_refunded":false,"poll_interval_seconds":5,"tried_routes":[],"submit_attempts":0,"outputs":[],"created_at_ms":0,"updated_at_ms":0,"deadline_ms":2000000,"source":"api"}"#;
        for old in [full, bare] {
            let t: Task = serde_json::from_slice(old).expect("old task decodes");
            assert_eq!(
                serde_json::to_vec(&t).unwrap(),
                old,
                "{}",
                String::from_utf8_lossy(old)
            );
        }
        let t: Task = serde_json::from_slice(full).unwrap();
        assert_eq!(t.id.as_str(), "vidgen_1783003830450_081f0558");
        assert_eq!((t.user_id, t.key_id), (UserId::new(42), Some(9)));
        // Decoding does not re-check the id's shape (only ids from outside are checked):
        // a stored one is read as it was written.
        let t: Task = serde_json::from_slice(bare).unwrap();
        assert_eq!((t.id.as_str(), t.user_id.get()), ("vidgen_1_ab", 7));
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let got: Vec<i64> = (1..=4).map(|n| backoff_ms(n, 2_000)).collect();
        assert_eq!(got, vec![4_000, 8_000, 16_000, 32_000]);
        assert_eq!(backoff_ms(200, 2_000), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(0, 0), 1);
    }
}
