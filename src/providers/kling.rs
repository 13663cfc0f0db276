//! Kling (kind `kling`): an HS256 JWT made from the access key (`api_key`) and secret key
//! (`api_secret`); `POST /v1/videos/{text2video|image2video|multi-image2video|omni-video}`,
//! poll `GET /v1/videos/{kind}/{task_id}`. Our task id goes out as `external_task_id`, so a
//! resent submission finds the first one instead of creating a second task.

use super::credentials::Credential;
use super::generic::{Adapter, Answer, Call, Describe, Test, missing};
use super::http::{self, Stage, str_at};
use super::mapping::{self, Limits, Secs, Sound};
use super::{ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references::{self, AssetKind};
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use async_trait::async_trait;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

pub const GLOBAL: &str = "https://api-singapore.klingai.com";
/// Token lifetime (the official sample's 30 minutes) and how early it is renewed.
const TOKEN_SECS: i64 = 1800;
const RENEW_BEFORE_SECS: i64 = 300;

/// Kling, described for the [generic adapter](super::generic).
pub struct Kling {
    /// Cached JWT per credential: (token, expiry in Unix seconds).
    tokens: Mutex<HashMap<String, (String, i64)>>,
}

/// Which create path a request goes to; also the first half of our stored upstream id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Text,
    Image,
    MultiImage,
    Omni,
}

/// Each endpoint's path segment.
const PATHS: [(Endpoint, &str); 4] = [
    (Endpoint::Text, "text2video"),
    (Endpoint::Image, "image2video"),
    (Endpoint::MultiImage, "multi-image2video"),
    (Endpoint::Omni, "omni-video"),
];

impl Endpoint {
    pub fn path(self) -> &'static str {
        PATHS
            .iter()
            .find(|(e, _)| *e == self)
            .map_or("", |(_, p)| p)
    }

    fn parse(s: &str) -> Option<Endpoint> {
        PATHS.iter().find(|(_, p)| *p == s).map(|(e, _)| *e)
    }
}

const TEXT_IMAGE: &[&str] = &["text-to-video", "image-to-video"];
/// Kling v2.6: text and frames, sound, 5 or 10 s.
#[rustfmt::skip]
const V26: Limits = Limits {
    types: TEXT_IMAGE, frames: 2, refs: [0; 3], seconds: Secs::Only(&[5, 10]), tiers: &["720p", "1080p"],
    ratios: &["16:9", "9:16", "1:1"], frame_shape: true, prompt: 0, sound: Sound::Switch,
};
const SILENT: Limits = Limits {
    sound: Sound::Never,
    ..V26
};
const UP_TO_10: Secs = Secs::Range(3, 10);
const UP_TO_15: Secs = Secs::Range(3, 15);
/// Omni models take every type through `omni-video`: images ≤ 7 (≤ 4 with a reference
/// video), one reference video (partly unconfirmed; see the README).
const OMNI_MAX_IMAGES_WITH_VIDEO: usize = 4;

/// The capability table: whether the model is an Omni one, and its limits. Reference
/// images outside Omni go to multi-image2video (`kling-v1-6` only).
#[rustfmt::skip]
fn profile(model: &str) -> (bool, Limits) {
    let omni = Limits { types: mapping::ALL_TYPES, refs: [7, 1, 0], ..V26 };
    match model {
        "kling-v1" | "kling-v2-master" | "kling-v2-1-master" | "kling-v2-5-turbo" => (false, SILENT),
        "kling-v1-5" | "kling-v2-1" => (false, Limits { types: &["image-to-video"], ..SILENT }),
        "kling-v1-6" => (false, Limits { types: mapping::ALL_TYPES, refs: [4, 0, 0], ..SILENT }),
        "kling-v3" => (false, Limits { seconds: UP_TO_15, ..V26 }),
        "kling-video-o1" => (true, Limits { seconds: UP_TO_10, sound: Sound::Never, ..omni }),
        "kling-v3-omni" => (true, Limits { seconds: UP_TO_15, ..omni }),
        // kling-v2-6 and models newer than this adapter: the v2.6 abilities.
        _ => (false, V26),
    }
}

/// `@Image1` in Kling's words: `<<<image_1>>>` for Omni; plain words elsewhere (those
/// endpoints have no reference syntax and match images by position).
pub fn rewrite_prompt(prompt: &str, endpoint: Endpoint) -> String {
    references::rewrite(prompt, |kind, n| match endpoint {
        Endpoint::Omni => format!("<<<{}_{n}>>>", kind.noun()),
        Endpoint::Image if n == 1 => "the first frame".into(),
        Endpoint::Image => "the last frame".into(),
        _ => format!("image {n}"),
    })
}

