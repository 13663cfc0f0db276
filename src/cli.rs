//! The command line: `serve` (default), `admin ...`, `openapi`, `check`, `backup`,
//! `restore`, `bench`.

use crate::config::{Config, Overrides};
use crate::error::AppError;
use crate::service::accounts::NO_ADMIN_HINT;
use crate::store::{self, Store};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "videoapi",
    version,
    about = "Self-hosted video-generation gateway"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// TOML configuration file.
    #[arg(long, global = true, env = "VIDEOAPI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (database, uploads, videos). Default: ./data
    #[arg(long, global = true, env = "VIDEOAPI_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Manage users, credits and keys while the server is stopped.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print the OpenAPI spec.
    Openapi,
    /// Audit the ledger invariants; exit 1 on any violation.
    Check,
    /// Copy the database consistently (one read transaction, also while the server
    /// runs) into a new directory, with a manifest of the media; `--media` copies the
    /// files too (hard links where possible).
    Backup {
        dir: PathBuf,
        #[arg(long)]
        media: bool,
    },
    /// Put a backup in place on a stopped server (the current database is kept aside).
    Restore { dir: PathBuf },
    /// Media storage: `storage migrate --to s3` moves local files into the bucket.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Load-test a running server on loopback and print the figures.
    Bench(crate::bench::BenchArgs),
    /// Flood a running server on loopback with bad logins; print healthz latency, memory
    /// and whether a real login still gets in.
    LoginFlood(crate::login_flood::LoginFloodArgs),
}

