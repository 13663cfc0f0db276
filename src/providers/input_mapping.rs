//! Input mappings as data: for generic hosts (fal, Replicate) a route's `settings` say which
//! input names a model uses for each unified field, which values it accepts and in what
//! format, so operators add a model without a release.
//!
//! ```toml
//! [models.routes.settings]
//! types = ["image-to-video"]                    # optional; inferred from `fields`
//! fields = { prompt = "prompt", image = "image_url", duration = "duration" }
//! durations = [4, 6, 8]                         # optional allow-list (seconds)
//! duration_format = "seconds"                   # integer (5) | string ("5") | seconds ("5s")
//! resolutions = ["720p", "1080p"]               # list = allowed as is
//! aspect_ratios = { "16:9" = "landscape" }      # table = allowed and renamed
//! references = "words"                          # words | keep (for @Image1-aware models)
//! fixed = { enhance_prompt = true }             # sent as they are
//! output = "video.url"                          # where the video URL is in the result
//! ```
//!
//! A unified field with no declared input name is not sent (the model's default applies),
//! except assets and `generate_audio: true`, which are refused with a 422 naming the field.

use super::PollOutcome;
use super::generic::video;
use super::mapping::{self, ALL_TYPES};
use crate::domain::references::{self, AssetKind};
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Which input name each unified field goes to.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Fields {
    /// Defaults to `prompt`.
    pub prompt: Option<String>,
    /// The first frame (image-to-video): `image_urls[0]` as a string.
    pub image: Option<String>,
    /// The last frame (image-to-video): `image_urls[1]` as a string.
    pub last_image: Option<String>,
    /// Reference images (reference-to-video): `image_urls` as a list.
    pub images: Option<String>,
    /// One reference video as a string (at most one).
    pub video: Option<String>,
    /// Reference videos as a list.
    pub videos: Option<String>,
    /// One reference audio clip as a string (at most one).
    pub audio: Option<String>,
    /// Reference audio clips as a list.
    pub audios: Option<String>,
    pub resolution: Option<String>,
    pub duration: Option<String>,
    pub aspect_ratio: Option<String>,
    /// A boolean input, always sent when declared.
    pub generate_audio: Option<String>,
}

/// Allowed values, as a list (sent as they are) or a table (unified value → model value).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Values {
    List(Vec<String>),
    Renamed(BTreeMap<String, Value>),
}

impl Values {
    fn names(&self) -> Vec<&str> {
        match self {
            Values::List(l) => l.iter().map(String::as_str).collect(),
            Values::Renamed(m) => m.keys().map(String::as_str).collect(),
        }
    }

    /// The model's value for `unified`, or the 422 listing the allowed ones.
    fn pick(&self, param: &str, unified: &str) -> Result<Value, AppError> {
        mapping::one_of(param, unified, &self.names())?;
        Ok(match self {
            Values::Renamed(m) => m.get(unified).cloned().unwrap_or_else(|| json!(unified)),
            Values::List(_) => json!(unified),
        })
    }
}

/// How a duration is written: `5`, `"5"` or `"5s"`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DurationFormat {
    #[default]
    Integer,
    String,
    Seconds,
}

/// What `@Image1` becomes in the prompt.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RefStyle {
    /// Plain words: "the first frame", "the second reference image".
    #[default]
    Words,
    /// Left as written, for models that read `@Image1` themselves (fal R2V models).
    Keep,
}

/// One route's mapping (its `settings`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct InputMapping {
    pub types: Vec<String>,
    pub fields: Fields,
    pub durations: Vec<u32>,
    pub duration_format: DurationFormat,
    pub resolutions: Option<Values>,
    pub aspect_ratios: Option<Values>,
    pub max_images: Option<usize>,
    pub max_videos: Option<usize>,
    pub max_audios: Option<usize>,
    pub max_prompt_chars: Option<usize>,
    pub references: RefStyle,
    pub fixed: Map<String, Value>,
    /// A dotted path to the video URL in the model's output (`video.url`, `videos.0.url`);
    /// unset = the first video-looking URL anywhere in it.
    pub output: Option<String>,
}

