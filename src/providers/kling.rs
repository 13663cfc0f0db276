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
#[derive(Default)]
pub struct Kling {
    /// Cached JWT per credential: (token, expiry in Unix seconds).
    tokens: Mutex<HashMap<String, (String, i64)>>,
}

/// The create paths (after `/v1/videos/`), each also the first half of our stored upstream id.
const TEXT: &str = "text2video";
const IMAGE: &str = "image2video";
const MULTI_IMAGE: &str = "multi-image2video";
const OMNI: &str = "omni-video";

/// Kling v2.6: text and frames, sound, 5 or 10 s.
#[rustfmt::skip]
const V26: Limits = Limits {
    types: &["text-to-video", "image-to-video"], frames: 2, refs: [0; 3], seconds: Secs::Only(&[5, 10]),
    tiers: &["720p", "1080p"], ratios: &["16:9", "9:16", "1:1"], frame_shape: true, prompt: 0, sound: Sound::Switch,
};
#[rustfmt::skip]
const SILENT: Limits = Limits { sound: Sound::Never, ..V26 };

/// The capability table: whether the model is an Omni one, and its limits. Omni models
/// take every type through `omni-video`: images ≤ 7 (≤ 4 with a reference video), one
/// reference video (partly unconfirmed; see the README). Reference images outside Omni go
/// to multi-image2video (`kling-v1-6` only).
#[rustfmt::skip]
fn profile(model: &str) -> (bool, Limits) {
    let omni = Limits { types: mapping::ALL_TYPES, refs: [7, 1, 0], ..V26 };
    match model {
        "kling-v1" | "kling-v2-master" | "kling-v2-1-master" | "kling-v2-5-turbo" => (false, SILENT),
        "kling-v1-5" | "kling-v2-1" => (false, Limits { types: &["image-to-video"], ..SILENT }),
        "kling-v1-6" => (false, Limits { types: mapping::ALL_TYPES, refs: [4, 0, 0], ..SILENT }),
        "kling-v3" => (false, Limits { seconds: Secs::Range(3, 15), ..V26 }),
        "kling-video-o1" => (true, Limits { seconds: Secs::Range(3, 10), sound: Sound::Never, ..omni }),
        "kling-v3-omni" => (true, Limits { seconds: Secs::Range(3, 15), ..omni }),
        // kling-v2-6 and models newer than this adapter: the v2.6 abilities.
        _ => (false, V26),
    }
}

/// `@Image1` in Kling's words: `<<<image_1>>>` for Omni; plain words elsewhere (those
/// endpoints have no reference syntax and match images by position).
pub fn rewrite_prompt(prompt: &str, endpoint: &str) -> String {
    references::rewrite(prompt, |kind, n| match endpoint {
        OMNI => format!("<<<{}_{n}>>>", kind.noun()),
        IMAGE if n == 1 => "the first frame".into(),
        IMAGE => "the last frame".into(),
        _ => format!("image {n}"),
    })
}

