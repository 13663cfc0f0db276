//! The OpenAI Videos view of a task: `WIDTHxHEIGHT` sizes ↔ resolution and aspect ratio,
//! the status vocabulary and a monotonic progress figure. Pure mapping, no I/O.

use super::catalog::Model;
use super::request::{DurationInput, GenerationInput};
use super::task::{Phase, Status, Task};
use crate::error::AppError;

/// Short side in pixels of each resolution name a model may list.
const RESOLUTIONS: &[(&str, u32)] = &[
    ("360p", 360),
    ("480p", 480),
    ("540p", 540),
    ("720p", 720),
    ("1080p", 1080),
    ("2k", 1440),
    ("4k", 2160),
];

/// Aspect ratios as (name, long side, short side, landscape).
const RATIOS: &[(&str, u32, u32, bool)] = &[
    ("16:9", 16, 9, true),
    ("9:16", 16, 9, false),
    ("1:1", 1, 1, true),
    ("4:3", 4, 3, true),
    ("3:4", 4, 3, false),
    ("3:2", 3, 2, true),
    ("2:3", 3, 2, false),
    ("21:9", 21, 9, true),
    ("9:21", 21, 9, false),
];

/// Sizes of the OpenAI API that are not an exact ratio of a short side: Sora's "pro"
/// sizes, which the `openai-videos` adapter sends for 1080p.
const SORA_SIZES: &[(&str, &str, &str)] = &[
    ("1792x1024", "1080p", "16:9"),
    ("1024x1792", "1080p", "9:16"),
];

/// `WIDTHxHEIGHT` for a resolution and aspect ratio, when both are known names.
/// `auto` is shown as 16:9, the shape models make when nothing decides otherwise.
pub fn size_of(resolution: &str, aspect_ratio: &str) -> Option<String> {
    let short = RESOLUTIONS.iter().find(|(r, _)| *r == resolution)?.1;
    let ratio = if aspect_ratio == "auto" || aspect_ratio.is_empty() {
        "16:9"
    } else {
        aspect_ratio
    };
    let (_, long_part, short_part, landscape) = RATIOS.iter().find(|r| r.0 == ratio)?;
    // Round the long side to an even number of pixels, as encoders need.
    let long = (short * long_part).div_ceil(*short_part).div_ceil(2) * 2;
    Some(if *landscape {
        format!("{long}x{short}")
    } else {
        format!("{short}x{long}")
    })
}

/// Resolution and aspect ratio named by a `WIDTHxHEIGHT` size, whatever the model.
pub fn parse_size(size: &str) -> Option<(&'static str, &'static str)> {
    let s = size.trim().to_ascii_lowercase();
    if let Some((_, r, a)) = SORA_SIZES.iter().find(|(k, _, _)| *k == s) {
        return Some((r, a));
    }
    let (w, h) = s.split_once(['x', '*', '×'])?;
    let (w, h): (u32, u32) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    let short = w.min(h);
    let (res, _) = RESOLUTIONS.iter().find(|(_, px)| *px == short)?;
    RATIOS
        .iter()
        .filter(|(_, _, _, landscape)| *landscape == (w >= h))
        .find(|(name, _, _, _)| size_of(res, name).as_deref() == Some(s.as_str()))
        .map(|(name, _, _, _)| (*res, *name))
}

/// Every size a model can make, in the order of its resolutions and ratios.
pub fn model_sizes(model: &Model) -> Vec<String> {
    let caps = &model.capabilities;
    let mut out = Vec::new();
    for r in &caps.resolutions {
        for a in caps.aspect_ratios.iter().filter(|a| *a != "auto") {
            if let Some(s) = size_of(r, a)
                && !out.contains(&s)
            {
                out.push(s);
            }
        }
    }
    out
}

/// The model's resolution and aspect ratio for `size`, or a 422 naming the size and the
/// sizes the model can make.
pub fn size_for_model(model: &Model, size: &str) -> Result<(String, String), AppError> {
    let caps = &model.capabilities;
    let fits = parse_size(size).filter(|(r, a)| {
        caps.resolutions.iter().any(|x| x == r) && caps.aspect_ratios.iter().any(|x| x == a)
    });
    match fits {
        Some((r, a)) => Ok((r.to_string(), a.to_string())),
        None => Err(AppError::invalid(
            "size",
            format!(
                "size `{size}` is not available on model `{}`; use one of: {}",
                model.id,
                model_sizes(model).join(", ")
            ),
        )),
    }
}