impl InputMapping {
    /// Parse and check a route's settings (`null` = the default: the prompt only).
    pub fn from_settings(settings: &Value) -> Result<InputMapping, String> {
        let m: InputMapping = match settings {
            Value::Null => InputMapping::default(),
            s => serde_json::from_value(s.clone()).map_err(|e| e.to_string())?,
        };
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), String> {
        let f = &self.fields;
        #[rustfmt::skip]
        let all = [
            &f.prompt, &f.image, &f.last_image, &f.images, &f.video, &f.videos, &f.audio, &f.audios,
            &f.resolution, &f.duration, &f.aspect_ratio, &f.generate_audio,
        ];
        let mut seen = std::collections::HashSet::new();
        for name in all.into_iter().flatten() {
            if name.trim().is_empty() {
                return Err("fields: input names cannot be empty".into());
            }
            if !seen.insert(name.as_str()) {
                return Err(format!("fields: `{name}` is used for two unified fields"));
            }
        }
        let declared = |t: &str| self.types.iter().any(|d| d == t);
        if let Some(t) = self.types.iter().find(|t| !ALL_TYPES.contains(&t.as_str())) {
            let all = ALL_TYPES.join(", ");
            return Err(format!("types: `{t}` is not one of {all}"));
        }
        if declared("image-to-video") && f.image.is_none() {
            return Err("types: image-to-video needs fields.image".into());
        }
        if declared("reference-to-video") && !self.has_reference_fields() {
            let needs = "fields.images, video(s) or audio(s)";
            return Err(format!("types: reference-to-video needs {needs}"));
        }
        if let Some(p) = &self.output
            && p.split('.').any(str::is_empty)
        {
            return Err("output: use a dotted path such as `video.url`".into());
        }
        Ok(())
    }

    fn has_reference_fields(&self) -> bool {
        let f = &self.fields;
        let refs = [&f.images, &f.video, &f.videos, &f.audio, &f.audios];
        refs.iter().any(|n| n.is_some())
    }

    /// The unified types this route serves.
    pub fn types(&self) -> Vec<&str> {
        if !self.types.is_empty() {
            return self.types.iter().map(String::as_str).collect();
        }
        let mut t = vec!["text-to-video"];
        if self.fields.image.is_some() {
            t.push("image-to-video");
        }
        if self.has_reference_fields() {
            t.push("reference-to-video");
        }
        t
    }

