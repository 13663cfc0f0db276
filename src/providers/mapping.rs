//! Small rules every adapter applies when mapping the unified request: create-time 422s
//! that name the field, `auto` durations, and reference rewriting helpers.

use crate::domain::references::{self, AssetKind};
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;

/// A 422 naming `param`, worded for the caller (the channel's name never appears).
pub fn unsupported(param: &str, message: impl Into<String>) -> AppError {
    AppError::invalid(param, message)
}

/// The duration to send: an explicit one must be accepted by `ok`; `auto` sends the
/// seconds the task is billed for when the upstream accepts them, otherwise nothing (the
/// upstream's own default).
pub fn duration(req: &UnifiedRequest, ok: impl Fn(u32) -> bool) -> Result<Option<u32>, AppError> {
    match req.duration {
        Some(d) if ok(d) => Ok(Some(d)),
        Some(d) => {
            let msg = format!("{d}s is not available on this model's channel");
            Err(unsupported("duration", msg))
        }
        None => Ok(Some(req.seconds).filter(|&s| ok(s))),
    }
}

/// A 422: `value` of `param` is not available here.
pub fn not_available(param: &str, value: &str) -> AppError {
    let msg = format!("`{value}` is not available on this model's channel");
    unsupported(param, msg)
}

/// `value` when `allowed` has it, else a 422 listing what is.
pub fn one_of<'a>(param: &str, value: &'a str, allowed: &[&str]) -> Result<&'a str, AppError> {
    if allowed.contains(&value) {
        return Ok(value);
    }
    let list = allowed.join(", ");
    let msg = format!("`{value}` is not available on this model's channel; available: {list}");
    Err(unsupported(param, msg))
}

/// The aspect ratio to send: none for `auto`, else one of `allowed`.
pub fn ratio<'a>(req: &'a UnifiedRequest, allowed: &[&str]) -> Result<Option<&'a str>, AppError> {
    match req.aspect_ratio.as_str() {
        "auto" | "" => Ok(None),
        r => one_of("aspect_ratio", r, allowed).map(Some),
    }
}

/// A route naming an upstream model this adapter does not know.
pub fn unknown_model() -> AppError {
    let msg = "this model's channel does not know the upstream model";
    unsupported("model", msg)
}

/// Refuse `generate_audio: true` where the upstream makes silent videos only.
pub fn silent(req: &UnifiedRequest) -> Result<(), AppError> {
    if req.generate_audio {
        let msg = "this model's channel makes silent videos only";
        return Err(unsupported("generate_audio", msg));
    }
    Ok(())
}

/// No reference videos or audio (image and text upstreams).
pub fn no_media(req: &UnifiedRequest) -> Result<(), AppError> {
    at_most("video_urls", &req.video_urls, 0, "videos")?;
    at_most("audio_urls", &req.audio_urls, 0, "audio clips")
}

/// At most this many reference images, videos and audio clips.
pub fn references(req: &UnifiedRequest, [img, vid, aud]: [usize; 3]) -> Result<(), AppError> {
    at_most("image_urls", &req.image_urls, img, "reference images")?;
    at_most("video_urls", &req.video_urls, vid, "reference videos")?;
    at_most("audio_urls", &req.audio_urls, aud, "reference audio clips")
}

/// At most `max` frames: the first, and the last where `max` is 2.
pub fn frames(req: &UnifiedRequest, max: usize) -> Result<(), AppError> {
    let what = match max {
        1 => "images (one first frame)",
        _ => "images (first and last frame)",
    };
    at_most("image_urls", &req.image_urls, max, what)
}

/// At most `max` characters (as the upstream counts them) in the prompt.
pub fn prompt_max(count: usize, max: usize) -> Result<(), AppError> {
    if count <= max {
        return Ok(());
    }
    let msg = format!("the prompt is longer than this model's channel accepts ({max} characters)");
    Err(unsupported("prompt", msg))
}

/// At most `max` assets of a kind.
pub fn at_most(param: &str, urls: &[String], max: usize, what: &str) -> Result<(), AppError> {
    let got = urls.len();
    let msg = match max {
        _ if got <= max => return Ok(()),
        0 => format!("{what} are not supported by this model's channel"),
        _ => format!("this model's channel accepts at most {max} {what}, got {got}"),
    };
    Err(unsupported(param, msg))
}

