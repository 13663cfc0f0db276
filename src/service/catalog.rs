//! The catalog in memory: models, channels and pricing groups, loaded from the store at
//! start and replaced whenever an operator changes them (reads never touch redb).

use crate::config::Config;
use crate::domain::catalog::{self as cat, Model, PricingGroup, ProviderConfig, UserPrice};
use crate::domain::ids::UserId;
use crate::error::{AppError, AppResult};
use crate::providers::Registry;
use crate::store::{self, Store};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

#[derive(Default)]
struct Snapshot {
    models: BTreeMap<String, Arc<Model>>,
    providers: BTreeMap<String, ProviderConfig>,
    groups: BTreeMap<String, PricingGroup>,
    /// (user id, model id) -> that customer's own price.
    user_prices: BTreeMap<(u64, String), UserPrice>,
}

pub struct Catalog {
    store: Store,
    registry: Arc<Registry>,
    snap: RwLock<Snapshot>,
}

impl Catalog {
    /// Apply the `demo` switch (seed or re-enable, or disable), apply what the config
    /// file declares, then load everything and build the adapters.
    pub async fn load(
        store: Store,
        registry: Arc<Registry>,
        config: &Config,
    ) -> AppResult<Catalog> {
        let demo = config.demo;
        let declared_providers = config.providers.clone();
        let declared_models = config.models.clone();
        let declared_groups = config.pricing_groups.clone();
        for p in &declared_providers {
            registry.build(p)?;
        }
        let switched = store
            .write(move |txn| {
                // The config file is the source of truth for what it declares.
                for p in &declared_providers {
                    store::catalog::put_provider(txn, p)?;
                }
                for m in &declared_models {
                    store::catalog::put_model(txn, m)?;
                }
                for g in &declared_groups {
                    store::catalog::put_group(txn, g)?;
                }
                // The demo switch (README, "Running as a service", "The demo switch"):
                // - demo = false: the built-in demo channel and every model only it serves
                //   are disabled, never deleted (tasks and ledger stay), and marked as
                //   switched off, so a production install cannot sell demo videos. At every
                //   start, so one re-enabled in the console while demo is off is off again.
                // - demo = true: seeded when missing; what the switch disabled is enabled
                //   again, unless an operator saved it since (saving clears the mark) or
                //   routed it to a real channel. What the file declares, the file decides.
                let mut switched = 0;
                let channel = store::catalog::get_provider(txn, DEMO_CHANNEL)?;
                if demo {
                    match channel {
                        None => store::catalog::put_provider(txn, &cat::demo_provider())?,
                        Some(mut p) => {
                            if store::catalog::unmark_demo_off(txn, "provider", &p.name)?
                                && !p.enabled
                            {
                                p.enabled = true;
                                store::catalog::put_provider(txn, &p)?;
                                switched += 1;
                            }
                        }
                    }
                    for seed in cat::demo_models() {
                        if store::catalog::get_model(txn, &seed.id)?.is_none() {
                            store::catalog::put_model(txn, &seed)?;
                        }
                    }
                    for mut m in store::catalog::all_models(txn)? {
                        if store::catalog::unmark_demo_off(txn, "model", &m.id)?
                            && serves_only_demo(&m)
                            && !m.enabled
                        {
                            m.enabled = true;
                            store::catalog::put_model(txn, &m)?;
                            switched += 1;
                        }
                    }
                    return Ok(switched);
                }
                if let Some(mut p) = channel
                    && is_demo_channel(&p)
                    && p.enabled
                    && !declared_providers.iter().any(|d| d.name == p.name)
                {
                    p.enabled = false;
                    store::catalog::put_provider(txn, &p)?;
                    store::catalog::mark_demo_off(txn, "provider", &p.name)?;
                    switched += 1;
                }
                for mut m in store::catalog::all_models(txn)? {
                    if serves_only_demo(&m)
                        && m.enabled
                        && !declared_models.iter().any(|d| d.id == m.id)
                    {
                        m.enabled = false;
                        store::catalog::put_model(txn, &m)?;
                        store::catalog::mark_demo_off(txn, "model", &m.id)?;
                        switched += 1;
                    }
                }
                Ok(switched)
            })
            .await?;
        if switched > 0 {
            if demo {
                tracing::info!(
                    entries = switched,
                    "demo is on: re-enabled the built-in demo channel and models that demo = false had disabled"
                );
            } else {
                tracing::info!(
                    entries = switched,
                    "demo is off: disabled the built-in demo channel and the models only it serves \
                     (their tasks and ledger are kept; set demo = true to try things with them again)"
                );
            }
        }
        let catalog = Catalog {
            store,
            registry,
            snap: RwLock::new(Snapshot::default()),
        };
        catalog.reload().await?;
        Ok(catalog)
    }

