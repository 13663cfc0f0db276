//! Operator storage page's API: storage by user, per-user and per-group quotas, purge,
//! and the retention (editable) and free-space settings in force.

use super::{AdminSession, ConsoleTags};
use crate::app::AppState;
use crate::domain::media::{Quota, Retention, parse_period};
use crate::error::AppError;
use crate::http::failures::*;
use crate::http::views::StorageView;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use std::collections::HashMap;

#[derive(Clone)]
pub struct StorageAdminApi;

/// One account's stored files.
#[derive(Debug, Clone, Object)]
pub struct UserStorage {
    pub user_id: u64,
    pub username: String,
    #[oai(nullable)]
    pub pricing_group: Option<String>,
    /// Usage and the quota in force (own, else the pricing group's, else the default).
    pub storage: StorageView,
    /// Whether the quota is this account's own (set on this page).
    pub own_quota: bool,
}

/// The settings in force (saved on this page, else from the TOML file and environment).
#[derive(Debug, Clone, Object)]
pub struct StorageSettings {
    /// Whether the retention periods were saved on this page (they win over the config's).
    pub retention_saved: bool,
    /// Seconds uploads are kept; null = forever.
    #[oai(nullable)]
    pub upload_retention_secs: Option<i64>,
    /// Seconds mirrored videos are kept; null = forever.
    #[oai(nullable)]
    pub video_retention_secs: Option<i64>,
    /// Per public model overrides of the video retention (seconds; null = forever).
    pub model_retention_secs: HashMap<String, Option<i64>>,
    /// Free bytes now on the data directory's filesystem.
    pub free_bytes: u64,
    /// Below this, uploads answer 507 and mirroring waits.
    pub low_watermark_bytes: u64,
    /// Below this, the janitor also removes the files that expire soonest.
    pub critical_watermark_bytes: u64,
}

/// A pricing group's storage quota.
#[derive(Debug, Clone, Object)]
pub struct GroupQuota {
    pub group: String,
    /// Upload bytes allowed; null = no limit.
    #[oai(nullable)]
    pub quota_bytes: Option<u64>,
    /// Upload files allowed; null = no limit.
    #[oai(nullable)]
    pub quota_files: Option<u64>,
    /// Where it comes from: `console` (saved on this page), `config` (`[quotas.groups]`)
    /// or `default` (`[quotas]`).
    pub source: String,
}

#[derive(Debug, Clone, Object)]
pub struct StorageOverview {
    pub settings: StorageSettings,
    /// The default quota and each pricing group's (an account's own quota wins over both).
    pub default_quota: GroupQuota,
    pub group_quotas: Vec<GroupQuota>,
    /// Every account, most bytes first.
    pub users: Vec<UserStorage>,
}

/// An account's own quota; `inherit: true` removes it (the group's or default applies).
#[derive(Debug, Clone, Object)]
pub struct SetQuota {
    #[oai(default)]
    pub inherit: bool,
    /// Upload bytes allowed; null or absent = no limit.
    pub quota_bytes: Option<u64>,
    /// Upload files allowed; null or absent = no limit.
    pub quota_files: Option<u64>,
}

/// New retention periods: `30s`, `15m`, `12h`, `7d`, `2w`, or `0` (keep forever).
#[derive(Debug, Clone, Object)]
pub struct SetRetention {
    /// How long uploads are kept.
    pub uploads: String,
    /// How long mirrored videos are kept.
    pub videos: String,
    /// Per public model overrides of `videos` (model id = period); absent keeps those in
    /// force.
    pub model_retention: Option<HashMap<String, String>>,
}

#[derive(Debug, Clone, Object)]
pub struct Purged {
    pub files: u64,
    pub bytes: u64,
}

fn secs(ms: Option<i64>) -> Option<i64> {
    ms.map(|ms| ms / 1000)
}

fn period(field: &str, v: &str) -> Result<Option<i64>, AppError> {
    parse_period(v).map_err(|m| AppError::invalid(field, m))
}

