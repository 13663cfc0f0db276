//! MiniMax Hailuo, V1 API (kind `minimax`): `POST /v1/video_generation`, poll
//! `GET /v1/query/video_generation?task_id=`, then `GET /v1/files/retrieve?file_id=` for a
//! short-lived `download_url`. Errors come inside `base_resp` (often with HTTP 200).
//! The stored result is the file id; every mirroring attempt retrieves a fresh URL.

use super::generic::{Adapter, Answer, Call, Ctx, Describe, failed, missing, video};
use super::http::{self, Stage, str_at};
use super::mapping::{self, Limits, Secs, Sound, not_available};
use super::{ByteStream, PollOutcome, ProviderError};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references::{self, AssetKind};
use crate::domain::request::UnifiedRequest;
use crate::domain::task::ResultRef;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

pub const INTL: &str = "https://api.minimax.io";
const FILE_SCHEME: &str = "minimax-file:";

/// MiniMax-Hailuo-2.3 and newer: text or one first frame, 768P/1080P, 6 or 10 s, silent;
/// text is landscape only, an image decides its own shape.
#[rustfmt::skip]
const HAILUO: Limits = Limits {
    types: &["text-to-video", "image-to-video"], frames: 1, refs: [0; 3], seconds: Secs::Only(&[6, 10]),
    tiers: &["720p", "1080p"], ratios: &["16:9"], frame_shape: true, prompt: 0, sound: Sound::Never,
};
/// T2V-01 / I2V-01 / S2V-01: 720P, 6 s.
#[rustfmt::skip]
const LEGACY: Limits = Limits { seconds: Secs::Only(&[6]), tiers: &["720p"], ..HAILUO };

/// The capability table: whether the model is a legacy one, and its limits. Hailuo-02
/// adds a last frame and 512P (`480p`) for one image; S2V-01 takes one subject image.
#[rustfmt::skip]
fn profile(model: &str) -> (bool, Limits) {
    match model {
        "MiniMax-Hailuo-2.3-Fast" => (false, Limits { types: &["image-to-video"], ..HAILUO }),
        "MiniMax-Hailuo-02" => (false, Limits { frames: 2, tiers: &["480p", "720p", "1080p"], ..HAILUO }),
        m if m.starts_with("T2V-01") => (true, Limits { types: &["text-to-video"], ..LEGACY }),
        m if m.starts_with("I2V-01") => (true, Limits { types: &["image-to-video"], ..LEGACY }),
        "S2V-01" => (true, Limits { types: &["reference-to-video"], refs: [1, 0, 0], ratios: &[], ..LEGACY }),
        _ => (false, HAILUO),
    }
}

/// V1 has no reference syntax: references become plain words.
pub fn rewrite_prompt(prompt: &str, kind: &str) -> String {
    references::rewrite(prompt, |_, n| match (kind, n) {
        ("reference-to-video", _) => "the subject".into(),
        (_, 1) => "the first frame".into(),
        _ => "the last frame".into(),
    })
}

pub fn build_body(model: &str, req: &UnifiedRequest) -> Result<Value, AppError> {
    let (legacy, limits) = profile(model);
    let fit = limits.check(req)?;
    mapping::refuse_refs(&req.prompt, &[AssetKind::Video, AssetKind::Audio])?;
    let mut body = json!({
        "model": model,
        "prompt": rewrite_prompt(&req.prompt, &req.kind),
        "prompt_optimizer": true,
        "aigc_watermark": false,
    });
    match req.kind.as_str() {
        "image-to-video" => {
            body["first_frame_image"] = json!(req.image_urls[0]);
            if let Some(last) = req.image_urls.get(1) {
                body["last_frame_image"] = json!(last);
            }
        }
        "reference-to-video" => {
            body["subject_reference"] =
                json!([{"type": "character", "image": [req.image_urls[0]]}]);
        }
        _ => {}
    }
    body["resolution"] = json!(match (legacy, req.resolution.as_str()) {
        (true, _) => "720P",
        (_, "720p") => "768P",
        (_, "1080p") => "1080P",
        (_, _) if req.kind == "image-to-video" && req.image_urls.len() == 1 => "512P",
        (_, other) => return Err(not_available("resolution", other)),
    });
    // No 10 s at 1080P: `auto` leaves the length to the upstream there.
    match fit.duration {
        Some(10) if req.resolution == "1080p" && req.duration.is_some() => {
            return Err(not_available("duration", "10"));
        }
        Some(10) if req.resolution == "1080p" => {}
        Some(d) => body["duration"] = json!(d),
        None => {}
    }
    Ok(body)
}