    /// The model's input for `req`, or the 422 naming what this route cannot honour.
    pub fn build(&self, req: &UnifiedRequest) -> Result<Map<String, Value>, AppError> {
        let f = &self.fields;
        mapping::one_of("type", &req.kind, &self.types())?;
        let mut input = self.fixed.clone();

        let i2v = req.kind == "image-to-video";
        if i2v {
            mapping::no_media(req)?;
            mapping::frames(req, if f.last_image.is_some() { 2 } else { 1 })?;
            // Each frame goes where the route names an input for it.
            let frames = [&f.image, &f.last_image].into_iter().zip(&req.image_urls);
            input.extend(frames.filter_map(|(name, url)| Some((name.clone()?, json!(url)))));
        } else {
            // Each kind as a list (`many`, up to its max), as one string (`one`), or refused.
            let none = None;
            #[rustfmt::skip]
            let kinds = [
                ("image_urls", &req.image_urls, &none, &f.images, self.max_images, "reference images"),
                ("video_urls", &req.video_urls, &f.video, &f.videos, self.max_videos, "reference videos"),
                ("audio_urls", &req.audio_urls, &f.audio, &f.audios, self.max_audios, "reference audio clips"),
            ];
            for (param, urls, one, many, max, what) in kinds {
                match (urls.as_slice(), one, many) {
                    ([], _, _) => {}
                    (_, _, Some(n)) => {
                        mapping::at_most(param, urls, max.unwrap_or(usize::MAX), what)?;
                        input.insert(n.clone(), json!(urls));
                    }
                    ([first, ..], Some(n), None) => {
                        mapping::at_most(param, urls, 1, what)?;
                        input.insert(n.clone(), json!(first));
                    }
                    _ => mapping::at_most(param, urls, 0, what)?,
                }
            }
        }

        let prompt = match self.references {
            RefStyle::Keep => req.prompt.clone(),
            RefStyle::Words => words(&req.prompt, &req.kind),
        };
        if let Some(max) = self.max_prompt_chars {
            mapping::prompt_max(prompt.chars().count(), max)?;
        }
        let name = f.prompt.clone().unwrap_or_else(|| "prompt".into());
        input.insert(name, json!(prompt));

        // Enumerations: any value goes where the route lists none.
        let pick = |param, unified: &str, allowed: &Option<Values>| match allowed {
            Some(values) => values.pick(param, unified),
            None => Ok(json!(unified)),
        };
        if let Some(n) = &f.resolution {
            let v = pick("resolution", &req.resolution, &self.resolutions)?;
            input.insert(n.clone(), v);
        }
        if let Some(n) = &f.aspect_ratio {
            let auto = matches!(req.aspect_ratio.as_str(), "auto" | "");
            // `auto` is sent only where the model lists it; otherwise its default applies.
            let listed = (self.aspect_ratios.as_ref()).is_some_and(|v| v.names().contains(&"auto"));
            if !auto || listed {
                let unified = if auto { "auto" } else { &req.aspect_ratio };
                let v = pick("aspect_ratio", unified, &self.aspect_ratios)?;
                input.insert(n.clone(), v);
            }
        }
        // Without a duration input the allow-list still holds; `auto` is then never sent.
        let allowed = &self.durations;
        let d = mapping::duration(req, |d| allowed.is_empty() || allowed.contains(&d))?;
        if let (Some(n), Some(d)) = (&f.duration, d) {
            let d = match self.duration_format {
                DurationFormat::Integer => json!(d),
                DurationFormat::String => json!(d.to_string()),
                DurationFormat::Seconds => json!(format!("{d}s")),
            };
            input.insert(n.clone(), d);
        }
        if let Some(n) = &f.generate_audio {
            input.insert(n.clone(), json!(req.generate_audio));
        } else {
            mapping::silent(req)?;
        }
        Ok(input)
    }
}

/// A route the operator got wrong: not the caller's mistake, so a 400 that says so; the
/// details go to the log, not to the customer.
fn misconfigured(kind: &str, error: &str, log: &str, fix: &str) -> AppError {
    tracing::warn!(provider = kind, error = %error, "{log}");
    let message = format!("this model's route is misconfigured; the operator must fix {fix}");
    AppError::BadRequest { message }
}

/// The mapping of a route at request time (an unreadable one is the operator's 400).
pub fn for_route(kind: &str, settings: &Value) -> Result<InputMapping, AppError> {
    let log = "a route's input mapping is invalid";
    InputMapping::from_settings(settings).map_err(|e| misconfigured(kind, &e, log, "its settings"))
}

/// A route check for hosts whose routes declare the mapping: the route's model id must be
/// readable (`model`; else the operator's 400, logged) and the request must fit the mapping.
pub fn check_route(
    kind: &str,
    model: Result<(), String>,
    settings: &Value,
    req: &UnifiedRequest,
) -> Result<(), AppError> {
    model.map_err(|e| misconfigured(kind, &e, "a route names an invalid model", "it"))?;
    for_route(kind, settings)?.build(req).map(|_| ())
}

/// The video URL in a model's output: at `path` when given (dotted, numbers index lists),
/// else the first URL that looks like a video, else the first URL at all.
pub fn output_url(v: &Value, path: Option<&str>) -> Option<String> {
    if let Some(p) = path {
        let at = super::http::value_at(v, &p.split('.').collect::<Vec<_>>());
        return at?.as_str().filter(|s| is_url(s)).map(str::to_string);
    }
    let mut urls = Vec::new();
    collect_urls(v, &mut urls, 0);
    let video = urls.iter().find(|u| looks_like_video(u));
    video.or(urls.first()).map(|s| s.to_string())
}

/// `@Image1` in plain words, for models without prompt tags: the first or last frame in
/// image-to-video, else "the second reference image".
pub fn words(prompt: &str, kind: &str) -> String {
    references::rewrite(prompt, |k, n| match (kind, k) {
        ("image-to-video", AssetKind::Image) if n == 1 => "the first frame".into(),
        ("image-to-video", AssetKind::Image) => "the last frame".into(),
        (_, k) => format!("the {} reference {}", mapping::ordinal(n), k.noun()),
    })
}