/// The endpoint and body for `req`, or the 422 saying what the model cannot do.
pub fn build_body(
    model: &str,
    req: &UnifiedRequest,
    external_id: &str,
) -> Result<(Endpoint, Value), AppError> {
    let (omni, limits) = profile(model);
    let fit = limits.check(req)?;
    let endpoint = match req.kind.as_str() {
        _ if omni => Endpoint::Omni,
        "text-to-video" => Endpoint::Text,
        "image-to-video" => Endpoint::Image,
        _ => Endpoint::MultiImage,
    };
    mapping::refuse_refs(&req.prompt, &[AssetKind::Audio])?;
    let mut body = json!({
        "model_name": model,
        "prompt": rewrite_prompt(&req.prompt, endpoint),
        "external_task_id": external_id,
    });
    let image_only = req.kind == "image-to-video";
    match endpoint {
        Endpoint::Text => {}
        Endpoint::Image => {
            body["image"] = json!(req.image_urls[0]);
            if let Some(tail) = req.image_urls.get(1) {
                body["image_tail"] = json!(tail);
            }
        }
        Endpoint::MultiImage => {
            let list: Vec<Value> = req.image_urls.iter().map(|u| json!({"image": u})).collect();
            body["image_list"] = json!(list);
        }
        Endpoint::Omni => {
            if !req.video_urls.is_empty() {
                let (most, what) = (OMNI_MAX_IMAGES_WITH_VIDEO, "reference images");
                mapping::at_most("image_urls", &req.image_urls, most, what)?;
            }
            let images: Vec<Value> = req
                .image_urls
                .iter()
                .enumerate()
                .map(|(i, u)| match (image_only, i) {
                    (true, 0) => json!({"image_url": u, "type": "first_frame"}),
                    (true, _) => json!({"image_url": u, "type": "end_frame"}),
                    _ => json!({"image_url": u}),
                })
                .collect();
            if !images.is_empty() {
                body["image_list"] = json!(images);
            }
            let video =
                |u| json!({"video_url": u, "refer_type": "feature", "keep_original_sound": "yes"});
            if !req.video_urls.is_empty() {
                body["video_list"] = req.video_urls.iter().map(video).collect();
            }
        }
    }
    if endpoint != Endpoint::Omni {
        mapping::refuse_refs(&req.prompt, &[AssetKind::Video])?;
    }
    body["mode"] = json!(if req.resolution == "1080p" {
        "pro"
    } else {
        "std"
    });
    // `auto`: the billed seconds when valid, otherwise Kling's default of 5.
    body["duration"] = json!(fit.duration.unwrap_or(5).to_string());
    if let Some(r) = fit.ratio {
        body["aspect_ratio"] = json!(r);
    }
    if limits.sound == Sound::Switch {
        body["sound"] = json!(if req.generate_audio { "on" } else { "off" });
    }
    Ok((endpoint, body))
}

/// The HTTP status a Kling business code stands for (answers may say 200 with a code).
fn code_status(code: i64, http_status: u16) -> u16 {
    match code {
        1000..=1004 => 401,
        1100..=1102 | 1304 => 402,
        1103 => 403,
        1200 | 1201 | 1300 | 1301 => 400,
        1202 | 1203 => 404,
        1302 | 1303 => 429,
        5000..=5002 => 500,
        _ if http_status >= 400 => http_status,
        _ => 400,
    }
}

fn code_name(code: i64) -> String {
    match code {
        1200 | 1201 => "invalid_request".into(),
        1300 | 1301 => "content_policy".into(),
        other => format!("kling_{other}"),
    }
}

/// The `data` of a `{code: 0, data}` answer, or the classified error.
fn data(reply: &http::Reply, stage: Stage) -> Result<Value, ProviderError> {
    let v: Value = match reply.ok() {
        true => reply.json()?,
        false => return Err(error(reply, stage)),
    };
    match v.get("code").and_then(Value::as_i64) {
        Some(0) => Ok(v.get("data").cloned().unwrap_or(Value::Null)),
        Some(_) => Err(error(reply, stage)),
        None => Err(missing("a code")),
    }
}