/// The endpoint and body for `req`, or the 422 saying what the model cannot do.
pub fn build_body(
    model: &str,
    req: &UnifiedRequest,
    external_id: &str,
) -> Result<(&'static str, Value), AppError> {
    let (omni, limits) = profile(model);
    let fit = limits.check(req)?;
    let (images, videos) = (&req.image_urls, &req.video_urls);
    mapping::refuse_refs(&req.prompt, &[AssetKind::Audio])?;
    if !omni {
        mapping::refuse_refs(&req.prompt, &[AssetKind::Video])?;
    } else if !videos.is_empty() {
        mapping::at_most("image_urls", images, 4, "reference images")?;
    }
    let endpoint = match req.kind.as_str() {
        _ if omni => OMNI,
        "text-to-video" => TEXT,
        "image-to-video" => IMAGE,
        _ => MULTI_IMAGE,
    };
    let prompt = rewrite_prompt(&req.prompt, endpoint);
    let mut body = json!({"model_name": model, "prompt": prompt, "external_task_id": external_id});
    match endpoint {
        IMAGE => {
            body["image"] = json!(images[0]);
            if let Some(tail) = images.get(1) {
                body["image_tail"] = json!(tail);
            }
        }
        MULTI_IMAGE => body["image_list"] = images.iter().map(|u| json!({"image": u})).collect(),
        OMNI => {
            let mut list: Vec<Value> = images.iter().map(|u| json!({"image_url": u})).collect();
            if req.kind == "image-to-video" {
                for (image, frame) in list.iter_mut().zip(["first_frame", "end_frame"]) {
                    image["type"] = json!(frame);
                }
            }
            if !list.is_empty() {
                body["image_list"] = json!(list);
            }
            let video =
                |u| json!({"video_url": u, "refer_type": "feature", "keep_original_sound": "yes"});
            if !videos.is_empty() {
                body["video_list"] = videos.iter().map(video).collect();
            }
        }
        _ => {}
    }
    body["mode"] = json!(match req.resolution.as_str() {
        "1080p" => "pro",
        _ => "std",
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
        _ => http_status.max(400),
    }
}

fn error(reply: &http::Reply, stage: Stage) -> ProviderError {
    let v = reply.value();
    let code = v["code"].as_i64().unwrap_or(0);
    let message = str_at(&v, &["message"]).unwrap_or_else(|| format!("HTTP {}", reply.status));
    let name = match code {
        1200 | 1201 => "invalid_request".into(),
        1300 | 1301 => "content_policy".into(),
        other => format!("kling_{other}"),
    };
    let status = code_status(code, reply.status);
    http::classify(stage, status, name, message, reply.retry_after())
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
    let claims = json!({"iss": access_key, "exp": now + TOKEN_SECS, "nbf": now - 5});
    let signing_input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes any key");
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
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
        Ok(Kling::default())
    }

    // `external_task_id` is unique per account: a resend cannot make a second task.
    fn idempotent(&self) -> bool {
        true
    }

    fn request(&self, model: &str, req: &UnifiedRequest, task_id: &str) -> Result<Call, AppError> {
        let (endpoint, body) = build_body(model, req, task_id)?;
        Ok(Call::post(format!("/v1/videos/{endpoint}"), body))
    }

    async fn submit(&self, a: &Adapter<Self>, job: SubmitJob<'_>) -> Result<String, ProviderError> {
        let call = self.submit_call(a, &job).await?;
        let endpoint = call.path.rsplit('/').next().unwrap_or_default().to_string();
        let cred = a.keys.get(job.credential)?;
        let id = match a.call(cred, call, Stage::Submit).await {
            Ok(d) => str_at(&d, &["task_id"]).ok_or_else(|| missing("data.task_id"))?,
            // A refusal may be "this external_task_id exists": an earlier attempt whose
            // answer was lost. Then the task this account made with our id is ours.
            Err(e @ ProviderError::Final { .. }) => {
                let path = format!("/v1/videos/{endpoint}/{}", job.task_id);
                let found = a.call(cred, Call::get(path), Stage::Poll).await.ok();
                let external = |d: &Value| str_at(d, &["task_info", "external_task_id"]);
                let ours = found.filter(|d| external(d).is_none_or(|f| f == job.task_id));
                ours.and_then(|d| str_at(&d, &["task_id"])).ok_or(e)?
            }
            Err(e) => return Err(e),
        };
        Ok(format!("{endpoint}:{}", http::safe_id(&id)?))
    }

    fn poll_call(&self, stored: &str, _: &str) -> Result<Call, ProviderError> {
        let (endpoint, id) = (stored.split_once(':'))
            .filter(|(e, _)| [TEXT, IMAGE, MULTI_IMAGE, OMNI].contains(e))
            .ok_or_else(|| ProviderError::bad("unexpected stored task id"))?;
        let path = format!("/v1/videos/{endpoint}/{}", http::safe_id(id)?);
        Ok(Call::get(path))
    }

    // Answers are `{code: 0, data}`; any other code is an error, whatever the HTTP status.
    fn read(&self, reply: &http::Reply, stage: Stage) -> Result<Value, ProviderError> {
        if !reply.ok() {
            return Err(error(reply, stage));
        }
        let mut v: Value = reply.json()?;
        match v["code"].as_i64() {
            Some(0) => Ok(v["data"].take()),
            Some(_) => Err(error(reply, stage)),
            None => Err(missing("a code")),
        }
    }

    fn auth_headers(&self, cred: &Credential) -> Vec<(&'static str, String)> {
        let now = crate::domain::now_ms() / 1000;
        let mut cache = self.tokens.lock().expect("token cache");
        let token = match cache.get(&cred.id) {
            Some((t, exp)) if *exp - RENEW_BEFORE_SECS > now => t.clone(),
            _ => {
                let t = jwt(&cred.key, &cred.secret, now);
                cache.insert(cred.id.clone(), (t.clone(), now + TOKEN_SECS));
                t
            }
        };
        vec![("authorization", format!("Bearer {token}"))]
    }

    // A token the upstream calls expired or not yet valid (clock skew) is renewed.
    fn stale_auth(&self, cred: &Credential, reply: &http::Reply) -> bool {
        let stale =
            reply.status == 401 && matches!(reply.value()["code"].as_i64(), Some(1003 | 1004));
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
        assert_eq!(rewrite_prompt("@Image1 dances in @Video1 with @Image2", OMNI), "<<<image_1>>> dances in <<<video_1>>> with <<<image_2>>>");
        assert_eq!(rewrite_prompt("@Image1 turns into @Image2", IMAGE), "the first frame turns into the last frame");
        assert_eq!(rewrite_prompt("@Image2 waves", MULTI_IMAGE), "image 2 waves");
    }

    #[test]
    fn mapping_table() {
        let b = |m: &str, r: &UnifiedRequest| {
            build_body(m, r, "vidgen_1").map(|(e, mut v)| {
                v["endpoint"] = json!(e);
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