    pub async fn reload(&self) -> AppResult<()> {
        let (models, providers, groups, user_prices) = self
            .store
            .read(|txn| {
                Ok((
                    store::catalog::models(txn)?,
                    store::catalog::providers(txn)?,
                    store::catalog::groups(txn)?,
                    store::catalog::user_prices(txn)?,
                ))
            })
            .await?;
        for p in &providers {
            if let Err(e) = self.registry.install(p) {
                tracing::warn!(provider = %p.name, error = %e, "provider not loaded");
            }
        }
        let mut snap = self.snap.write().expect("catalog lock");
        snap.models = models
            .into_iter()
            .map(|m| (m.id.clone(), Arc::new(m)))
            .collect();
        snap.providers = providers.into_iter().map(|p| (p.name.clone(), p)).collect();
        snap.groups = groups.into_iter().map(|g| (g.name.clone(), g)).collect();
        snap.user_prices = user_prices
            .into_iter()
            .map(|(u, p)| ((u, p.model.clone()), p))
            .collect();
        Ok(())
    }

    /// A customer's own price for a model, if the operator set one.
    pub fn user_price(&self, user_id: UserId, model: &str) -> Option<UserPrice> {
        self.snap
            .read()
            .expect("catalog lock")
            .user_prices
            .get(&(user_id.get(), model.to_string()))
            .cloned()
    }