/// Any `@Video`/`@Audio` (or other) reference the upstream cannot express.
pub fn refuse_refs(prompt: &str, kinds: &[AssetKind]) -> Result<(), AppError> {
    let found = references::find(prompt);
    let Some(r) = found.into_iter().find(|r| kinds.contains(&r.kind)) else {
        return Ok(());
    };
    let (tag, n) = (r.kind.tag(), r.index);
    let msg = format!("@{tag}{n} cannot be referenced on this model's channel");
    Err(unsupported("prompt", msg))
}

/// Which lengths (seconds) a model accepts.
#[derive(Debug, Clone, Copy)]
pub enum Secs {
    Range(u32, u32),
    Only(&'static [u32]),
}

impl Secs {
    pub fn has(self, d: u32) -> bool {
        match self {
            Secs::Range(lo, hi) => (lo..=hi).contains(&d),
            Secs::Only(list) => list.contains(&d),
        }
    }
}

/// Whether a model's videos have sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sound {
    /// Silent only: `generate_audio: true` is refused.
    Never,
    /// Always speaks: `generate_audio: false` is refused.
    Always,
    /// Either, as the request says.
    Switch,
}

/// What one model accepts, as data: a provider's capability table holds one per model
/// (family) and [`Limits::check`] refuses, in one place, what falls outside it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The request types served.
    pub types: &'static [&'static str],
    /// Frames for image-to-video: 1 (first) or 2 (first and last).
    pub frames: usize,
    /// Most reference images, videos and audio clips for reference-to-video.
    pub refs: [usize; 3],
    pub seconds: Secs,
    /// Resolutions; empty: not checked here (Runway's pixel-ratio tables decide).
    pub tiers: &'static [&'static str],
    /// Empty: not checked nor sent (the upstream decides the shape).
    pub ratios: &'static [&'static str],
    /// Image-to-video follows the first frame's shape: its ratio is neither checked nor sent.
    pub frame_shape: bool,
    /// Longest prompt in characters (0: no limit).
    pub prompt: usize,
    pub sound: Sound,
}

/// What [`Limits::check`] found to send: the duration (`None`: the upstream's default)
/// and the aspect ratio (`None` for `auto`).
#[derive(Debug, Clone, Copy)]
pub struct Fit<'a> {
    pub duration: Option<u32>,
    pub ratio: Option<&'a str>,
}

pub const ALL_TYPES: &[&str] = &["text-to-video", "image-to-video", "reference-to-video"];

impl Limits {
    /// The request checked against every limit: the first it breaks is a 422 naming the field.
    pub fn check<'a>(&self, req: &'a UnifiedRequest) -> Result<Fit<'a>, AppError> {
        // Assets the model never takes are refused as such, whatever the type.
        if self.refs[1] == 0 {
            at_most("video_urls", &req.video_urls, 0, "videos")?;
        }
        if self.refs[2] == 0 {
            at_most("audio_urls", &req.audio_urls, 0, "audio clips")?;
        }
        if !self.types.contains(&req.kind.as_str()) {
            return Err(not_available("type", &req.kind));
        }
        match req.kind.as_str() {
            "image-to-video" => {
                frames(req, self.frames)?;
                no_media(req)?;
            }
            "text-to-video" => no_media(req)?,
            "reference-to-video" => {
                references(req, self.refs)?;
                if req.image_urls.is_empty() && req.video_urls.is_empty() {
                    let param = match req.audio_urls.is_empty() {
                        true => "image_urls",
                        false => "audio_urls",
                    };
                    let msg = "reference-to-video needs at least one reference image or video";
                    return Err(unsupported(param, msg));
                }
            }
            _ => {}
        }
        if !self.tiers.is_empty() {
            one_of("resolution", &req.resolution, self.tiers)?;
        }
        let duration = duration(req, |d| self.seconds.has(d))?;
        let ratio = match self.ratios.is_empty() || self.frame_shape && req.kind == "image-to-video"
        {
            true => None,
            false => ratio(req, self.ratios)?,
        };
        match self.sound {
            Sound::Never => silent(req)?,
            Sound::Always if !req.generate_audio => {
                let msg = "this model's channel always generates audio; send generate_audio: true";
                return Err(unsupported("generate_audio", msg));
            }
            _ => {}
        }
        if self.prompt > 0 {
            prompt_max(req.prompt.chars().count(), self.prompt)?;
        }
        Ok(Fit { duration, ratio })
    }
}