/// A `POST /v1/videos` body after decoding: the OpenAI fields and the unified ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VideoRequest {
    pub model: String,
    pub prompt: String,
    /// OpenAI's `seconds` (`"4"`, `8`); `duration` wins when both are sent and agree.
    pub seconds: Option<DurationInput>,
    /// `WIDTHxHEIGHT`.
    pub size: Option<String>,
    /// The URL of `input_reference` (a stored upload or the caller's `image_url`).
    pub input_reference: Option<String>,
    /// The unified fields, passed through as on `/v1/video/generations`.
    pub unified: GenerationInput,
}

/// The unified request a `POST /v1/videos` body stands for: `size` becomes the model's
/// resolution and aspect ratio, `seconds` the duration, and `input_reference` the first
/// image (`@Image1`, the first frame).
pub fn to_generation_input(model: &Model, req: VideoRequest) -> Result<GenerationInput, AppError> {
    let mut input = req.unified;
    input.model = req.model;
    input.prompt = req.prompt;
    if let Some(size) = &req.size {
        let (resolution, aspect_ratio) = size_for_model(model, size)?;
        for (field, given, from_size) in [
            ("resolution", &input.resolution, &resolution),
            ("aspect_ratio", &input.aspect_ratio, &aspect_ratio),
        ] {
            if let Some(g) = given
                && g != from_size
            {
                return Err(AppError::invalid(
                    field,
                    format!(
                        "{field} `{g}` disagrees with size `{size}` ({from_size}); send one of them"
                    ),
                ));
            }
        }
        input.resolution = Some(resolution);
        input.aspect_ratio = Some(aspect_ratio);
    }
    match (&input.duration, req.seconds) {
        (None, s) => input.duration = s,
        (Some(d), Some(s)) if as_seconds(d) != as_seconds(&s) => {
            return Err(AppError::invalid(
                "seconds",
                "seconds and duration disagree; send one of them",
            ));
        }
        _ => {}
    }
    if let Some(url) = req.input_reference {
        input.image_urls.insert(0, url);
    }
    Ok(input)
}

fn as_seconds(d: &DurationInput) -> Option<f64> {
    match d {
        DurationInput::Number(n) => Some(*n),
        DurationInput::Text(t) => t.trim().trim_end_matches('s').parse().ok(),
    }
}

/// A remix of a finished video: the same model, resolution, length and shape, a new
/// prompt, and the source video as `@Video1` (reference-to-video). A model that takes
/// no reference video cannot remix.
pub fn remix_input(
    source: &Task,
    model: &Model,
    prompt: String,
    public_url: &str,
) -> Result<GenerationInput, AppError> {
    let caps = &model.capabilities;
    if caps.max_videos == 0 || !caps.types.iter().any(|t| t == "reference-to-video") {
        return Err(AppError::RemixUnsupported {
            model: model.id.clone(),
        });
    }
    let video = match (source.status, source.outputs.first()) {
        (Status::Completed, Some(o)) => format!("{}/{}", public_url.trim_end_matches('/'), o.key),
        _ => {
            return Err(AppError::conflict(
                "only a completed video whose files were not deleted can be remixed",
            ));
        }
    };
    let r = &source.request;
    Ok(GenerationInput {
        model: model.id.clone(),
        kind: Some("reference-to-video".into()),
        prompt,
        video_urls: vec![video],
        resolution: Some(r.resolution.clone()),
        duration: r.duration.map(|d| DurationInput::Number(d.into())),
        aspect_ratio: Some(r.aspect_ratio.clone()),
        generate_audio: Some(r.generate_audio),
        end_user_id: r.end_user_id.clone(),
        ..Default::default()
    })
}

/// `queued | in_progress | completed | failed`.
pub fn status(task: &Task) -> &'static str {
    match task.status {
        Status::Pending => "queued",
        Status::Processing => "in_progress",
        Status::Completed => "completed",
        Status::Failed => "failed",
    }
}

/// How long a generation is assumed to take when estimating progress.
const TYPICAL_MS: f64 = 60_000.0;