    /// Every model price set for one customer.
    pub fn user_prices(&self, user_id: UserId) -> Vec<UserPrice> {
        self.snap
            .read()
            .expect("catalog lock")
            .user_prices
            .range((user_id.get(), String::new())..)
            .take_while(|((u, _), _)| *u == user_id)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Set a customer's price for a model: a percent of list price or a unit price;
    /// neither removes it. Tasks already created keep the price they were created with.
    pub async fn put_user_price(&self, user_id: UserId, p: UserPrice) -> AppResult<()> {
        if self.model(&p.model).is_none() {
            return Err(AppError::invalid(
                "model",
                format!("model `{}` does not exist", p.model),
            ));
        }
        if p.percent.is_some() && p.credits.is_some() {
            return Err(AppError::invalid(
                "percent",
                "set either percent or credits, not both",
            ));
        }
        if p.percent.is_some_and(|v| v == 0 || v > 10_000) {
            return Err(AppError::invalid("percent", "percent must be 1-10000"));
        }
        let max = crate::domain::credits::MAX_PRICE;
        if p.credits.is_some_and(|v| !(0..=max).contains(&v)) {
            return Err(AppError::invalid(
                "credits",
                format!("prices are 0-{max} credits"),
            ));
        }
        self.store
            .write(move |txn| {
                crate::store::users::get(txn, user_id)?
                    .ok_or_else(|| AppError::not_found("user"))?;
                store::catalog::put_user_price(txn, user_id, &p)
            })
            .await?;
        self.reload().await
    }

    pub fn model(&self, id: &str) -> Option<Arc<Model>> {
        self.snap
            .read()
            .expect("catalog lock")
            .models
            .get(id)
            .cloned()
    }

    pub fn models(&self) -> Vec<Arc<Model>> {
        self.snap
            .read()
            .expect("catalog lock")
            .models
            .values()
            .cloned()
            .collect()
    }

    pub fn provider(&self, name: &str) -> Option<ProviderConfig> {
        self.snap
            .read()
            .expect("catalog lock")
            .providers
            .get(name)
            .cloned()
    }

    pub fn providers(&self) -> Vec<ProviderConfig> {
        self.snap
            .read()
            .expect("catalog lock")
            .providers
            .values()
            .cloned()
            .collect()
    }

    pub fn group(&self, name: Option<&str>) -> Option<PricingGroup> {
        let name = name?;
        self.snap
            .read()
            .expect("catalog lock")
            .groups
            .get(name)
            .cloned()
    }

    pub fn groups(&self) -> Vec<PricingGroup> {
        self.snap
            .read()
            .expect("catalog lock")
            .groups
            .values()
            .cloned()
            .collect()
    }

    /// An enabled model a caller may use, or the documented 400.
    pub fn usable_model(&self, id: &str) -> AppResult<Arc<Model>> {
        let model = self.model(id).ok_or_else(|| AppError::UnknownModel {
            model: id.to_string(),
        })?;
        if !model.enabled {
            return Err(AppError::ModelDisabled {
                model: id.to_string(),
            });
        }
        let routable = model.routes.iter().any(|r| {
            self.provider(&r.provider).is_some_and(|p| p.enabled)
                && self.registry.get(&r.provider).is_some()
        });
        if !routable {
            return Err(AppError::NoProvider {
                model: id.to_string(),
            });
        }
        Ok(model)
    }

    pub async fn put_model(&self, model: Model) -> AppResult<()> {
        validate_model(&model)?;
        for (i, r) in model.routes.iter().enumerate() {
            if let Some(adapter) = self.registry.get(&r.provider) {
                adapter
                    .validate_route(&r.upstream_model, &r.settings)
                    .map_err(|e| AppError::invalid(format!("routes[{i}].settings"), e))?;
            }
        }
        self.store
            .write(move |txn| {
                // An operator's save makes the entry's enabled state theirs (see
                // `Catalog::load`).
                store::catalog::unmark_demo_off(txn, "model", &model.id)?;
                store::catalog::put_model(txn, &model)
            })
            .await?;
        self.reload().await
    }

    pub async fn put_provider(&self, p: ProviderConfig) -> AppResult<()> {
        if p.name.trim().is_empty() || p.name.len() > 64 {
            return Err(AppError::invalid(
                "name",
                "provider name must be 1-64 characters",
            ));
        }
        self.registry.build(&p)?;
        self.store
            .write(move |txn| {
                store::catalog::unmark_demo_off(txn, "provider", &p.name)?;
                store::catalog::put_provider(txn, &p)
            })
            .await?;
        self.reload().await
    }

    pub async fn put_group(&self, g: PricingGroup) -> AppResult<()> {
        if g.name.trim().is_empty() || g.name.len() > 64 {
            return Err(AppError::invalid(
                "name",
                "group name must be 1-64 characters",
            ));
        }
        if g.percent == 0 || g.percent > 10_000 {
            return Err(AppError::invalid("percent", "percent must be 1-10000"));
        }
        let max = crate::domain::credits::MAX_PRICE;
        if let Some((model, _)) = g.overrides.iter().find(|(_, v)| **v < 0 || **v > max) {
            return Err(AppError::invalid(
                format!("overrides.{model}"),
                format!("prices are 0-{max} credits"),
            ));
        }
        self.store
            .write(move |txn| store::catalog::put_group(txn, &g))
            .await?;
        self.reload().await
    }
}

/// The channel seeded by `demo = true`: a `demo` provider named `demo`.
const DEMO_CHANNEL: &str = "demo";

fn is_demo_channel(p: &ProviderConfig) -> bool {
    p.name == DEMO_CHANNEL && p.kind == "demo"
}

/// A model that can only ever answer with demo videos: every route leads to the built-in
/// demo channel. A seeded model an operator has routed to a real channel is no longer one.
fn serves_only_demo(m: &Model) -> bool {
    !m.routes.is_empty() && m.routes.iter().all(|r| r.provider == DEMO_CHANNEL)
}

fn validate_model(m: &Model) -> AppResult<()> {
    if m.id.trim().is_empty() || m.id.len() > 128 || m.id.chars().any(char::is_whitespace) {
        return Err(AppError::invalid(
            "id",
            "model id must be 1-128 characters without spaces",
        ));
    }
    if m.billing.credits < 0 || m.billing.resolution_credits.values().any(|v| *v < 0) {
        return Err(AppError::invalid(
            "billing.credits",
            "prices cannot be negative",
        ));
    }
    let max = crate::domain::credits::MAX_PRICE;
    if m.billing.credits > max || m.billing.resolution_credits.values().any(|v| *v > max) {
        return Err(AppError::invalid(
            "billing.credits",
            format!("prices are at most {max} credits"),
        ));
    }
    for (i, r) in m.routes.iter().enumerate() {
        if let Some(cost) = &r.cost {
            crate::domain::settlement::validate_cost(cost, &m.capabilities.resolutions)
                .map_err(|e| AppError::invalid(format!("routes[{i}].cost"), e))?;
        }
    }
    let c = &m.capabilities;
    if c.types.is_empty()
        || c.resolutions.is_empty()
        || c.durations.is_empty()
        || c.aspect_ratios.is_empty()
    {
        return Err(AppError::invalid(
            "capabilities",
            "types, resolutions, durations and aspect_ratios need at least one value",
        ));
    }
    if m.poll_interval_seconds == 0 {
        return Err(AppError::invalid(
            "poll_interval_seconds",
            "must be at least 1",
        ));
    }
    // Last: it prices every combination the capabilities above allow.
    crate::domain::pricing::validate(m)
}
