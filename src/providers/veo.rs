//! Google Veo on the Gemini API (kind `veo`): `POST /models/{model}:predictLongRunning`
//! returns an operation; poll `GET /{operation}` until `done`; the video `uri` needs the
//! API key (`x-goog-api-key`). Images travel inline as base64, so the adapter reads our own
//! uploads from disk (or fetches other URLs, size-capped and never from private addresses).

use super::generic::{Adapter, Auth, Call, Ctx, Describe, Test, failed, invalid, missing};
use super::http::{self, str_at};
use super::mapping::{self, Limits, Secs, Sound, unsupported};
use super::{PollOutcome, ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references;
use crate::domain::request::UnifiedRequest;
use crate::domain::task::ResultRef;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

pub const GEMINI: &str = "https://generativelanguage.googleapis.com/v1beta";
/// Largest image inlined per frame or reference (channel setting `max_image_bytes`);
/// three references must stay under the API's request size.
const DEFAULT_MAX_IMAGE_BYTES: u64 = 6 * 1024 * 1024;

/// Veo on the Gemini API, described for the [generic adapter](super::generic).
pub struct Veo {
    /// Channel setting `person_generation`: a value to send, `omit`, or unset for the
    /// gateway default (`allow_all` for text, `allow_adult` with images).
    person_generation: Option<String>,
    max_image_bytes: u64,
}

/// Veo 3.1 and newer: last frame, reference images, 4k, always with sound.
#[rustfmt::skip]
const V31: Limits = Limits {
    types: mapping::ALL_TYPES, frames: 2, refs: [3, 0, 0], seconds: Secs::Only(&[4, 6, 8]),
    tiers: &["720p", "1080p", "4k"], ratios: &["16:9", "9:16"],
    frame_shape: false, prompt: 0, sound: Sound::Always,
};
#[rustfmt::skip]
const V30: Limits = Limits { types: &["text-to-video", "image-to-video"], frames: 1, tiers: &["720p", "1080p"], ..V31 };
/// The Gemini API has no audio switch: Veo 3 always speaks, Veo 2 never does.
#[rustfmt::skip]
const VEO2: Limits = Limits { seconds: Secs::Range(5, 8), tiers: &["720p"], sound: Sound::Never, ..V30 };

fn limits(model: &str) -> Limits {
    let m = model.to_ascii_lowercase();
    match m {
        _ if m.starts_with("veo-2") => VEO2,
        _ if m.starts_with("veo-3.0") => V30,
        _ => V31,
    }
}

/// `@Image1` in plain words: Veo has no reference syntax (effect unconfirmed).
pub fn rewrite_prompt(prompt: &str, kind: &str) -> String {
    references::rewrite(prompt, |_, n| match (kind, n) {
        ("image-to-video", 1) => "the first frame".into(),
        ("image-to-video", _) => "the last frame".into(),
        _ => format!("reference image {n}"),
    })
}

/// The request body, with `image(i)` giving the inline form of `image_urls[i]`.
pub fn build_body(
    model: &str,
    req: &UnifiedRequest,
    person_generation: Option<&str>,
    image: impl Fn(usize) -> Value,
) -> Result<Value, AppError> {
    let l = limits(model);
    let fit = l.check(req)?;
    let mut instance = json!({"prompt": rewrite_prompt(&req.prompt, &req.kind)});
    let references = req.kind == "reference-to-video";
    if req.kind == "image-to-video" {
        instance["image"] = image(0);
        if req.image_urls.len() > 1 {
            instance["lastFrame"] = image(1);
        }
    } else if references {
        let refs =
            (0..req.image_urls.len()).map(|i| json!({"image": image(i), "referenceType": "asset"}));
        instance["referenceImages"] = refs.collect();
    }
    let mut params = json!({"sampleCount": 1, "resolution": req.resolution});
    // High resolutions and reference images need 8 s (partly unconfirmed): `auto` asks
    // for 8 there, an explicit other length is refused.
    let needs_eight = req.resolution != "720p" || references;
    match fit.duration {
        _ if needs_eight && req.duration.is_none() => params["durationSeconds"] = json!(8),
        Some(d) if needs_eight && d != 8 => {
            let msg = "this resolution or reference images need an 8 second video on this model's channel";
            return Err(unsupported("duration", msg));
        }
        Some(d) => params["durationSeconds"] = json!(d),
        None => {}
    }
    if let Some(r) = fit.ratio {
        // Reference images allow 16:9 only (the first).
        let ratios = if references { &l.ratios[..1] } else { l.ratios };
        params["aspectRatio"] = json!(mapping::one_of("aspect_ratio", r, ratios)?);
    }
    match person_generation {
        Some("omit") => {}
        Some(p) => params["personGeneration"] = json!(p),
        None if req.kind == "text-to-video" => params["personGeneration"] = json!("allow_all"),
        None => params["personGeneration"] = json!("allow_adult"),
    }
    Ok(json!({"instances": [instance], "parameters": params}))
}

/// Map an operation to an outcome; `credential` goes with the result (its URL needs it).
pub fn parse_operation(v: &Value, credential: Option<&str>) -> Result<PollOutcome, ProviderError> {
    if v["done"] != true {
        let name = v.get("name").ok_or_else(|| missing("an operation name"));
        return name.map(|_| PollOutcome::Running);
    }
    match v.get("error") {
        Some(Value::String(s)) => return Ok(failed(None, Some(s.clone()))),
        Some(e) => return Ok(failed(str_at(e, &["status"]), str_at(e, &["message"]))),
        None => {}
    }
    let resp = &v["response"]["generateVideoResponse"];
    let samples = resp["generatedSamples"].as_array().into_iter().flatten();
    let results: Vec<ResultRef> = (samples.filter_map(|s| s["video"]["uri"].as_str()))
        .map(|url| ResultRef {
            url: url.into(),
            credential: credential.map(str::to_string),
            ..ResultRef::default()
        })
        .collect();
    if !results.is_empty() {
        return Ok(PollOutcome::Succeeded(results));
    }
    if resp["raiMediaFilteredCount"].as_u64().unwrap_or(0) > 0 {
        let reasons = resp["raiMediaFilteredReasons"]
            .as_array()
            .into_iter()
            .flatten();
        let reasons: Vec<&str> = reasons.filter_map(Value::as_str).collect();
        let message = match reasons.is_empty() {
            true => "the video was filtered by the channel's safety checks".to_string(),
            false => reasons.join("; "),
        };
        return Ok(failed(Some("content_filtered".into()), Some(message)));
    }
    let msg = "the channel finished without a video";
    Ok(failed(Some("empty_result".into()), Some(msg.into())))
}

#[async_trait]
impl Describe for Veo {
    const KIND: &'static str = "veo";
    const AUTH: Auth = Auth::Header("x-goog-api-key");
    // The video `uri` needs the key (sent only to the API's own host).
    const DOWNLOAD_AUTH: bool = true;
    const ID_AT: &'static [&'static str] = &["name"];
    const TEST: Option<Test> = Test::get("/models?pageSize=1", "listed models");
    const ERROR_CODE: &'static [&'static [&'static str]] = &[&["error", "status"]];

    fn from_config(cfg: &ProviderConfig) -> Result<Veo, AppError> {
        let s = &cfg.settings;
        let max = s["max_image_bytes"].as_u64();
        Ok(Veo {
            person_generation: s["person_generation"].as_str().map(str::to_string),
            max_image_bytes: max.unwrap_or(DEFAULT_MAX_IMAGE_BYTES),
        })
    }

    // The images are inlined at submission; the check stands them in with nothing.
    fn request(&self, model: &str, req: &UnifiedRequest, _: &str) -> Result<Call, AppError> {
        let pg = self.person_generation.as_deref();
        let body = build_body(model, req, pg, |_| Value::Null)?;
        let path = format!("/models/{model}:predictLongRunning");
        Ok(Call::post(path, body))
    }

    async fn submit_call(
        &self,
        a: &Adapter<Self>,
        job: &SubmitJob<'_>,
    ) -> Result<Call, ProviderError> {
        let (model, req) = (job.upstream_model, job.request);
        // Check the mapping before spending time on fetching images.
        self.check(model, req).map_err(invalid)?;
        let mut images = Vec::with_capacity(req.image_urls.len());
        for u in &req.image_urls {
            let asset = a.kit.fetch_asset(u, self.max_image_bytes).await?;
            if !asset.mime.starts_with("image/") {
                let msg = "an image asset is not an image";
                return Err(ProviderError::final_error("invalid_asset", msg));
            }
            images.push(json!({"bytesBase64Encoded": asset.base64(), "mimeType": asset.mime}));
        }
        let pg = self.person_generation.as_deref();
        let inlined = |i: usize| images[i].clone();
        let body = build_body(model, req, pg, inlined).map_err(invalid)?;
        let path = format!("/models/{}:predictLongRunning", http::safe_id(model)?);
        Ok(Call::post(path, body))
    }

    fn poll_call(&self, name: &str, _: &str) -> Result<Call, ProviderError> {
        Ok(Call::get(name))
    }

    fn outcome(&self, v: &Value, ctx: &Ctx<'_>) -> Result<PollOutcome, ProviderError> {
        parse_operation(v, Some(ctx.credential))
    }

    fn error(&self, reply: &http::Reply, stage: http::Stage) -> ProviderError {
        // A bad key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID: the channel's fault.
        let v = reply.value();
        let details = v.pointer("/error/details").and_then(Value::as_array);
        if details.is_some_and(|d| d.iter().any(|x| x["reason"] == "API_KEY_INVALID")) {
            return ProviderError::channel("API_KEY_INVALID", "the channel's API key was refused");
        }
        let at = |key| str_at(&v, &["error", key]);
        reply.error(stage, at("status"), at("message"))
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::mapping::table::{Expect::*, Want::*, answers, base, case, run_from};

    const V31: &str = "veo-3.1-generate-preview";
    const V30: &str = "veo-3.0-generate-001";
    const V2: &str = "veo-2.0-generate-001";

    #[test]
    fn mapping_table() {
        let b = |m: &str, r: &UnifiedRequest| build_body(m, r, None, |i| json!({"img": i}));
        let cases = vec![
            case("prompt", V31, |r| r.generate_audio = true, Sent("/instances/0/prompt", json!("a fox"))),
            case("silent veo 3", V31, |r| r.generate_audio = false, Refused("generate_audio")),
            case("sound on veo 2", V2, |r| r.generate_audio = true, Refused("generate_audio")),
            case("veo 2 silent", V2, |r| r.duration = Some(6), Sent("/parameters/durationSeconds", json!(6))),
            case("duration 5 on 3.1", V31, |r| { r.generate_audio = true; r.duration = Some(5); }, Refused("duration")),
            case("duration 6 on 3.1", V31, |r| { r.generate_audio = true; r.duration = Some(6); }, Sent("/parameters/durationSeconds", json!(6))),
            case("auto outside the set omitted", V31, |r| { r.generate_audio = true; r.duration = None; r.seconds = 5; }, Omitted("/parameters/durationSeconds")),
            case("1080p with 4 s", V31, |r| { r.generate_audio = true; r.resolution = "1080p".into(); r.duration = Some(4); }, Refused("duration")),
            case("1080p auto asks 8", V31, |r| { r.generate_audio = true; r.resolution = "1080p".into(); r.duration = None; }, Sent("/parameters/durationSeconds", json!(8))),
            case("1080p on veo 2", V2, |r| { r.resolution = "1080p".into(); r.duration = Some(8); }, Refused("resolution")),
            case("480p", V31, |r| { r.generate_audio = true; r.resolution = "480p".into(); }, Refused("resolution")),
            case("4k on 3.0", V30, |r| { r.generate_audio = true; r.resolution = "4k".into(); r.duration = Some(8); }, Refused("resolution")),
            case("ratio", V31, |r| { r.generate_audio = true; r.aspect_ratio = "9:16".into(); }, Sent("/parameters/aspectRatio", json!("9:16"))),
            case("auto ratio omitted", V31, |r| { r.generate_audio = true; r.aspect_ratio = "auto".into(); }, Omitted("/parameters/aspectRatio")),
            case("1:1", V31, |r| { r.generate_audio = true; r.aspect_ratio = "1:1".into(); }, Refused("aspect_ratio")),
            case("text allows all people", V31, |r| r.generate_audio = true, Sent("/parameters/personGeneration", json!("allow_all"))),
            case("first frame inline", V31, |r| { r.generate_audio = true; r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/instances/0/image", json!({"img": 0}))),
            case("images allow adults", V31, |r| { r.generate_audio = true; r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/parameters/personGeneration", json!("allow_adult"))),
            case("last frame", V31, |r| { r.generate_audio = true; r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(); 2]; }, Sent("/instances/0/lastFrame", json!({"img": 1}))),
            case("last frame on 3.0", V30, |r| { r.generate_audio = true; r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(); 2]; }, Refused("image_urls")),
            case("i2v prompt", V31, |r| { r.generate_audio = true; r.kind = "image-to-video".into(); r.prompt = "@Image1 to @Image2".into(); r.image_urls = vec!["https://x/1".into(); 2]; }, Sent("/instances/0/prompt", json!("the first frame to the last frame"))),
            case("references", V31, |r| { r.generate_audio = true; r.kind = "reference-to-video".into(); r.duration = Some(8); r.image_urls = vec!["https://x/1".into(); 3]; }, Sent("/instances/0/referenceImages/2/referenceType", json!("asset"))),
            case("reference prompt", V31, |r| { r.generate_audio = true; r.kind = "reference-to-video".into(); r.duration = Some(8); r.prompt = "@Image2 hugs @Image1".into(); r.image_urls = vec!["https://x/1".into(); 2]; }, Sent("/instances/0/prompt", json!("reference image 2 hugs reference image 1"))),
            case("4 references", V31, |r| { r.generate_audio = true; r.kind = "reference-to-video".into(); r.duration = Some(8); r.image_urls = vec!["https://x/1".into(); 4]; }, Refused("image_urls")),
            case("references need 8 s", V31, |r| { r.generate_audio = true; r.kind = "reference-to-video".into(); r.duration = Some(6); r.image_urls = vec!["https://x/1".into()]; }, Refused("duration")),
            case("references 9:16", V31, |r| { r.generate_audio = true; r.kind = "reference-to-video".into(); r.duration = Some(8); r.aspect_ratio = "9:16".into(); r.image_urls = vec!["https://x/1".into()]; }, Refused("aspect_ratio")),
            case("references on 3.0", V30, |r| { r.generate_audio = true; r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Refused("type")),
            case("videos", V31, |r| { r.generate_audio = true; r.kind = "reference-to-video".into(); r.video_urls = vec!["https://x/v".into()]; }, Refused("video_urls")),
            case("audio", V31, |r| { r.generate_audio = true; r.kind = "reference-to-video".into(); r.audio_urls = vec!["https://x/a".into()]; }, Refused("audio_urls")),
        ];
        // Veo 3 clips are 4, 6 or 8 s and always have sound.
        run_from(UnifiedRequest { duration: Some(8), ..base() }, cases, b);
    }

    #[test]
    fn operations_map_to_outcomes() {
        let sample = ResultRef { url: "https://g/files/a:download?alt=media".into(), credential: Some("k1".into()), ..ResultRef::default() };
        answers(|v| parse_operation(v, Some("k1")), vec![
            (json!({"name": "models/m/operations/1", "done": false}), Is(PollOutcome::Running)),
            (json!({"name": "models/m/operations/1"}), Is(PollOutcome::Running)),
            (json!({"name": "n", "done": true, "response": {"@type": "x", "generateVideoResponse": {"generatedSamples": [{"video": {"uri": "https://g/files/a:download?alt=media"}}]}}}), Is(PollOutcome::Succeeded(vec![sample]))),
            (json!({"done": true, "response": {"generateVideoResponse": {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["celebrity likeness"]}}}), Is(PollOutcome::Failed { code: "content_filtered".into(), message: "celebrity likeness".into() })),
            (json!({"done": true, "error": {"code": 3, "message": "bad", "status": "INVALID_ARGUMENT"}}), Is(PollOutcome::Failed { code: "INVALID_ARGUMENT".into(), message: "bad".into() })),
            (json!({"done": true, "error": "quota"}), Is(PollOutcome::Failed { code: "generation_failed".into(), message: "quota".into() })),
            (json!({"done": true, "response": {"generateVideoResponse": {}}}), Code("empty_result")),
            (json!({"oops": 1}), Bad),
        ]);
    }
}