#[derive(Subcommand, Debug)]
pub enum StorageCommand {
    /// Move the local uploads and videos into the `[storage]` bucket under the same keys
    /// (with the server stopped), then switch `backend = "s3"`: the same URLs serve
    /// them. Skips what the bucket already holds with the same size; safe to re-run.
    Migrate {
        /// The backend to move to (only `s3`).
        #[arg(long)]
        to: String,
        /// Keep the local copies (default: each is deleted once the bucket holds it).
        #[arg(long)]
        keep_local: bool,
    },
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on. Default: 127.0.0.1:8080
    #[arg(long, env = "VIDEOAPI_LISTEN")]
    pub listen: Option<String>,
    /// Public base URL used in upload and video URLs. Default: http://<listen>
    #[arg(long, env = "VIDEOAPI_PUBLIC_URL")]
    pub public_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a user (password generated and printed when not given).
    CreateUser {
        username: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long, default_value_t = 0)]
        credits: i64,
        #[arg(long)]
        admin: bool,
    },
    /// Add (or with a negative number, deduct) credits.
    AddCredits {
        username: String,
        #[arg(allow_hyphen_values = true)]
        amount: i64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Create an API key and print it (only now; it is stored hashed), with optional
    /// limits (see the README's "API keys").
    CreateKey {
        username: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        limits: KeyLimitArgs,
    },
    /// Set an account's own limits across all its keys (unset flags stay as they are;
    /// `--clear` first removes them all, back to the pricing group's defaults).
    SetUserLimits {
        username: String,
        #[command(flatten)]
        limits: LimitArgs,
        #[arg(long)]
        clear: bool,
    },
    /// Set a pricing group's default account limits for its members (`--clear` removes
    /// them).
    SetGroupLimits {
        group: String,
        #[command(flatten)]
        limits: LimitArgs,
        #[arg(long)]
        clear: bool,
    },
    /// Set a new password (generated and printed when not given) and end the user's
    /// console sessions: the way back in after a lost admin password.
    ResetPassword {
        username: String,
        #[arg(long)]
        password: Option<String>,
        /// Also make the user an operator (admin).
        #[arg(long)]
        admin: bool,
    },
    /// List accounts: name, admin, disabled, credits, created.
    ListUsers,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // `videoapi` alone is `videoapi serve`, including its environment variables.
        None => serve(&cli.global, serve_args_from_env()),
        Some(Command::Serve(args)) => serve(&cli.global, args),
        Some(Command::Admin(cmd)) => admin(&cli.global, cmd),
        Some(Command::Openapi) => {
            println!("{}", crate::http::spec_json());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Check) => check(&cli.global),
        Some(Command::Backup { dir, media }) => backup(&cli.global, dir, media),
        Some(Command::Restore { dir }) => restore(&cli.global, dir),
        Some(Command::Storage(StorageCommand::Migrate { to, keep_local })) => {
            migrate(&cli.global, &to, keep_local)
        }
        Some(Command::Bench(args)) => crate::bench::run(args),
        Some(Command::LoginFlood(args)) => crate::login_flood::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `ServeArgs` filled the way clap fills them for `serve` without flags: from the env.
fn serve_args_from_env() -> ServeArgs {
    use clap::FromArgMatches;
    let matches = ServeArgs::augment_args(clap::Command::new("serve")).get_matches_from(["serve"]);
    ServeArgs::from_arg_matches(&matches).unwrap_or_default()
}

fn load_config(g: &GlobalArgs, s: &ServeArgs) -> anyhow::Result<Config> {
    Config::load(&Overrides {
        config: g.config.clone(),
        data_dir: g.data_dir.clone(),
        listen: s.listen.clone(),
        public_url: s.public_url.clone(),
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn serve(g: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(g, &args)?;
    init_logging(&config.log_format);
    runtime()?.block_on(async move {
        let listener = std::net::TcpListener::bind(config.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let data_dir = config.data_dir.clone();
        let stop = shutdown_signal()?;
        let running = crate::app::start(config, listener).await.map_err(locked_hint)?;
        if let Some(pw) = &running.admin_password {
            // Printed once, on stdout, so it is not mixed with structured logs.
            println!("\n  First start: admin account created\n    username: admin\n    password: {pw}\n  Store it now; it will not be shown again.\n");
        }
        tracing::info!(
            listen = %running.addr,
            public_url = %running.state.config.public_url,
            data_dir = %data_dir.display(),
            "VideoApi is serving (console at /, API docs at /docs)"
        );
        stop.await;
        tracing::info!("shutting down: finishing in-flight requests and engine steps");
        running.stop().await?;
        tracing::info!("stopped cleanly");
        Ok(ExitCode::SUCCESS)
    })
}

fn locked_hint(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<AppError>() {
        Some(AppError::DatabaseLocked) => anyhow::anyhow!(
            "the database is locked: another videoapi server is running on this data dir"
        ),
        _ => e,
    }
}

/// Installs the SIGTERM/SIGINT handlers now and resolves on the first signal. Called
/// before "serving" is logged: a supervisor (or a test) may signal as soon as it reads
/// that line, and a signal with no handler yet would kill the process uncleanly.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn init_logging(format: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIDEOAPI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,poem=warn"));
    // systemd's journal sets JOURNAL_STREAM; colours there are noise.
    let ansi = format == "pretty"
        || (format == "auto"
            && std::io::stderr().is_terminal()
            && std::env::var_os("JOURNAL_STREAM").is_none()
            && std::env::var_os("NO_COLOR").is_none());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = builder.try_init();
}

/// Open the database for an offline command; a running server holds the lock.
fn open_store(g: &GlobalArgs) -> anyhow::Result<(Config, Store)> {
    let config = load_config(g, &ServeArgs::default())?;
    let path = config.db_path();
    if !path.exists() {
        std::fs::create_dir_all(&config.data_dir)?;
        eprintln!("note: creating a new database at {}", path.display());
    }
    let store = Store::open(&path).map_err(|e| match e {
        AppError::DatabaseLocked => anyhow::anyhow!(
            "the database {} is locked by a running server: stop it first (or use the console)",
            path.display()
        ),
        other => anyhow::anyhow!(other),
    })?;
    Ok((config, store))
}

fn admin(g: &GlobalArgs, cmd: AdminCommand) -> anyhow::Result<ExitCode> {
    let (_config, store) = open_store(g)?;
    let result = admin_on(&store, cmd);
    store.close();
    result
}

/// Hash the password given on the command line, or a generated one (returned to be
/// printed once).
fn hash_given_or_generated(password: Option<String>) -> anyhow::Result<(String, Option<String>)> {
    let generated = password
        .is_none()
        .then(|| crate::domain::ids::random_alnum(20));
    let pw = password.or_else(|| generated.clone()).unwrap_or_default();
    crate::domain::user::validate_password(&pw)?;
    Ok((crate::service::passwords::hash_now(&pw)?, generated))
}

fn admin_on(store: &Store, cmd: AdminCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AdminCommand::CreateUser {
            username,
            password,
            credits,
            admin,
        } => {
            let (hash, generated) = hash_given_or_generated(password)?;
            let user = store.write_now(|txn| {
                store::users::create(
                    txn,
                    store::users::NewUser {
                        username: &username,
                        password_hash: hash,
                        is_admin: admin,
                        credits,
                        pricing_group: None,
                        actor: "cli",
                    },
                )
            })?;
            println!(
                "created user {} (id {}, credits {})",
                user.username, user.id, user.credits
            );
            if let Some(pw) = generated {
                println!("password: {pw}");
            }
            if !has_admin(store)? {
                eprintln!("note: {NO_ADMIN_HINT}.");
            }
        }
        AdminCommand::ResetPassword {
            username,
            password,
            admin,
        } => {
            let (hash, generated) = hash_given_or_generated(password)?;
            // New hash and the end of every session in one transaction: a stolen cookie
            // must not outlive the reset.
            let (user, ended) = store.write_now(|txn| {
                let user = store::users::get_by_name(txn, &username)?;
                let user = store::users::update(txn, user.id, |u| {
                    u.password_hash = hash;
                    u.is_admin |= admin;
                    Ok(())
                })?;
                let ended = store::sessions::delete_for_user(txn, user.id, None)?;
                Ok((user, ended))
            })?;
            println!(
                "password of {} reset{}; {ended} console session(s) ended",
                user.username,
                if admin { ", now an admin" } else { "" }
            );
            if user.disabled {
                println!(
                    "note: {} is disabled; enable it in the console",
                    user.username
                );
            }
            if let Some(pw) = generated {
                println!("password: {pw}");
            }
        }
        AdminCommand::ListUsers => {
            let users = store.read_now(store::users::list)?;
            println!(
                "{:<24} {:<5} {:<8} {:>12}  created",
                "name", "admin", "disabled", "credits"
            );
            for u in &users {
                println!(
                    "{:<24} {:<5} {:<8} {:>12}  {}",
                    u.username,
                    yes_no(u.is_admin),
                    yes_no(u.disabled),
                    u.credits,
                    utc_minute(u.created_at_ms)
                );
            }
            if !users.iter().any(|u| u.is_admin && !u.disabled) {
                eprintln!("note: {NO_ADMIN_HINT}.");
            }
        }
        AdminCommand::AddCredits {
            username,
            amount,
            note,
        } => {
            if amount == 0 {
                anyhow::bail!("amount must not be zero");
            }
            let entry = store.write_now(|txn| {
                let user = store::users::get_by_name(txn, &username)?;
                let kind = if amount > 0 {
                    crate::domain::ledger::EntryKind::TopUp
                } else {
                    crate::domain::ledger::EntryKind::Adjust
                };
                store::ledger::apply(
                    txn,
                    user.id,
                    crate::domain::credits::Credits::new(amount),
                    store::ledger::Reason {
                        kind,
                        task_id: None,
                        actor: "cli",
                        note: note.as_deref(),
                    },
                )
            })?;
            println!(
                "{username}: {:+} credits, balance {}",
                entry.amount, entry.balance_after
            );
        }
        AdminCommand::CreateKey {
            username,
            name,
            limits,
        } => {
            let now = crate::domain::now_ms();
            let limits = limits.key_limits(now)?.normalize(now)?;
            let key = crate::domain::ids::new_api_key();
            store.write_now(|txn| {
                let user = store::users::get_by_name(txn, &username)?;
                store::users::create_key_with(
                    txn,
                    user.id,
                    name.as_deref().unwrap_or(""),
                    &key,
                    limits,
                )
            })?;
            println!("{key}");
        }
        AdminCommand::SetUserLimits {
            username,
            limits,
            clear,
        } => {
            let user = store.write_now(|txn| {
                let user = store::users::get_by_name(txn, &username)?;
                store::users::update(txn, user.id, |u| {
                    let base = if clear {
                        Default::default()
                    } else {
                        u.limits.clone()
                    };
                    u.limits = limits.apply(&base)?;
                    Ok(())
                })
            })?;
            println!("{username}: {}", describe(&user.limits));
        }
        AdminCommand::SetGroupLimits {
            group,
            limits,
            clear,
        } => {
            let set = store.write_now(|txn| {
                let base = if clear {
                    Default::default()
                } else {
                    store::limits::group_limits_w(txn, &group)?
                };
                let next = limits.apply(&base)?;
                store::limits::set_group_limits(txn, &group, &next)?;
                Ok(next)
            })?;
            println!("group {group}: {}", describe(&set));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The limits a key and an account share, as flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Credits that may be spent per `--budget-period`.
    #[arg(long)]
    budget: Option<i64>,
    /// total (default), daily or monthly (in `limits_time_zone`).
    #[arg(long)]
    budget_period: Option<String>,
    /// Unfinished tasks at once; more wait in the queue.
    #[arg(long)]
    max_concurrency: Option<u32>,
    /// Creates per minute.
    #[arg(long)]
    rpm: Option<u32>,
    /// Tasks that may wait for a slot; beyond it creates get 429 queue_full.
    #[arg(long)]
    max_queued: Option<u32>,
}

impl LimitArgs {
    fn apply(
        &self,
        base: &crate::domain::limits::Limits,
    ) -> crate::error::AppResult<crate::domain::limits::Limits> {
        let mut l = base.clone();
        if let Some(b) = self.budget {
            l.budget = Some(b);
        }
        if let Some(p) = &self.budget_period {
            l.budget_period = crate::domain::limits::BudgetPeriod::parse(p)?;
        }
        if let Some(n) = self.max_concurrency {
            l.max_concurrency = Some(n);
        }
        if let Some(n) = self.rpm {
            l.rpm = Some(n);
        }
        if let Some(n) = self.max_queued {
            l.max_queued = Some(n);
        }
        l.validate()?;
        Ok(l)
    }
}

/// A key's limits as flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct KeyLimitArgs {
    /// The key stops working at this time (RFC 3339, e.g. 2026-12-31T23:59:59Z).
    #[arg(long, conflicts_with = "expires_in")]
    expires_at: Option<String>,
    /// The key stops working after this span: 90m, 12h, 30d, 2w.
    #[arg(long)]
    expires_in: Option<String>,
    /// Public model ids the key may use, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// CIDR ranges the key may be used from, comma-separated (default: anywhere).
    #[arg(long, value_delimiter = ',')]
    allowed_ips: Vec<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

impl KeyLimitArgs {
    fn key_limits(&self, now_ms: i64) -> crate::error::AppResult<crate::domain::limits::KeyLimits> {
        use crate::domain::limits;
        let expires_at_ms = match (&self.expires_at, &self.expires_in) {
            (Some(at), _) => Some(limits::parse_rfc3339(at, "expires_at")?),
            (None, Some(span)) => Some(now_ms.saturating_add(limits::parse_span(span)?)),
            (None, None) => None,
        };
        Ok(limits::KeyLimits {
            expires_at_ms,
            models: self.models.clone(),
            allowed_ips: self.allowed_ips.clone(),
            limits: self.limits.apply(&Default::default())?,
        })
    }
}

/// One line: the limits that are set.
fn describe(l: &crate::domain::limits::Limits) -> String {
    let mut parts = Vec::new();
    if let Some(b) = l.budget {
        parts.push(format!("budget {b} ({})", l.budget_period.as_str()));
    }
    if let Some(n) = l.max_concurrency {
        parts.push(format!("max_concurrency {n}"));
    }
    if let Some(n) = l.rpm {
        parts.push(format!("rpm {n}"));
    }
    if let Some(n) = l.max_queued {
        parts.push(format!("max_queued {n}"));
    }
    if parts.is_empty() {
        "no limits".into()
    } else {
        parts.join(", ")
    }
}

fn has_admin(store: &Store) -> anyhow::Result<bool> {
    let users = store.read_now(store::users::list)?;
    Ok(users.iter().any(|u| u.is_admin && !u.disabled))
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// `YYYY-MM-DD HH:MM` in UTC, from Unix milliseconds (no date crate for one column).
fn utc_minute(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn backup(g: &GlobalArgs, dir: PathBuf, media: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(g, &ServeArgs::default())?;
    // Relative to where the command runs, not to the server's working directory.
    let dir = std::path::absolute(&dir)?;
    let report = if crate::store::backup::is_locked(&config.db_path()) {
        let reply = crate::control::send(
            &config.data_dir,
            &crate::control::Request::Backup {
                dir: dir.clone(),
                media,
            },
        )?;
        match (reply.ok, reply.backup) {
            (true, Some(r)) => r,
            _ => anyhow::bail!(
                "backup failed: {}",
                reply.error.unwrap_or_else(|| "no answer".into())
            ),
        }
    } else {
        let (config, store) = open_store(g)?;
        let r = crate::service::backup::backup(&store, &config.data_dir, &dir, media);
        store.close();
        r?
    };
    println!(
        "backup written to {}: {} tables, {} rows, {} media files ({} bytes){}",
        report.dir.display(),
        report.tables,
        report.rows,
        report.files,
        report.bytes,
        if media { ", media copied" } else { "" }
    );
    for k in &report.missing {
        println!("MISSING: {k}");
    }
    Ok(ExitCode::SUCCESS)
}

fn migrate(g: &GlobalArgs, to: &str, keep_local: bool) -> anyhow::Result<ExitCode> {
    if to != "s3" {
        anyhow::bail!("storage migrate: --to must be s3 (got {to})");
    }
    let (config, store) = open_store(g)?;
    let Some(s3) = config.storage_backend.s3.clone() else {
        store.close();
        anyhow::bail!(
            "storage migrate --to s3 needs the bucket: set storage.bucket, storage.access_key_id and storage.secret_access_key (or VIDEOAPI_STORAGE_*)"
        );
    };
    let result = runtime()?.block_on(async {
        // Files stored before files had records get one first: object storage serves by
        // record, so every moved file must have one.
        let local = crate::storage::Storage::open(
            &config.data_dir,
            store.clone(),
            crate::storage::MediaSettings {
                retention: config.retention.clone(),
                quotas: config.quotas.clone(),
                ..Default::default()
            },
            config.clock.clone(),
        )?;
        local.adopt_unrecorded().await?;
        crate::storage::migrate::to_s3(&config.data_dir, &s3, keep_local, |key, what| {
            println!("{key}: {what}")
        })
        .await
    });
    store.close();
    let done = result?;
    println!(
        "migrated to s3://{}/{}: {} copied ({} bytes), {} already there, {} failed",
        s3.bucket, s3.prefix, done.copied, done.bytes, done.skipped, done.failed
    );
    if done.failed > 0 {
        println!("run the command again to retry the failed files");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn restore(g: &GlobalArgs, dir: PathBuf) -> anyhow::Result<ExitCode> {
    let config = load_config(g, &ServeArgs::default())?;
    let report = crate::service::backup::restore(&dir, &config.data_dir).map_err(|e| match e {
        AppError::DatabaseLocked => {
            anyhow::anyhow!("the database is in use by a running server: stop it first")
        }
        other => anyhow::anyhow!(other),
    })?;
    if let Some(p) = &report.previous {
        println!("the previous database was kept as {}", p.display());
    }
    println!(
        "restored {} into {} ({} media files copied back)",
        dir.display(),
        config.data_dir.display(),
        report.files_restored
    );
    for k in &report.missing {
        println!("MISSING: {k} (in the manifest, on neither the backup nor the data dir)");
    }
    println!("run `videoapi check` to audit the restored ledger");
    Ok(ExitCode::SUCCESS)
}

fn check(g: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (_config, store) = open_store(g)?;
    let report = store.read_now(store::audit::check)?;
    store.close();
    println!(
        "checked {} users, {} ledger entries, {} tasks ({} settled: reserved − refunded − settled back = charged)",
        report.users, report.entries, report.tasks, report.settled
    );
    if report.violations.is_empty() {
        println!("ledger OK");
        Ok(ExitCode::SUCCESS)
    } else {
        for v in &report.violations {
            println!("VIOLATION: {v}");
        }
        Ok(ExitCode::from(1))
    }
}

#[cfg(test)]
mod tests {
    use super::utc_minute;

    #[test]
    fn utc_minute_formats_civil_dates() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(951_782_400_000), "2000-02-29 00:00");
        assert_eq!(utc_minute(1_796_137_920_000), "2026-12-01 15:12");
        assert_eq!(utc_minute(-60_000), "1969-12-31 23:59");
    }
}