/// Percent done, 0–100. Never goes down while a task moves forward: queued 0 (5 once a
/// submission was tried), sent 10, then up to 90 with the time upstream has had it,
/// copying the result 95, finished 100 (failed included: nothing more will happen).
pub fn progress(task: &Task, now_ms: i64) -> u8 {
    if task.status.is_terminal() {
        return 100;
    }
    match &task.phase {
        Phase::Queued if task.submit_attempts == 0 => 0,
        Phase::Queued | Phase::Submitting { .. } => 5,
        Phase::Submitted { .. } => {
            let since = task.submitted_at_ms.unwrap_or(task.created_at_ms);
            let t = (now_ms - since).max(0) as f64;
            (10.0 + 80.0 * (1.0 - (-t / TYPICAL_MS).exp())).floor() as u8
        }
        Phase::Mirroring { .. } => 95,
        Phase::Done => 100,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::demo_models;

    #[test]
    fn sizes_map_both_ways() {
        let table = [
            ("720p", "16:9", "1280x720"),
            ("720p", "9:16", "720x1280"),
            ("480p", "16:9", "854x480"),
            ("720p", "1:1", "720x720"),
            ("1080p", "16:9", "1920x1080"),
            ("1080p", "9:16", "1080x1920"),
            ("720p", "21:9", "1680x720"),
            ("720p", "4:3", "960x720"),
            ("480p", "3:4", "480x640"),
        ];
        for (res, ratio, size) in table {
            assert_eq!(size_of(res, ratio).as_deref(), Some(size), "{res} {ratio}");
            assert_eq!(parse_size(size), Some((res, ratio)), "{size}");
        }
        assert_eq!(size_of("720p", "auto").as_deref(), Some("1280x720"));
        assert_eq!(parse_size("1792x1024"), Some(("1080p", "16:9")));
        assert_eq!(parse_size("1024x1792"), Some(("1080p", "9:16")));
        for bad in ["", "720", "1280x", "axb", "1000x700", "1280x721", "0x0"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_size_the_model_cannot_make_names_it_and_the_choices() {
        let m = &demo_models()[0];
        assert_eq!(
            size_for_model(m, "720x1280").unwrap(),
            ("720p".to_string(), "9:16".to_string())
        );
        let err = size_for_model(m, "1792x1024").unwrap_err();
        assert_eq!(err.param().as_deref(), Some("size"));
        assert_eq!(err.status(), 422);
        let msg = err.to_string();
        assert!(
            msg.contains("1792x1024") && msg.contains("1280x720"),
            "{msg}"
        );
        assert!(size_for_model(m, "big").is_err());
    }

    #[test]
    fn progress_only_goes_up() {
        let now = 1_000_000;
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "id": "vidgen_1_00000000", "user_id": 1, "model": "m",
            "request": {"type": "text-to-video", "prompt": "p", "image_urls": [], "video_urls": [],
                "audio_urls": [], "resolution": "720p", "duration": null, "seconds": 5,
                "aspect_ratio": "16:9", "generate_audio": false},
            "price": {"unit_credits": 5, "units": 1, "total": 5, "mode": "per_task"},
            "status": "pending", "phase": {"phase": "queued"}, "credits_reserved": 5,
            "credits_refunded": false, "poll_interval_seconds": 5, "submit_attempts": 0,
            "created_at_ms": now, "updated_at_ms": now, "deadline_ms": now + 1, "source": "api"
        }))
        .unwrap();
        let mut seen = vec![progress(&t, now)];
        t.submit_attempts = 1;
        t.phase = Phase::Submitting { route: 0 };
        seen.push(progress(&t, now));
        t.status = Status::Processing;
        t.phase = Phase::Submitted {
            upstream_id: "u".into(),
        };
        t.submitted_at_ms = Some(now);
        for dt in [0, 1_000, 30_000, 600_000, 100_000_000] {
            seen.push(progress(&t, now + dt));
        }
        t.phase = Phase::Mirroring { results: vec![] };
        seen.push(progress(&t, now));
        t.status = Status::Completed;
        t.phase = Phase::Done;
        seen.push(progress(&t, now));
        assert_eq!(seen.first(), Some(&0));
        assert_eq!(seen.last(), Some(&100));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert!(seen.iter().all(|p| *p <= 100));
        assert_eq!(status(&t), "completed");
    }
}
