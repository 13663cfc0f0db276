//! The unified generation request: normalising defaults and validating it against a model.

use super::catalog::Model;
use super::references::{self, AssetKind};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

pub const MAX_PROMPT_CHARS: usize = 5000;
const MAX_URL_LEN: usize = 4096;
const MAX_END_USER_ID: usize = 128;

/// `duration` as sent: `"auto"`, a number, or a numeric string.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationInput {
    Number(f64),
    Text(String),
}

/// What the caller sent, already decoded from JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationInput {
    pub model: String,
    pub kind: Option<String>,
    pub prompt: String,
    pub image_urls: Vec<String>,
    pub video_urls: Vec<String>,
    pub audio_urls: Vec<String>,
    pub resolution: Option<String>,
    pub duration: Option<DurationInput>,
    pub aspect_ratio: Option<String>,
    pub generate_audio: Option<bool>,
    pub end_user_id: Option<String>,
    pub callback_url: Option<String>,
}

/// The request after defaults are applied: what providers receive and what is billed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnifiedRequest {
    #[serde(rename = "type")]
    pub kind: String,
    pub prompt: String,
    pub image_urls: Vec<String>,
    pub video_urls: Vec<String>,
    pub audio_urls: Vec<String>,
    pub resolution: String,
    /// `None` when the caller asked for `auto`.
    pub duration: Option<u32>,
    /// Seconds used for billing (`auto` = the model's default).
    pub seconds: u32,
    pub aspect_ratio: String,
    pub generate_audio: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

fn check_urls(param: &str, urls: &[String], max: u32, kind: AssetKind) -> Result<(), AppError> {
    if urls.len() > max as usize {
        return Err(AppError::invalid(
            param,
            format!(
                "this model accepts at most {max} {} asset(s), got {}",
                kind.noun(),
                urls.len()
            ),
        ));
    }
    for (i, u) in urls.iter().enumerate() {
        let ok = (u.starts_with("https://") || u.starts_with("http://"))
            && u.len() <= MAX_URL_LEN
            && !u.chars().any(char::is_whitespace)
            && u.len() > "http://".len();
        if !ok {
            return Err(AppError::invalid(
                format!("{param}[{i}]"),
                "must be an http(s) URL without spaces, at most 4096 characters",
            ));
        }
    }
    Ok(())
}

fn pick(
    param: &str,
    value: Option<&str>,
    allowed: &[String],
    default: Option<&str>,
) -> Result<String, AppError> {
    match value {
        None | Some("") => default
            .map(str::to_string)
            .or_else(|| allowed.first().cloned())
            .ok_or_else(|| AppError::invalid(param, "this model has no value configured")),
        Some(v) if allowed.iter().any(|a| a == v) => Ok(v.to_string()),
        Some(v) => Err(AppError::invalid(
            param,
            format!(
                "`{v}` is not supported by this model; use one of: {}",
                allowed.join(", ")
            ),
        )),
    }
}

fn parse_duration(model: &Model, input: Option<&DurationInput>) -> Result<Option<u32>, AppError> {
    let caps = &model.capabilities;
    let secs = match input {
        None => return Ok(None),
        Some(DurationInput::Text(t))
            if t.trim().eq_ignore_ascii_case("auto") || t.trim().is_empty() =>
        {
            return Ok(None);
        }
        Some(DurationInput::Text(t)) => {
            t.trim().trim_end_matches('s').parse::<f64>().map_err(|_| {
                AppError::invalid("duration", "must be \"auto\" or a number of seconds")
            })?
        }
        Some(DurationInput::Number(n)) => *n,
    };
    if !secs.is_finite() || secs.fract() != 0.0 || !(1.0..=600.0).contains(&secs) {
        return Err(AppError::invalid(
            "duration",
            "must be \"auto\" or a whole number of seconds",
        ));
    }
    let secs = secs as u32;
    if !caps.durations.contains(&secs) {
        let list: Vec<String> = caps.durations.iter().map(|d| d.to_string()).collect();
        return Err(AppError::invalid(
            "duration",
            format!(
                "{secs}s is not supported by this model; use auto or one of: {}",
                list.join(", ")
            ),
        ));
    }
    Ok(Some(secs))
}

/// The JSON a body field accepts, in the words error messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Text,
    TextList,
    Bool,
    /// `"auto"`, a number or a numeric string.
    Duration,
    /// A number of seconds or a numeric string.
    Seconds,
    /// An image file part, a URL, or `{"image_url": ...}`.
    Reference,
}