fn settings_view(st: &crate::storage::Storage) -> StorageSettings {
    let r = st.retention();
    let (_, free) = st.guard().check();
    StorageSettings {
        retention_saved: st.overrides().retention.is_some(),
        upload_retention_secs: secs(r.uploads_ms),
        video_retention_secs: secs(r.videos_ms),
        model_retention_secs: r
            .models
            .iter()
            .map(|(m, ttl)| (m.clone(), secs(*ttl)))
            .collect(),
        free_bytes: free,
        low_watermark_bytes: st.guard().low_bytes,
        critical_watermark_bytes: st.guard().critical_bytes,
    }
}

fn group_quota(group: &str, q: Quota, source: &str) -> GroupQuota {
    GroupQuota {
        group: group.to_string(),
        quota_bytes: q.bytes,
        quota_files: q.files,
        source: source.to_string(),
    }
}

/// The default quota and every declared pricing group's, with where each comes from.
fn group_quotas(state: &AppState) -> (GroupQuota, Vec<GroupQuota>) {
    let st = &state.storage;
    let quotas = st.quotas();
    let saved = st.overrides().group_quotas;
    let config = &st.settings().quotas.groups;
    let mut groups: Vec<String> = state.catalog.groups().into_iter().map(|g| g.name).collect();
    groups.extend(quotas.groups.keys().cloned());
    groups.sort();
    groups.dedup();
    let rows = groups
        .iter()
        .map(|g| {
            let source = if saved.contains_key(g) {
                "console"
            } else if config.contains_key(g) {
                "config"
            } else {
                "default"
            };
            group_quota(g, quotas.for_user(None, Some(g)), source)
        })
        .collect();
    (group_quota("", quotas.default, "config"), rows)
}

#[OpenApi(prefix_path = "/console/api/admin", tag = "ConsoleTags::ConsoleAdmin")]
impl StorageAdminApi {
    /// Storage by user
    ///
    /// What every account stores (uploads and mirrored videos) against its quota, and
    /// the retention and free-space settings in force.
    #[oai(path = "/storage", method = "get")]
    async fn storage(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
    ) -> Result<Json<StorageOverview>, Failure<ADMIN>> {
        let st = &state.storage;
        let usage: HashMap<u64, _> = st
            .usage_by_user()
            .await?
            .into_iter()
            .map(|(u, usage, own)| (u, (usage, own)))
            .collect();
        let own_quotas = st.own_quotas().await?;
        let quotas = st.quotas();
        let mut users: Vec<UserStorage> = state
            .accounts
            .users()
            .await?
            .into_iter()
            .map(|u| {
                let (use_, _) = usage.get(&u.id.get()).copied().unwrap_or_default();
                let own = own_quotas.get(&u.id.get()).copied();
                UserStorage {
                    user_id: u.id.get(),
                    storage: StorageView::new(
                        use_,
                        quotas.for_user(own, u.pricing_group.as_deref()),
                    ),
                    own_quota: own.is_some(),
                    username: u.username,
                    pricing_group: u.pricing_group,
                }
            })
            .collect();
        users.sort_by(|a, b| {
            b.storage
                .bytes
                .cmp(&a.storage.bytes)
                .then(a.user_id.cmp(&b.user_id))
        });
        let (default_quota, group_quotas) = group_quotas(&state);
        Ok(Json(StorageOverview {
            settings: settings_view(st),
            default_quota,
            group_quotas,
            users,
        }))
    }