fn error(reply: &http::Reply, stage: Stage) -> ProviderError {
    let v = reply.value();
    let code = v.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = str_at(&v, &["message"]).unwrap_or_else(|| format!("HTTP {}", reply.status));
    let status = code_status(code, reply.status);
    http::classify(stage, status, code_name(code), message, reply.retry_after())
}

/// A task object (`data`): every video with its length, the units deducted.
pub const ANSWER: Answer = Answer {
    status: &["task_status"],
    words: [&["submitted"], &["processing"], &["succeed"], &["failed"]],
    list: &["task_result", "videos"],
    url: &["url"],
    seconds: &["duration"],
    units: &["final_unit_deduction"],
    code: &[],
    message: &["task_status_msg"],
    ..Answer::DEFAULT
};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A Kling API token: HS256 over `{"iss": AK, "exp", "nbf"}` with the SK.
pub fn jwt(access_key: &str, secret_key: &str, now: i64) -> String {
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = b64(
        json!({"iss": access_key, "exp": now + TOKEN_SECS, "nbf": now - 5})
            .to_string()
            .as_bytes(),
    );
    let signing_input = format!("{header}.{claims}");
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes any key");
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

impl Kling {
    fn token(&self, cred: &Credential) -> String {
        let now = crate::domain::now_ms() / 1000;
        let mut cache = self.tokens.lock().expect("token cache");
        if let Some((t, exp)) = cache.get(&cred.id)
            && *exp - RENEW_BEFORE_SECS > now
        {
            return t.clone();
        }
        let t = jwt(&cred.key, &cred.secret, now);
        cache.insert(cred.id.clone(), (t.clone(), now + TOKEN_SECS));
        t
    }

    /// The task this account created with our id, if any (after an ambiguous submit).
    async fn find_by_external_id(
        &self,
        a: &Adapter<Self>,
        cred: &Credential,
        endpoint: Endpoint,
        external_id: &str,
    ) -> Option<String> {
        let path = format!("/v1/videos/{}/{external_id}", endpoint.path());
        let d = a.call(cred, Call::get(path), Stage::Poll).await.ok()?;
        let found = str_at(&d, &["task_info", "external_task_id"]);
        if found.as_deref().is_some_and(|f| f != external_id) {
            return None;
        }
        str_at(&d, &["task_id"])
    }
}

#[async_trait]
impl Describe for Kling {
    const KIND: &'static str = "kling";
    // Kling posts the task object to `callback_url` on each status change.
    const CALLBACK: bool = true;
    const ANSWER: Answer = ANSWER;
    const TEST: Option<Test> =
        Test::get("/v1/videos/text2video?pageNum=1&pageSize=1", "listed tasks");

    fn from_config(_: &ProviderConfig) -> Result<Kling, AppError> {
        Ok(Kling {
            tokens: Mutex::new(HashMap::new()),
        })
    }

    // `external_task_id` is unique per account: a resend cannot make a second task.
    fn idempotent(&self) -> bool {
        true
    }

    fn request(&self, model: &str, req: &UnifiedRequest, task_id: &str) -> Result<Call, AppError> {
        let (endpoint, body) = build_body(model, req, task_id)?;
        Ok(Call::post(format!("/v1/videos/{}", endpoint.path()), body))
    }

    async fn submit(&self, a: &Adapter<Self>, job: SubmitJob<'_>) -> Result<String, ProviderError> {
        let call = self.submit_call(a, &job).await?;
        let endpoint = call.path.rsplit('/').next().and_then(Endpoint::parse);
        let endpoint = endpoint.expect("own path");
        let cred = a.keys.get(job.credential)?;
        let id = match a.call(cred, call, Stage::Submit).await {
            Ok(d) => str_at(&d, &["task_id"]).ok_or_else(|| missing("data.task_id"))?,
            // A refusal may be "this external_task_id exists": an earlier attempt whose
            // answer was lost. Then that task is ours.
            Err(e @ ProviderError::Final { .. }) => {
                let found = self.find_by_external_id(a, cred, endpoint, job.task_id);
                found.await.ok_or(e)?
            }
            Err(e) => return Err(e),
        };
        Ok(format!("{}:{}", endpoint.path(), http::safe_id(&id)?))
    }

    fn poll_call(&self, stored: &str, _: &str) -> Result<Call, ProviderError> {
        let (kind, id) = stored
            .split_once(':')
            .and_then(|(k, id)| Some((Endpoint::parse(k)?, id)))
            .ok_or_else(|| ProviderError::bad("unexpected stored task id"))?;
        let path = format!("/v1/videos/{}/{}", kind.path(), http::safe_id(id)?);
        Ok(Call::get(path))
    }

    fn read(&self, reply: &http::Reply, stage: Stage) -> Result<Value, ProviderError> {
        data(reply, stage)
    }

    fn auth_headers(&self, cred: &Credential) -> Vec<(&'static str, String)> {
        vec![("authorization", format!("Bearer {}", self.token(cred)))]
    }

    // A token the upstream calls expired or not yet valid (clock skew) is renewed.
    fn stale_auth(&self, cred: &Credential, reply: &http::Reply) -> bool {
        let code = reply.value().get("code").and_then(Value::as_i64);
        let stale = reply.status == 401 && matches!(code, Some(1003 | 1004));
        if stale {
            self.tokens.lock().expect("token cache").remove(&cred.id);
        }
        stale
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::domain::task::ResultRef;
    use crate::providers::PollOutcome;
    use crate::providers::generic::{first, units};
    use crate::providers::mapping::table::{Expect::*, Want::*, answers, case, run};

    #[test]
    fn jwt_is_hs256_over_the_access_key() {
        let t = jwt("AK", "SK", 1_700_000_000);
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims, json!({"iss": "AK", "exp": 1_700_001_800, "nbf": 1_699_999_995}));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"SK").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert_eq!(parts[2], b64(&mac.finalize().into_bytes()));
    }

    #[test]
    fn references_per_endpoint() {
        assert_eq!(rewrite_prompt("@Image1 dances in @Video1 with @Image2", Endpoint::Omni), "<<<image_1>>> dances in <<<video_1>>> with <<<image_2>>>");
        assert_eq!(rewrite_prompt("@Image1 turns into @Image2", Endpoint::Image), "the first frame turns into the last frame");
        assert_eq!(rewrite_prompt("@Image2 waves", Endpoint::MultiImage), "image 2 waves");
    }

    #[test]
    #[rustfmt::skip]
    fn mapping_table() {
        let b = |m: &str, r: &UnifiedRequest| {
            build_body(m, r, "vidgen_1").map(|(e, mut v)| {
                v["endpoint"] = json!(e.path());
                v
            })
        };
        let cases = vec![
            case("t2v endpoint", "kling-v2-6", |_| {}, Sent("/endpoint", json!("text2video"))),
            case("model_name", "kling-v2-6", |_| {}, Sent("/model_name", json!("kling-v2-6"))),
            case("external id", "kling-v2-6", |_| {}, Sent("/external_task_id", json!("vidgen_1"))),
            case("duration is a string", "kling-v2-6", |r| r.duration = Some(10), Sent("/duration", json!("10"))),
            case("duration 7 on v2.6", "kling-v2-6", |r| r.duration = Some(7), Refused("duration")),
            case("duration 7 on v3", "kling-v3", |r| r.duration = Some(7), Sent("/duration", json!("7"))),
            case("auto outside the set sends 5", "kling-v2-6", |r| { r.duration = None; r.seconds = 8; }, Sent("/duration", json!("5"))),
            case("720p is std", "kling-v2-6", |_| {}, Sent("/mode", json!("std"))),
            case("1080p is pro", "kling-v2-6", |r| r.resolution = "1080p".into(), Sent("/mode", json!("pro"))),
            case("480p", "kling-v2-6", |r| r.resolution = "480p".into(), Refused("resolution")),
            case("ratio 9:16", "kling-v2-6", |r| r.aspect_ratio = "9:16".into(), Sent("/aspect_ratio", json!("9:16"))),
            case("ratio auto omitted", "kling-v2-6", |r| r.aspect_ratio = "auto".into(), Omitted("/aspect_ratio")),
            case("ratio 21:9", "kling-v2-6", |r| r.aspect_ratio = "21:9".into(), Refused("aspect_ratio")),
            case("sound off", "kling-v2-6", |_| {}, Sent("/sound", json!("off"))),
            case("sound on", "kling-v2-6", |r| r.generate_audio = true, Sent("/sound", json!("on"))),
            case("sound before v2.6", "kling-v2-5-turbo", |r| r.generate_audio = true, Refused("generate_audio")),
            case("no sound field before v2.6", "kling-v2-5-turbo", |_| {}, Omitted("/sound")),
            case("audio urls", "kling-v3-omni", |r| { r.kind = "reference-to-video".into(); r.audio_urls = vec!["https://x/a".into()]; }, Refused("audio_urls")),
            case("i2v endpoint", "kling-v2-6", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/endpoint", json!("image2video"))),
            case("i2v first frame", "kling-v2-6", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/image", json!("https://x/1"))),
            case("i2v tail", "kling-v2-6", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(), "https://x/2".into()]; }, Sent("/image_tail", json!("https://x/2"))),
            case("i2v ignores the ratio", "kling-v2-6", |r| { r.kind = "image-to-video".into(); r.aspect_ratio = "9:16".into(); r.image_urls = vec!["https://x/1".into()]; }, Omitted("/aspect_ratio")),
            case("i2v 3 images", "kling-v2-6", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(); 3]; }, Refused("image_urls")),
            case("t2v on an i2v-only model", "kling-v2-1", |_| {}, Refused("type")),
            case("references on v2.6", "kling-v2-6", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Refused("type")),
            case("references on v1.6", "kling-v1-6", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into(); 4]; }, Sent("/image_list/3/image", json!("https://x/1"))),
            case("5 references on v1.6", "kling-v1-6", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into(); 5]; }, Refused("image_urls")),
            case("video on v1.6", "kling-v1-6", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.video_urls = vec!["https://x/v".into()]; }, Refused("video_urls")),
            case("omni endpoint", "kling-v3-omni", |_| {}, Sent("/endpoint", json!("omni-video"))),
            case("omni prompt", "kling-v3-omni", |r| { r.kind = "reference-to-video".into(); r.prompt = "@Image1 in @Video1".into(); r.image_urls = vec!["https://x/1".into()]; r.video_urls = vec!["https://x/v".into()]; }, Sent("/prompt", json!("<<<image_1>>> in <<<video_1>>>"))),
            case("omni video list", "kling-v3-omni", |r| { r.kind = "reference-to-video".into(); r.video_urls = vec!["https://x/v".into()]; }, Sent("/video_list/0/refer_type", json!("feature"))),
            case("omni 5 images with a video", "kling-v3-omni", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into(); 5]; r.video_urls = vec!["https://x/v".into()]; }, Refused("image_urls")),
            case("omni 7 images", "kling-v3-omni", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into(); 7]; }, Sent("/image_list/6/image_url", json!("https://x/1"))),
            case("omni first/end frames", "kling-v3-omni", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(), "https://x/2".into()]; }, Sent("/image_list/1/type", json!("end_frame"))),
            case("@Video on a plain endpoint", "kling-v1-6", |r| { r.prompt = "@Video1".into(); }, Refused("prompt")),
            case("unknown newer model", "kling-v9", |r| r.generate_audio = true, Sent("/sound", json!("on"))),
        ];
        run(cases, b);
    }

    #[test]
    fn statuses_and_business_codes() {
        let ok = |secs, units| first(PollOutcome::Succeeded(vec![ResultRef { url: "https://cdn/x.mp4".into(), duration_seconds: Some(secs), ..ResultRef::default() }]), |r| r.provider_units = units);
        answers(|v| ANSWER.read(v), vec![
            (json!({"task_status": "submitted"}), Is(PollOutcome::Queued)),
            (json!({"task_status": "processing"}), Is(PollOutcome::Running)),
            (json!({"task_status": "succeed", "task_result": {"videos": [{"url": "https://cdn/x.mp4", "duration": "5.042"}]}}), Is(ok(5, None))),
            // The documented answer: units deducted as a string, length per video.
            (json!({"task_status": "succeed", "final_unit_deduction": "2", "task_result": {"videos": [{"url": "https://cdn/x.mp4", "duration": "10.1"}]}}), Is(ok(10, Some(2)))),
            (json!({"task_status": "failed", "task_status_msg": "Failure to pass the risk control system"}), Is(PollOutcome::Failed { code: "generation_failed".into(), message: "Failure to pass the risk control system".into() })),
            (json!({"task_status": "succeeded"}), Bad),
        ]);
        assert_eq!(units(Some(&json!("0.5"))), Some(1));
        assert_eq!(units(Some(&json!("lots"))), None);
        assert_eq!(units(Some(&json!("-1"))), None);
        assert_eq!(code_status(1102, 429), 402, "out of balance is the channel's problem");
        assert_eq!(code_status(1302, 429), 429);
        assert_eq!(code_status(1301, 400), 400);
        assert_eq!(code_status(1004, 401), 401);
    }
}
