//! Operator storage page's API: storage by user, per-user quotas, purge, and the
//! retention and free-space settings in force.

use super::{AdminSession, ConsoleTags};
use crate::app::AppState;
use crate::domain::media::Quota;
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

/// The settings in force (from the TOML file and environment).
#[derive(Debug, Clone, Object)]
pub struct StorageSettings {
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

#[derive(Debug, Clone, Object)]
pub struct StorageOverview {
    pub settings: StorageSettings,
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

#[derive(Debug, Clone, Object)]
pub struct Purged {
    pub files: u64,
    pub bytes: u64,
}

fn secs(ms: Option<i64>) -> Option<i64> {
    ms.map(|ms| ms / 1000)
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
        let quotas = &st.settings().quotas;
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
        let r = &st.settings().retention;
        let (_, free) = st.guard().check();
        Ok(Json(StorageOverview {
            settings: StorageSettings {
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
            },
            users,
        }))
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
        state.storage.set_quota(u.id.get(), quota).await?;
        let usage = state.storage.usage(u.id.get()).await?;
        let q = state
            .storage
            .quota_of(u.id.get(), u.pricing_group.clone())
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
        let (files, bytes) = state.storage.purge_owner(u.id.get()).await?;
        tracing::info!(user = %u.username, files, bytes, actor = %auth.admin_actor(), "storage purged");
        Ok(Json(Purged { files, bytes }))
    }
}