impl Expect {
    fn accepts(self, v: &serde_json::Value) -> bool {
        match self {
            Expect::Text => v.is_string(),
            Expect::TextList => v
                .as_array()
                .is_some_and(|items| items.iter().all(|i| i.is_string())),
            Expect::Bool => v.is_boolean(),
            Expect::Duration | Expect::Seconds => v.is_string() || v.is_number(),
            Expect::Reference => v.is_string() || v.is_object(),
        }
    }

    fn words(self) -> &'static str {
        match self {
            Expect::Text => "a string",
            Expect::TextList => "an array of strings",
            Expect::Bool => "true or false",
            Expect::Duration => "\"auto\", a number or a numeric string",
            Expect::Seconds => "a number of seconds or a numeric string",
            Expect::Reference => "an image file or {\"image_url\": \"...\"}",
        }
    }
}

/// What a JSON value is, in the words error messages use.
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "true/false",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Check a create body field by field, naming the field in plain words: with `strict`, a
/// field the body does not declare (a typo like `resolutoin` would otherwise be ignored
/// and billed at the default), then the required ones, then each field's JSON type.
pub fn check_fields(
    obj: &serde_json::Map<String, serde_json::Value>,
    fields: &[(&str, Expect)],
    required: &[&str],
    strict: bool,
) -> Result<(), AppError> {
    if strict {
        let known: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
        if let Some(field) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(AppError::UnknownField {
                field: field.clone(),
                suggestion: suggest_field(field, &known).map(str::to_string),
            });
        }
    }
    for field in required {
        if obj.get(*field).is_none_or(|v| v.is_null()) {
            return Err(AppError::invalid(
                *field,
                format!("\"{field}\" is required"),
            ));
        }
    }
    for (field, expect) in fields {
        if let Some(v) = obj.get(*field)
            && !v.is_null()
            && !expect.accepts(v)
        {
            return Err(AppError::invalid(
                *field,
                format!(
                    "\"{field}\" must be {}, not {}",
                    expect.words(),
                    json_kind(v)
                ),
            ));
        }
    }
    Ok(())
}

