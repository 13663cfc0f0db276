//! What a finished task made, gathered for its settlement: the adapter's report where
//! upstream gives one, else the length measured on the mirrored MP4; and the cost of the
//! route it ran on.

use super::catalog::Catalog;
use crate::domain::catalog::RouteCost;
use crate::domain::settlement::Made;
use crate::domain::task::{Output, ResultRef, Task};
use crate::storage::Storage;

/// The longest reported duration, else the longest measured one; one entry per video.
/// Resolution, audio and provider units are upstream's word where it gives one (the
/// request's values stand in otherwise); units add up over the results.
pub async fn made(storage: &Storage, results: &[ResultRef], outputs: &[Output]) -> Made {
    let reported = results.iter().filter_map(|r| r.duration_seconds).max();
    let seconds = match reported {
        Some(s) => Some(f64::from(s)),
        None => {
            let mut longest: Option<f64> = None;
            for o in outputs {
                if let Some(s) = measure(storage, &o.key).await {
                    longest = Some(longest.map_or(s, |l| l.max(s)));
                }
            }
            longest
        }
    };
    let units: Vec<u64> = results.iter().filter_map(|r| r.provider_units).collect();
    Made {
        seconds,
        resolution: results.iter().find_map(|r| r.resolution.clone()),
        videos: u32::try_from(outputs.len()).unwrap_or(u32::MAX),
        audio: results.iter().filter_map(|r| r.audio).reduce(|a, b| a || b),
        // No report stays unknown; an absurd sum too, rather than saturating into a cost.
        provider_units: if units.is_empty() {
            None
        } else {
            units.iter().try_fold(0u64, |a, b| a.checked_add(*b))
        },
    }
}

/// The length of a stored MP4 from its header boxes; `None` when it cannot be read.
async fn measure(storage: &Storage, key: &str) -> Option<f64> {
    let mut f = storage.reader(key).await?;
    tokio::task::spawn_blocking(move || crate::domain::mp4::read_seconds(&mut f))
        .await
        .ok()
        .flatten()
}

/// What the channel charges on the route the task ran on, as the catalog says now.
pub fn route_cost(catalog: &Catalog, task: &Task) -> Option<RouteCost> {
    let model = catalog.model(&task.model)?;
    model
        .routes
        .iter()
        .find(|r| {
            Some(&r.provider) == task.provider.as_ref()
                && Some(&r.upstream_model) == task.upstream_model.as_ref()
        })
        .and_then(|r| r.cost.clone())
}