/// What a non-zero `base_resp.status_code` means at this stage.
fn base_error(code: i64, msg: &str, stage: Stage) -> ProviderError {
    let msg = http::public_message(msg);
    let retry = |message| ProviderError::Retryable {
        message,
        retry_after: None,
    };
    match code {
        1002 => retry(format!("rate limited ({code})")),
        1001 if stage == Stage::Submit => ProviderError::Ambiguous {
            message: "the channel timed out while creating the task".into(),
        },
        1000 | 1001 | 1024 | 1033 => retry(format!("upstream error {code}: {msg}")),
        1004 | 2049 | 1008 => ProviderError::channel(format!("minimax_{code}"), msg),
        _ if stage != Stage::Submit => ProviderError::bad(format!("upstream error {code}: {msg}")),
        1026 => ProviderError::final_error("input_sensitive", msg),
        2013 => ProviderError::final_error("invalid_parameters", msg),
        other => ProviderError::final_error(format!("minimax_{other}"), msg),
    }
}

/// A failed task: why, in `base_resp`.
fn failure(v: &Value) -> PollOutcome {
    let code = match v["base_resp"]["status_code"].as_i64() {
        Some(1026) => "input_sensitive",
        Some(1027) => "output_sensitive",
        _ => "generation_failed",
    };
    let msg = str_at(v, &["base_resp", "status_msg"]).filter(|m| m != "success");
    failed(Some(code.into()), msg)
}

#[rustfmt::skip]
const ANSWER: Answer = Answer {
    words: [&["Preparing", "Queueing"], &["Processing"], &["Success"], &["Fail"]],
    failure: Some(failure),
    ..Answer::DEFAULT
};

/// Map a query answer to an outcome: the file id, or why it failed (in `base_resp`).
pub fn parse_query(v: &Value, credential: Option<&str>) -> Result<PollOutcome, ProviderError> {
    ANSWER.read_with(v, |v| {
        let file = str_at(v, &["file_id"]).ok_or_else(|| missing("file_id"))?;
        let url = format!("{FILE_SCHEME}{}", http::safe_id(&file)?);
        Ok(video(url, None, credential))
    })
}

/// MiniMax Hailuo, described for the [generic adapter](super::generic).
pub struct MiniMax;