/// The known field a misspelt `field` most likely meant: the closest by edit distance
/// (a swapped pair of letters counts once), when it is close enough to be a typo.
pub fn suggest_field<'a>(field: &str, known: &[&'a str]) -> Option<&'a str> {
    let typed = field.trim().to_ascii_lowercase().replace('-', "_");
    known
        .iter()
        .map(|k| (strsim::osa_distance(&typed, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// An asset URL that points at this server's own upload folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnUpload {
    /// The request field and index, e.g. `image_urls[0]`.
    pub param: String,
    pub url: String,
    /// The storage key, e.g. `uploads/<id>/photo.png`.
    pub key: String,
}

/// Every asset URL under `<public_url>/uploads/`: those can be checked locally before
/// anything is charged, instead of failing upstream minutes later.
pub fn own_uploads(public_url: &str, input: &GenerationInput) -> Vec<OwnUpload> {
    let prefix = format!("{}/", public_url.trim_end_matches('/'));
    let lists = [
        ("image_urls", &input.image_urls),
        ("video_urls", &input.video_urls),
        ("audio_urls", &input.audio_urls),
    ];
    let mut found = Vec::new();
    for (field, urls) in lists {
        for (i, url) in urls.iter().enumerate() {
            let Some(rest) = url.strip_prefix(&prefix) else {
                continue;
            };
            let key = rest.split(['?', '#']).next().unwrap_or(rest);
            if key.starts_with("uploads/") {
                found.push(OwnUpload {
                    param: format!("{field}[{i}]"),
                    url: url.clone(),
                    key: key.to_string(),
                });
            }
        }
    }
    found
}

/// Check every field against the model and fill in defaults.
pub fn normalize(model: &Model, input: GenerationInput) -> Result<UnifiedRequest, AppError> {
    let caps = &model.capabilities;
    let prompt = input.prompt.trim().to_string();
    if prompt.is_empty() {
        return Err(AppError::invalid("prompt", "prompt is required"));
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(AppError::invalid(
            "prompt",
            format!("prompt is longer than {MAX_PROMPT_CHARS} characters"),
        ));
    }
    check_urls(
        "image_urls",
        &input.image_urls,
        caps.max_images,
        AssetKind::Image,
    )?;
    check_urls(
        "video_urls",
        &input.video_urls,
        caps.max_videos,
        AssetKind::Video,
    )?;
    check_urls(
        "audio_urls",
        &input.audio_urls,
        caps.max_audios,
        AssetKind::Audio,
    )?;

    for r in references::find(&prompt) {
        let available = match r.kind {
            AssetKind::Image => input.image_urls.len(),
            AssetKind::Video => input.video_urls.len(),
            AssetKind::Audio => input.audio_urls.len(),
        };
        if r.index == 0 || r.index as usize > available {
            return Err(AppError::UnknownReference {
                reference: format!("@{}{}", r.kind.tag(), r.index),
                available,
                kind: r.kind.noun(),
            });
        }
    }

    let has_media = !(input.image_urls.is_empty()
        && input.video_urls.is_empty()
        && input.audio_urls.is_empty());
    let default_kind =
        if !input.image_urls.is_empty() && caps.types.iter().any(|t| t == "image-to-video") {
            "image-to-video"
        } else if has_media && caps.types.iter().any(|t| t == "reference-to-video") {
            "reference-to-video"
        } else if caps.types.iter().any(|t| t == "text-to-video") {
            "text-to-video"
        } else {
            caps.types
                .first()
                .map(String::as_str)
                .unwrap_or("text-to-video")
        };
    let kind = pick(
        "type",
        input.kind.as_deref(),
        &caps.types,
        Some(default_kind),
    )?;
    match kind.as_str() {
        "text-to-video" if has_media => {
            return Err(AppError::invalid(
                "type",
                "text-to-video takes no image, video or audio assets; use image-to-video or reference-to-video",
            ));
        }
        "image-to-video" if input.image_urls.is_empty() => {
            return Err(AppError::invalid(
                "image_urls",
                "image-to-video needs at least one image",
            ));
        }
        "reference-to-video" if !has_media => {
            return Err(AppError::invalid(
                "image_urls",
                "reference-to-video needs at least one image, video or audio asset",
            ));
        }
        _ => {}
    }

    let resolution = pick(
        "resolution",
        input.resolution.as_deref(),
        &caps.resolutions,
        None,
    )?;
    let aspect_default = if caps.aspect_ratios.iter().any(|a| a == "auto") {
        Some("auto")
    } else {
        None
    };
    let aspect_ratio = pick(
        "aspect_ratio",
        input.aspect_ratio.as_deref(),
        &caps.aspect_ratios,
        aspect_default,
    )?;
    let duration = parse_duration(model, input.duration.as_ref())?;
    let generate_audio = input
        .generate_audio
        .unwrap_or(caps.default_generate_audio && caps.supports_audio);
    if generate_audio && !caps.supports_audio {
        return Err(AppError::invalid(
            "generate_audio",
            "this model cannot generate audio",
        ));
    }
    let end_user_id = match input.end_user_id.map(|s| s.trim().to_string()) {
        Some(s) if s.chars().count() > MAX_END_USER_ID => {
            return Err(AppError::invalid(
                "end_user_id",
                "end_user_id is longer than 128 characters",
            ));
        }
        Some(s) if s.is_empty() => None,
        other => other,
    };
    if let Some(cb) = &input.callback_url {
        check_urls(
            "callback_url",
            std::slice::from_ref(cb),
            1,
            AssetKind::Image,
        )
        .map_err(|_| AppError::invalid("callback_url", "callback_url must be an http(s) URL"))?;
    }
    Ok(UnifiedRequest {
        kind,
        prompt,
        image_urls: input.image_urls,
        video_urls: input.video_urls,
        audio_urls: input.audio_urls,
        resolution,
        duration,
        seconds: duration.unwrap_or(caps.default_duration),
        aspect_ratio,
        generate_audio,
        end_user_id,
        callback_url: input.callback_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::demo_models;

    fn seed_example() -> GenerationInput {
        GenerationInput {
            model: "video-2.0-mini-reference-to-video".into(),
            kind: Some("image-to-video".into()),
            prompt: "让 @Image1 中的人物自然转身,镜头缓慢推进,光影真实".into(),
            image_urls: vec!["https://your-domain.com/uploads/reference.png".into()],
            resolution: Some("720p".into()),
            duration: Some(DurationInput::Text("auto".into())),
            aspect_ratio: Some("9:16".into()),
            generate_audio: Some(true),
            end_user_id: Some("customer_001".into()),
            ..Default::default()
        }
    }

    #[test]
    fn seed_example_is_valid_and_bills_default_seconds() {
        let r = normalize(&demo_models()[0], seed_example()).unwrap();
        assert_eq!(r.duration, None);
        assert_eq!(r.seconds, 5);
        assert_eq!(r.aspect_ratio, "9:16");
    }

    #[test]
    fn reference_past_the_assets_names_it_and_the_count() {
        let mut input = seed_example();
        input.image_urls.push("https://x/2.png".into());
        input.prompt = "@Image1 meets @Image3".into();
        let err = normalize(&demo_models()[0], input).unwrap_err();
        assert_eq!(
            err,
            AppError::UnknownReference {
                reference: "@Image3".into(),
                available: 2,
                kind: "image"
            }
        );
        assert!(err.to_string().contains("@Image3") && err.to_string().contains('2'));
    }

    #[test]
    fn invalid_fields_name_the_param() {
        let m = &demo_models()[0];
        type Mutate = Box<dyn Fn(&mut GenerationInput)>;
        let cases: Vec<(Mutate, &str)> = vec![
            (Box::new(|i| i.resolution = Some("4k".into())), "resolution"),
            (
                Box::new(|i| i.duration = Some(DurationInput::Number(7.0))),
                "duration",
            ),
            (
                Box::new(|i| i.duration = Some(DurationInput::Number(4.5))),
                "duration",
            ),
            (
                Box::new(|i| i.duration = Some(DurationInput::Text("soon".into()))),
                "duration",
            ),
            (
                Box::new(|i| i.aspect_ratio = Some("5:4".into())),
                "aspect_ratio",
            ),
            (Box::new(|i| i.prompt = "  ".into()), "prompt"),
            (
                Box::new(|i| i.image_urls = vec!["ftp://x".into()]),
                "image_urls[0]",
            ),
            (Box::new(|i| i.kind = Some("video-to-audio".into())), "type"),
            (
                Box::new(|i| i.image_urls = vec!["https://a/b".into(); 10]),
                "image_urls",
            ),
        ];
        for (mutate, param) in cases {
            let mut input = seed_example();
            input.prompt = "plain".into();
            mutate(&mut input);
            let err = normalize(m, input).unwrap_err();
            assert_eq!(err.param().as_deref(), Some(param), "{err}");
            assert_eq!(err.status(), 422);
        }
    }

    #[test]
    fn close_typos_get_a_suggestion_and_strangers_do_not() {
        let known = [
            "model",
            "type",
            "prompt",
            "resolution",
            "aspect_ratio",
            "image_urls",
        ];
        for (typed, meant) in [
            ("resolutoin", Some("resolution")),
            ("promt", Some("prompt")),
            ("tpye", Some("type")),
            ("imageUrls", Some("image_urls")),
            ("aspect-ratio", Some("aspect_ratio")),
            ("image_url", Some("image_urls")),
            ("seed", None),
            ("x", None),
            ("negative_prompt", None),
        ] {
            assert_eq!(suggest_field(typed, &known), meant, "{typed}");
        }
    }

    #[test]
    fn own_uploads_are_found_with_their_field_and_index() {
        let input = GenerationInput {
            image_urls: vec![
                "https://cdn.example.com/uploads/a/x.png".into(),
                "https://v.example.com/uploads/ab/y.png?v=1".into(),
            ],
            audio_urls: vec!["https://v.example.com/videos/z.mp4".into()],
            video_urls: vec!["https://v.example.com/uploads/cd/z.mp4".into()],
            ..Default::default()
        };
        let found = own_uploads("https://v.example.com", &input);
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|o| (o.param.as_str(), o.key.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("image_urls[1]", "uploads/ab/y.png"),
                ("video_urls[0]", "uploads/cd/z.mp4")
            ]
        );
    }

    #[test]
    fn numeric_string_duration_is_accepted() {
        let mut input = seed_example();
        input.duration = Some(DurationInput::Text("8".into()));
        assert_eq!(normalize(&demo_models()[0], input).unwrap().seconds, 8);
    }

    #[test]
    fn text_model_rejects_audio_and_media() {
        let m = &demo_models()[1];
        let mut input = GenerationInput {
            prompt: "a cat".into(),
            ..Default::default()
        };
        input.generate_audio = Some(true);
        assert_eq!(
            normalize(m, input.clone()).unwrap_err().param().as_deref(),
            Some("generate_audio")
        );
        input.generate_audio = None;
        let r = normalize(m, input).unwrap();
        assert_eq!(r.kind, "text-to-video");
        assert!(!r.generate_audio);
    }
}