/// A model's finished output: the video (at the route's `output` path, from `settings`),
/// or the failure saying there is none.
pub fn finished(output: &Value, settings: &Value) -> PollOutcome {
    let mapping = InputMapping::from_settings(settings).ok();
    match output_url(output, mapping.and_then(|m| m.output).as_deref()) {
        Some(url) => video(url, None, None),
        None => PollOutcome::Failed {
            code: "no_video_in_result".into(),
            message: "the model finished without a video in its output".into(),
        },
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

fn looks_like_video(u: &str) -> bool {
    let path = u.split(['?', '#']).next().unwrap_or(u).to_ascii_lowercase();
    let videos = [".mp4", ".mov", ".webm", ".m4v"];
    videos.iter().any(|e| path.ends_with(e))
}

fn collect_urls<'a>(v: &'a Value, out: &mut Vec<&'a str>, depth: u32) {
    match v {
        _ if depth > 8 => {}
        Value::String(s) if is_url(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_urls(i, out, depth + 1)),
        Value::Object(map) => {
            // `video` first: models that also return a thumbnail usually name it so.
            let rest = map.iter().filter(|(k, _)| *k != "video").map(|(_, v)| v);
            for item in map.get("video").into_iter().chain(rest) {
                collect_urls(item, out, depth + 1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::mapping::table::{Expect::*, case, run};

    fn veo() -> Value {
        json!({"types": ["text-to-video", "image-to-video"],
            "fields": {"image": "image_url", "last_image": "end_image_url", "resolution": "resolution",
                       "duration": "duration", "aspect_ratio": "aspect_ratio", "generate_audio": "generate_audio"},
            "durations": [4, 6, 8], "duration_format": "seconds", "resolutions": ["720p", "1080p"],
            "aspect_ratios": ["auto", "16:9", "9:16"], "fixed": {"enhance_prompt": true}})
    }

    fn build(settings: &str, r: &UnifiedRequest) -> Result<Value, AppError> {
        let s = match settings {
            "veo" => veo(),
            "kling" => json!({
                "fields": {"images": "image_urls", "duration": "duration", "aspect_ratio": "aspect_ratio", "resolution": "mode"},
                "durations": [5, 10], "duration_format": "string", "max_images": 4, "references": "keep",
                "aspect_ratios": {"16:9": "16:9", "9:16": "9:16", "1:1": "1:1"}, "resolutions": {"720p": "std", "1080p": "pro"}}),
            _ => Value::Null,
        };
        InputMapping::from_settings(&s).unwrap().build(r).map(Value::Object)
    }

    #[test]
    fn mapping_table() {
        fn i2v(r: &mut UnifiedRequest) {
            r.kind = "image-to-video".into();
            r.prompt = "@Image1 to @Image2".into();
            r.image_urls = vec!["https://x/1.png".into(), "https://x/2.png".into()];
            r.duration = Some(8);
        }
        fn r2v(r: &mut UnifiedRequest) {
            r.kind = "reference-to-video".into();
            r.prompt = "@Image1 hugs @Image2".into();
            r.image_urls = vec!["https://x/1.png".into(), "https://x/2.png".into()];
        }
        let cases = vec![
            case("default sends the prompt", "none", |_| {}, Sent("/prompt", json!("a fox"))),
            case("default sends nothing else", "none", |_| {}, Omitted("/resolution")),
            case("default refuses images", "none", i2v, Refused("type")),
            case("default refuses audio", "none", |r| r.generate_audio = true, Refused("generate_audio")),
            case("fixed values", "veo", |r| r.duration = Some(8), Sent("/enhance_prompt", json!(true))),
            case("seconds format", "veo", |r| r.duration = Some(8), Sent("/duration", json!("8s"))),
            case("duration not listed", "veo", |_| {}, Refused("duration")),
            case("auto duration sends billed seconds", "veo", |r| { r.duration = None; r.seconds = 6; }, Sent("/duration", json!("6s"))),
            case("auto duration past the list omits", "veo", |r| { r.duration = None; r.seconds = 5; }, Omitted("/duration")),
            case("first frame", "veo", i2v, Sent("/image_url", json!("https://x/1.png"))),
            case("last frame", "veo", i2v, Sent("/end_image_url", json!("https://x/2.png"))),
            case("words for frames", "veo", i2v, Sent("/prompt", json!("the first frame to the last frame"))),
            case("references on veo", "veo", r2v, Refused("type")),
            case("480p", "veo", |r| { r.duration = Some(8); r.resolution = "480p".into(); }, Refused("resolution")),
            case("auto ratio listed", "veo", |r| { r.duration = Some(8); r.aspect_ratio = "auto".into(); }, Sent("/aspect_ratio", json!("auto"))),
            case("ratio not listed", "veo", |r| { r.duration = Some(8); r.aspect_ratio = "1:1".into(); }, Refused("aspect_ratio")),
            case("audio", "veo", |r| { r.duration = Some(8); r.generate_audio = true; }, Sent("/generate_audio", json!(true))),
            case("silent says so", "veo", |r| r.duration = Some(8), Sent("/generate_audio", json!(false))),
            case("string format", "kling", |_| {}, Sent("/duration", json!("5"))),
            case("renamed resolution", "kling", |r| r.resolution = "1080p".into(), Sent("/mode", json!("pro"))),
            case("auto ratio not listed is omitted", "kling", |r| r.aspect_ratio = "auto".into(), Omitted("/aspect_ratio")),
            case("reference list", "kling", r2v, Sent("/image_urls", json!(["https://x/1.png", "https://x/2.png"]))),
            case("keep tags", "kling", r2v, Sent("/prompt", json!("@Image1 hugs @Image2"))),
            case("too many references", "kling", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1.png".into(); 5]; }, Refused("image_urls")),
            case("no video field", "kling", |r| { r.kind = "reference-to-video".into(); r.video_urls = vec!["https://x/v.mp4".into()]; }, Refused("video_urls")),
            case("kling has no i2v", "kling", i2v, Refused("type")),
            case("no end user", "kling", |r| r.end_user_id = Some("c".into()), Omitted("/end_user_id")),
        ];
        run(cases, build);
    }

    #[test]
    fn bad_settings_are_explained() {
        for (v, says) in [
            (json!({"feilds": {}}), "feilds"),
            (json!({"types": ["image-to-video"]}), "fields.image"),
            (json!({"types": ["reference-to-video"]}), "reference"),
            (json!({"types": ["video-to-audio"]}), "video-to-audio"),
            (json!({"fields": {"image": "x", "images": "x"}}), "two"),
            (json!({"duration_format": "minutes"}), "minutes"),
            (json!({"output": "video..url"}), "dotted"),
        ] {
            assert!(InputMapping::from_settings(&v).unwrap_err().contains(says), "{v}");
        }
        assert!(InputMapping::from_settings(&Value::Null).is_ok());
        assert!(InputMapping::from_settings(&veo()).is_ok());
    }

    #[test]
    fn video_urls_are_found_in_any_output_shape() {
        let fal = json!({"video": {"url": "https://v3.fal.media/x/out.mp4", "content_type": "video/mp4"}, "seed": 1});
        let list = json!(["https://r.delivery/a/thumb.jpg", "https://r.delivery/a/out.mp4?x=1"]);
        let nested = json!({"thumbnail": "https://x/t.png", "videos": [{"url": "https://x/v.webm"}]});
        for (v, path, want) in [
            (&fal, None, Some("https://v3.fal.media/x/out.mp4")),
            (&fal, Some("video.url"), Some("https://v3.fal.media/x/out.mp4")),
            (&list, None, Some("https://r.delivery/a/out.mp4?x=1")),
            (&list, Some("0"), Some("https://r.delivery/a/thumb.jpg")),
            (&json!("https://r.delivery/o"), None, Some("https://r.delivery/o")),
            (&nested, None, Some("https://x/v.webm")),
            (&nested, Some("videos.1.url"), None),
            (&json!({"seed": 1}), None, None),
        ] {
            assert_eq!(output_url(v, path).as_deref(), want, "{v} at {path:?}");
        }
    }
}