#[async_trait]
impl Describe for MiniMax {
    const KIND: &'static str = "minimax";
    const ID_AT: &'static [&'static str] = &["task_id"];
    const POLL: &'static str = "/v1/query/video_generation?task_id={id}";

    fn from_config(_: &ProviderConfig) -> Result<MiniMax, AppError> {
        Ok(MiniMax)
    }

    fn request(&self, model: &str, req: &UnifiedRequest, _: &str) -> Result<Call, AppError> {
        Ok(Call::post("/v1/video_generation", build_body(model, req)?))
    }

    fn outcome(&self, v: &Value, ctx: &Ctx<'_>) -> Result<PollOutcome, ProviderError> {
        parse_query(v, Some(ctx.credential))
    }

    fn read(&self, reply: &http::Reply, stage: Stage) -> Result<Value, ProviderError> {
        let base = |v: &Value, key| str_at(v, &["base_resp", key]);
        if !reply.ok() {
            let v = reply.value();
            return Err(reply.error(stage, base(&v, "status_code"), base(&v, "status_msg")));
        }
        let v: Value = reply.json()?;
        // A failed task reports its reason in base_resp, next to status "Fail".
        if stage == Stage::Poll && v["status"] == "Fail" {
            return Ok(v);
        }
        let msg = base(&v, "status_msg").unwrap_or_default();
        match v["base_resp"]["status_code"].as_i64() {
            Some(0) => Ok(v),
            Some(code) => Err(base_error(code, &msg, stage)),
            None => Err(ProviderError::bad("answer without base_resp")),
        }
    }

    // The result is a file id: one more call gives its signed CDN URL.
    async fn download(
        &self,
        a: &Adapter<Self>,
        result: &ResultRef,
    ) -> Result<ByteStream, ProviderError> {
        let bad = || ProviderError::bad("unexpected stored result");
        let file = http::safe_id(result.url.strip_prefix(FILE_SCHEME).ok_or_else(bad)?)?;
        let cred = a.keys.get(result.credential.as_deref())?;
        let call = Call::get(format!("/v1/files/retrieve?file_id={file}"));
        let v = a.call(cred, call, Stage::Download).await?;
        let url = str_at(&v, &["file", "download_url"]);
        let url = url.ok_or_else(|| missing("file.download_url"))?;
        // A signed CDN URL: no credentials go with it.
        a.kit.download(&url, &[], None).await
    }

    // No free listing call: query a task id that cannot exist. Any answer other than an
    // auth error proves the key works.
    async fn test(&self, a: &Adapter<Self>) -> Result<String, ProviderError> {
        for cred in a.keys.all() {
            let call = Call::get("/v1/query/video_generation?task_id=0");
            match a.call(cred, call, Stage::Test).await {
                Ok(_) | Err(ProviderError::BadResponse { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(format!("{} key(s) accepted", a.keys.all().len()))
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::mapping::table::{Expect::*, Want::*, answers, base, case, run_from};

    const H23: &str = "MiniMax-Hailuo-2.3";
    const H02: &str = "MiniMax-Hailuo-02";

    #[test]
    fn mapping_table() {
        let cases = vec![
            case("model", H23, |_| {}, Sent("/model", json!(H23))),
            case("720p is 768P on Hailuo", H23, |_| {}, Sent("/resolution", json!("768P"))),
            case("720p is 720P on 01", "T2V-01", |_| {}, Sent("/resolution", json!("720P"))),
            case("1080p", H23, |r| r.resolution = "1080p".into(), Sent("/resolution", json!("1080P"))),
            case("1080p 10 s", H23, |r| { r.resolution = "1080p".into(); r.duration = Some(10); }, Refused("duration")),
            case("1080p auto 10 omitted", H23, |r| { r.resolution = "1080p".into(); r.duration = None; r.seconds = 10; }, Omitted("/duration")),
            case("1080p on 01", "T2V-01", |r| r.resolution = "1080p".into(), Refused("resolution")),
            case("480p text", H02, |r| r.resolution = "480p".into(), Refused("resolution")),
            case("480p single image on 02", H02, |r| { r.kind = "image-to-video".into(); r.resolution = "480p".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/resolution", json!("512P"))),
            case("480p two frames on 02", H02, |r| { r.kind = "image-to-video".into(); r.resolution = "480p".into(); r.image_urls = vec!["https://x/1".into(); 2]; }, Refused("resolution")),
            case("duration 10", H23, |r| r.duration = Some(10), Sent("/duration", json!(10))),
            case("duration 5", H23, |r| r.duration = Some(5), Refused("duration")),
            case("duration 10 on 01", "T2V-01", |r| r.duration = Some(10), Refused("duration")),
            case("t2v 9:16", H23, |r| r.aspect_ratio = "9:16".into(), Refused("aspect_ratio")),
            case("t2v auto ratio", H23, |r| r.aspect_ratio = "auto".into(), Sent("/resolution", json!("768P"))),
            case("audio", H23, |r| r.generate_audio = true, Refused("generate_audio")),
            case("first frame", H23, |r| { r.kind = "image-to-video".into(); r.aspect_ratio = "9:16".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/first_frame_image", json!("https://x/1"))),
            case("last frame on 2.3", H23, |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(); 2]; }, Refused("image_urls")),
            case("last frame on 02", H02, |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(), "https://x/2".into()]; }, Sent("/last_frame_image", json!("https://x/2"))),
            case("i2v prompt", H02, |r| { r.kind = "image-to-video".into(); r.prompt = "@Image1 then @Image2".into(); r.image_urls = vec!["https://x/1".into(); 2]; }, Sent("/prompt", json!("the first frame then the last frame"))),
            case("t2v on Fast", "MiniMax-Hailuo-2.3-Fast", |_| {}, Refused("type")),
            case("t2v on I2V-01", "I2V-01", |_| {}, Refused("type")),
            case("subject", "S2V-01", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/subject_reference/0/image/0", json!("https://x/1"))),
            case("two subjects", "S2V-01", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into(); 2]; }, Refused("image_urls")),
            case("references on Hailuo", H23, |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Refused("type")),
            case("videos", "S2V-01", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.video_urls = vec!["https://x/v".into()]; }, Refused("video_urls")),
        ];
        // Hailuo clips are 6 or 10 seconds.
        run_from(UnifiedRequest { duration: Some(6), seconds: 6, ..base() }, cases, build_body);
    }

    #[test]
    fn base_resp_codes_by_stage() {
        for (code, stage, want) in [
            (1002, Stage::Submit, "Retryable"), (1001, Stage::Submit, "Ambiguous"), (1001, Stage::Poll, "Retryable"),
            (2049, Stage::Submit, "Channel"), (1008, Stage::Submit, "Channel"), (2013, Stage::Poll, "BadResponse"),
        ] {
            assert!(format!("{:?}", base_error(code, "", stage)).starts_with(want), "{code} {stage:?}");
        }
        assert!(matches!(base_error(1026, "", Stage::Submit), ProviderError::Final { ref code, .. } if code == "input_sensitive"));
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let with = |s: &str| json!({"status": s, "base_resp": {"status_code": 0, "status_msg": "success"}});
        let mut done = with("Success");
        done["file_id"] = json!("241342648594580");
        answers(|v| parse_query(v, Some("k")), vec![
            (with("Preparing"), Is(PollOutcome::Queued)),
            (with("Queueing"), Is(PollOutcome::Queued)),
            (with("Processing"), Is(PollOutcome::Running)),
            (done, Is(video("minimax-file:241342648594580".into(), None, Some("k")))),
            (json!({"status": "Fail", "base_resp": {"status_code": 1027, "status_msg": "output new_sensitive"}}), Is(PollOutcome::Failed { code: "output_sensitive".into(), message: "output new_sensitive".into() })),
            (with("Paused"), Bad),
        ]);
    }
}