    /// Save retention periods
    ///
    /// They win over the config's and apply at once: new uploads and mirrored videos get
    /// expiries from them. Files already stored keep the expiry they were recorded with.
    #[oai(path = "/storage/retention", method = "put")]
    async fn set_retention(
        &self,
        state: Data<&AppState>,
        auth: AdminSession,
        body: Json<SetRetention>,
    ) -> Result<Json<StorageSettings>, Failure<{ ADMIN | BODY | CONSOLE_WRITE }>> {
        let st = &state.storage;
        let b = body.0;
        let models = match &b.model_retention {
            None => st.retention().models,
            Some(m) => {
                let mut out = std::collections::BTreeMap::new();
                for (model, v) in m {
                    out.insert(
                        model.clone(),
                        period(&format!("model_retention.{model}"), v)?,
                    );
                }
                out
            }
        };
        let r = Retention {
            uploads_ms: period("uploads", &b.uploads)?,
            videos_ms: period("videos", &b.videos)?,
            models,
        };
        st.set_retention(r).await?;
        tracing::info!(uploads = %b.uploads, videos = %b.videos, actor = %auth.admin_actor(), "retention saved");
        Ok(Json(settings_view(st)))
    }

    /// Set a pricing group's storage quota
    ///
    /// Its figures (null = no limit) win over the config's `[quotas.groups]`; `inherit:
    /// true` removes the saved one. An account's own quota still wins over its group's.
    #[oai(path = "/storage/group-quotas/:group", method = "put")]
    async fn set_group_quota(
        &self,
        state: Data<&AppState>,
        auth: AdminSession,
        group: Path<String>,
        body: Json<SetQuota>,
    ) -> Result<Json<GroupQuota>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | E404 }>> {
        let g = group.0;
        if state.catalog.group(Some(&g)).is_none() {
            return Err(AppError::not_found("pricing group").into());
        }
        let quota = (!body.0.inherit).then_some(Quota {
            bytes: body.0.quota_bytes,
            files: body.0.quota_files,
        });
        state.storage.set_group_quota(g.clone(), quota).await?;
        tracing::info!(group = %g, actor = %auth.admin_actor(), "group storage quota saved");
        let (_, rows) = group_quotas(&state);
        let row = rows
            .into_iter()
            .find(|r| r.group == g)
            .ok_or_else(|| AppError::not_found("pricing group"))?;
        Ok(Json(row))
    }

    /// Set an account's storage quota
    ///
    /// Its own figures (null = no limit), or `inherit: true` for its pricing group's (or
    /// the default). Only uploads count against it.
    #[oai(path = "/users/:user_id/storage-quota", method = "put")]
    async fn set_quota(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        user_id: Path<u64>,
        body: Json<SetQuota>,
    ) -> Result<Json<UserStorage>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | PARAMS | E404 }>> {
        let u = state.accounts.user(user_id.0.into()).await?;
        let quota = (!body.0.inherit).then_some(Quota {
            bytes: body.0.quota_bytes,
            files: body.0.quota_files,
        });
        state.storage.set_quota(u.id, quota).await?;
        let usage = state.storage.usage(u.id).await?;
        let q = state
            .storage
            .quota_of(u.id, u.pricing_group.clone())
            .await?;
        Ok(Json(UserStorage {
            user_id: u.id.get(),
            username: u.username,
            pricing_group: u.pricing_group,
            storage: StorageView::new(usage, q),
            own_quota: quota.is_some(),
        }))
    }

    /// Purge an account's files
    ///
    /// Deletes every upload and mirrored video of the account now; their URLs answer
    /// 410 `file_expired` and its tasks keep their records.
    #[oai(path = "/users/:user_id/storage/purge", method = "post")]
    async fn purge(
        &self,
        state: Data<&AppState>,
        auth: AdminSession,
        user_id: Path<u64>,
    ) -> Result<Json<Purged>, Failure<{ ADMIN | CONSOLE_WRITE | PARAMS | E404 }>> {
        let u = state.accounts.user(user_id.0.into()).await?;
        let (files, bytes) = state.storage.purge_owner(u.id).await?;
        tracing::info!(user = %u.username, files, bytes, actor = %auth.admin_actor(), "storage purged");
        Ok(Json(Purged { files, bytes }))
    }
}
