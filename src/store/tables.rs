//! Every redb table, in one place, with the schema version they belong to.

use redb::TableDefinition;

/// Bump when a table's key or value layout changes incompatibly.
pub const SCHEMA_VERSION: u64 = 1;

pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub const USERS: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
pub const USERNAMES: TableDefinition<&str, u64> = TableDefinition::new("usernames");
pub const KEYS: TableDefinition<u64, &[u8]> = TableDefinition::new("api_keys");
/// SHA-256 of a key -> key id.
pub const KEY_HASHES: TableDefinition<&str, u64> = TableDefinition::new("api_key_hashes");
pub const USER_KEYS: TableDefinition<(u64, u64), ()> = TableDefinition::new("user_keys");
pub const TASKS: TableDefinition<&str, &[u8]> = TableDefinition::new("tasks");
/// (user id, task id) for newest-first listing: task ids sort by creation time.
pub const USER_TASKS: TableDefinition<(u64, &str), ()> = TableDefinition::new("user_tasks");
/// Task ids that are not terminal; the engine resumes these after a restart.
pub const ACTIVE_TASKS: TableDefinition<&str, ()> = TableDefinition::new("active_tasks");
pub const LEDGER: TableDefinition<u64, &[u8]> = TableDefinition::new("ledger");
pub const USER_LEDGER: TableDefinition<(u64, u64), ()> = TableDefinition::new("user_ledger");
/// (task id, ledger id): every entry a task caused.
pub const TASK_LEDGER: TableDefinition<(&str, u64), ()> = TableDefinition::new("task_ledger");
/// (user id, Idempotency-Key) -> task id and request fingerprint.
pub const IDEMPOTENCY: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("idempotency");
pub const PROVIDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("providers");
pub const MODELS: TableDefinition<&str, &[u8]> = TableDefinition::new("models");
pub const PRICING_GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("pricing_groups");
/// (user id, model id) -> that customer's own price for the model.
pub const USER_PRICES: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("user_prices");
/// Console sessions: SHA-256 of the session token -> session.
/// Task callbacks waiting for delivery: task id -> attempts and next try.
pub const OUTBOX: TableDefinition<&str, &[u8]> = TableDefinition::new("callback_outbox");
/// The outbox by tenant and due time: (user id, due ms, task id). The dispatcher reads
/// only what is due, tenant by tenant, never the whole outbox.
pub const OUTBOX_DUE: TableDefinition<(u64, i64, &str), ()> =
    TableDefinition::new("callback_outbox_due");
/// Each account's webhook signing secret: user id -> the secret's raw bytes.
pub const WEBHOOK_SECRETS: TableDefinition<u64, &[u8]> = TableDefinition::new("webhook_secrets");
pub const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// (user id, created at, session hash): an account's sessions, oldest first (the cap).
/// Created by the first write that needs it, like [`SESSION_EXPIRY`].
pub const USER_SESSIONS: TableDefinition<(u64, i64, &str), ()> =
    TableDefinition::new("user_sessions");
/// (expires at, session hash): what the purge timer removes, found without a scan.
pub const SESSION_EXPIRY: TableDefinition<(i64, &str), ()> = TableDefinition::new("session_expiry");
/// Stored files (uploads and mirrored videos): key -> owner, kind, size, expiry.
pub const MEDIA: TableDefinition<&str, &[u8]> = TableDefinition::new("media");
/// (expires at ms, key): what the janitor removes next, found without a scan.
pub const MEDIA_EXPIRY: TableDefinition<(i64, &str), ()> = TableDefinition::new("media_expiry");
/// (user id, key): an account's files, for the operator's purge.
pub const USER_MEDIA: TableDefinition<(u64, &str), ()> = TableDefinition::new("user_media");
/// User id -> bytes and files stored, kept with every add and removal.
pub const MEDIA_USAGE: TableDefinition<u64, &[u8]> = TableDefinition::new("media_usage");
/// Keys retention removed -> when: their URLs answer 410 instead of 404.
pub const MEDIA_GONE: TableDefinition<&str, i64> = TableDefinition::new("media_gone");
/// User id -> the operator's own storage quota for that account.
pub const STORAGE_QUOTAS: TableDefinition<u64, &[u8]> = TableDefinition::new("storage_quotas");

// Sign-up, redemption codes, online payments (issue 13). Created at start-up with the rest.
/// Settings changed from the console: name -> JSON (`signup`).
pub const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");
/// Lower-cased user name -> user id: names are unique without regard to case.
pub const USERNAMES_FOLDED: TableDefinition<&str, u64> = TableDefinition::new("usernames_folded");
/// User id -> the account's email address and whether it was verified.
pub const USER_EMAILS: TableDefinition<u64, &[u8]> = TableDefinition::new("user_emails");
/// Lower-cased email address -> user id.
pub const EMAILS: TableDefinition<&str, u64> = TableDefinition::new("emails");
/// SHA-256 of an emailed token (verification, password reset) -> the token's record.
pub const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("one_time_tokens");
pub const INVITES: TableDefinition<u64, &[u8]> = TableDefinition::new("invites");
/// SHA-256 of an invite code -> invite id.
pub const INVITE_HASHES: TableDefinition<&str, u64> = TableDefinition::new("invite_hashes");
pub const CODES: TableDefinition<u64, &[u8]> = TableDefinition::new("redemption_codes");
/// SHA-256 of a normalised redemption code -> code id.
pub const CODE_HASHES: TableDefinition<&str, u64> = TableDefinition::new("redemption_code_hashes");
/// (code id, ledger entry id) -> who redeemed it and when.
pub const REDEMPTIONS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("redemptions");
/// Processor session id -> payment.
pub const PAYMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("payments");
/// (user id, created at, session id): an account's payments in order.
pub const USER_PAYMENTS: TableDefinition<(u64, i64, &str), ()> =
    TableDefinition::new("user_payments");
/// The processor's payment id (Stripe PaymentIntent) -> session id, to match refunds.
pub const PAYMENT_REFS: TableDefinition<&str, &str> = TableDefinition::new("payment_refs");
/// Webhook event ids already handled -> when: a redelivered event does nothing.
pub const PAYMENT_EVENTS: TableDefinition<&str, i64> = TableDefinition::new("payment_events");
/// API key and account limits (see `store::limits`): each task's scopes and slot state,
/// task id -> JSON.
pub const LIMIT_TASKS: TableDefinition<&str, &[u8]> = TableDefinition::new("limit_tasks");
/// (scope, task id): tasks holding a concurrency slot of a key (`k<id>`) or account (`u<id>`).
pub const SLOTS_HELD: TableDefinition<(&str, &str), ()> = TableDefinition::new("slots_held");
/// (scope, task id): tasks waiting for a slot, oldest first (task ids sort by time).
pub const SLOTS_WAITING: TableDefinition<(&str, &str), ()> = TableDefinition::new("slots_waiting");
/// scope -> (held, waiting): the counts of the two tables above.
pub const SLOT_COUNTS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("slot_counts");
/// (scope, 15-minute bucket of task creation) -> credits spent by tasks created then;
/// bucket `i64::MAX` holds the all-time total. Every ledger entry of a task moves it.
pub const SPEND: TableDefinition<(&str, i64), i64> = TableDefinition::new("limit_spend");
/// Pricing group name -> default account limits for its members (JSON).
pub const GROUP_LIMITS: TableDefinition<&str, &[u8]> = TableDefinition::new("group_limits");