/// English ordinal for plain-language references ("the first frame").
pub fn ordinal(n: u32) -> String {
    match n {
        1..=3 => ["first", "second", "third"][n as usize - 1].into(),
        n => format!("{n}th"),
    }
}

/// Table-driven mapping tests shared by every adapter.
#[cfg(test)]
#[rustfmt::skip]
pub mod table {
    use super::*;
    use crate::providers::{PollOutcome, ProviderError};
    use serde_json::Value;

    pub enum Expect {
        /// The body has this value at this JSON pointer.
        Sent(&'static str, Value),
        /// The body has no value at this JSON pointer.
        Omitted(&'static str),
        /// Refused with a 422 naming this field.
        Refused(&'static str),
    }

    /// What a poll answer must map to.
    pub enum Want {
        Is(PollOutcome),
        Url(&'static str),
        Code(&'static str),
        /// A `BadResponse` (polled again).
        Bad,
        /// An error saying this.
        Says(&'static str),
    }

    /// One row per poll answer: `read` maps it as `Want` says.
    pub fn answers(read: impl Fn(&Value) -> Result<PollOutcome, ProviderError>, rows: Vec<(Value, Want)>) {
        for (v, want) in rows {
            let got = read(&v);
            match want {
                Want::Is(o) => assert_eq!(got, Ok(o), "{v}"),
                Want::Url(u) => assert!(matches!(&got, Ok(PollOutcome::Succeeded(r)) if r[0].url == u), "{v}: {got:?}"),
                Want::Code(c) => assert!(matches!(&got, Ok(PollOutcome::Failed { code, .. }) if code == c), "{v}: {got:?}"),
                Want::Bad => assert!(matches!(got, Err(ProviderError::BadResponse { .. })), "{v}: {got:?}"),
                Want::Says(m) => assert!(got.as_ref().is_err_and(|e| e.to_string().contains(m)), "{v}: {got:?}"),
            }
        }
    }

    /// A case's name, the route's model, how it changes the starting request, and what to expect.
    pub type Case = (&'static str, &'static str, fn(&mut UnifiedRequest), Expect);

    pub fn case(name: &'static str, model: &'static str, mutate: fn(&mut UnifiedRequest), expect: Expect) -> Case {
        (name, model, mutate, expect)
    }

    /// A plain 720p text-to-video request, 5 s, 16:9, silent.
    pub fn base() -> UnifiedRequest {
        UnifiedRequest {
            kind: "text-to-video".into(), prompt: "a fox".into(), image_urls: vec![], video_urls: vec![], audio_urls: vec![],
            resolution: "720p".into(), duration: Some(5), seconds: 5, aspect_ratio: "16:9".into(), generate_audio: false,
            end_user_id: None, callback_url: None,
        }
    }

    pub fn run(cases: Vec<Case>, build: impl Fn(&str, &UnifiedRequest) -> Result<Value, AppError>) {
        run_from(base(), cases, build)
    }

    /// Like [`run`], from another starting request.
    pub fn run_from(start: UnifiedRequest, cases: Vec<Case>, build: impl Fn(&str, &UnifiedRequest) -> Result<Value, AppError>) {
        for (name, model, mutate, expect) in cases {
            let mut r = start.clone();
            mutate(&mut r);
            let got = build(model, &r);
            let (ptr, want) = match expect {
                Expect::Sent(ptr, v) => (ptr, Some(v)),
                Expect::Omitted(ptr) => (ptr, None),
                Expect::Refused(param) => {
                    let e = got.expect_err(name);
                    assert_eq!(e.param().as_deref(), Some(param), "{name}: {e}");
                    assert_eq!(e.status(), 422, "{name}");
                    continue;
                }
            };
            let b = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(b.pointer(ptr), want.as_ref(), "{name}: {b}");
        }
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use table::base;

    #[test]
    fn auto_sends_the_billed_seconds_only_when_valid() {
        let req = |duration, seconds| UnifiedRequest { duration, seconds, ..base() };
        let v = |d| d == 5 || d == 10;
        assert_eq!(duration(&req(None, 5), v).unwrap(), Some(5));
        assert_eq!(duration(&req(None, 6), v).unwrap(), None);
        assert_eq!(duration(&req(Some(10), 5), v).unwrap(), Some(10));
        let e = duration(&req(Some(7), 5), v).unwrap_err();
        assert_eq!(e.param().as_deref(), Some("duration"));
    }
}
