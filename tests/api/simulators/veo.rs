//! Veo on the Gemini API (`/v1beta`): long-running operations, inline base64 images, a
//! file download that needs the key and redirects to a signed URL on another host name.
//! Extra trigger: `sim:operror` ends the operation with `done` + `error`.

use super::*;
use base64::Engine as _;

pub struct VeoSim {
    pub key: String,
}

fn google_error(status: u16, state: &str, message: &str) -> Value {
    json!({"error": {"code": status, "message": message, "status": state}})
}

fn refuse(status: u16, state: &str, message: &str) -> Response {
    json_response(status, google_error(status, state, message))
}

fn check_image(v: &Value) -> Result<(), String> {
    let b64 = v["bytesBase64Encoded"]
        .as_str()
        .ok_or("image.bytesBase64Encoded is required")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "image.bytesBase64Encoded is not base64")?;
    let mime = v["mimeType"].as_str().ok_or("image.mimeType is required")?;
    if !mime.starts_with("image/") || bytes.is_empty() {
        return Err("image must be an image".into());
    }
    Ok(())
}

fn validate(model: &str, b: &Value) -> Result<(), String> {
    let inst = &b["instances"][0];
    if inst.is_null() {
        return Err("instances[0] is required".into());
    }
    for key in ["image", "lastFrame"] {
        if let Some(img) = inst.get(key) {
            check_image(img)?;
        }
    }
    if inst.get("lastFrame").is_some() && inst.get("image").is_none() {
        return Err("lastFrame needs image".into());
    }
    if let Some(refs) = inst.get("referenceImages") {
        let refs = refs.as_array().ok_or("referenceImages must be a list")?;
        if refs.len() > 3 || inst.get("image").is_some() {
            return Err("referenceImages: at most 3, not with image".into());
        }
        for r in refs {
            check_image(&r["image"])?;
            if r["referenceType"] != "asset" {
                return Err("referenceType must be asset".into());
            }
        }
    }
    let p = &b["parameters"];
    for vertex_only in ["generateAudio", "seed", "storageUri", "fps"] {
        if p.get(vertex_only).is_some() {
            return Err(format!(
                "{vertex_only} parameter is not supported in Gemini API"
            ));
        }
    }
    if let Some(r) = p.get("aspectRatio")
        && !matches!(r.as_str(), Some("16:9" | "9:16"))
    {
        return Err("aspectRatio must be 16:9 or 9:16".into());
    }
    let res = p
        .get("resolution")
        .and_then(Value::as_str)
        .unwrap_or("720p");
    if !matches!(res, "720p" | "1080p" | "4k") {
        return Err("resolution is invalid".into());
    }
    let secs = p
        .get("durationSeconds")
        .map(|d| d.as_i64().unwrap_or(-1))
        .unwrap_or(8);
    let ok = if model.starts_with("veo-2") {
        (5..=8).contains(&secs)
    } else {
        matches!(secs, 4 | 6 | 8)
    };
    if !ok {
        return Err("durationSeconds is out of range".into());
    }
    if res != "720p" && secs != 8 {
        return Err("1080p and 4k need durationSeconds 8".into());
    }
    if let Some(pg) = p.get("personGeneration")
        && !matches!(
            pg.as_str(),
            Some("allow_all" | "allow_adult" | "dont_allow")
        )
    {
        return Err("personGeneration is invalid".into());
    }
    Ok(())
}

#[async_trait]
impl Upstream for VeoSim {
    fn op(&self, req: &SimRequest) -> Op {
        let p = req.path.as_str();
        match req.method.as_str() {
            "POST" if p.ends_with(":predictLongRunning") => Op::Create,
            "GET" if p.contains("/operations/") => Op::Poll,
            "GET" if p.starts_with("/v1beta/files/") => Op::Download,
            "GET" if p == "/v1beta/models" => Op::List,
            _ => Op::Other,
        }
    }

    fn error_body(&self, status: u16, _code: &str, message: &str) -> Value {
        let state = match status {
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            s if s >= 500 => "INTERNAL",
            _ => "INVALID_ARGUMENT",
        };
        google_error(status, state, message)
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        let key = req
            .header("x-goog-api-key")
            .or_else(|| req.query.get("key").map(String::as_str));
        if key != Some(self.key.as_str()) {
            return json_response(
                400,
                json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}),
            );
        }
        let account = self.key.as_str();
        match req.op {
            Op::Create => {
                let model = req
                    .path
                    .trim_start_matches("/v1beta/models/")
                    .trim_end_matches(":predictLongRunning")
                    .to_string();
                if !model.starts_with("veo-") {
                    return refuse(404, "NOT_FOUND", &format!("models/{model} is not found"));
                }
                let b = req.json();
                if let Err(m) = validate(&model, &b) {
                    return refuse(400, "INVALID_ARGUMENT", &m);
                }
                let prompt = b["instances"][0]["prompt"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if blocked(&prompt) {
                    return refuse(
                        400,
                        "INVALID_ARGUMENT",
                        "The prompt could not be submitted. This prompt contains words that violate usage guidelines.",
                    );
                }
                let name = format!("models/{model}/operations/op{}", core.next_seq());
                core.create_task(&name, &model, b, &prompt, account);
                if prompt.contains("sim:operror") {
                    core.update_task(&name, |t| t.extra = json!({"operror": true}));
                }
                ok(json!({"name": name}))
            }
            Op::Poll => {
                let name = req.path.trim_start_matches("/v1beta/");
                let Some((stage, t)) = core.step(name, account) else {
                    return refuse(404, "NOT_FOUND", "operation not found");
                };
                let v = match stage {
                    Stage::Queued | Stage::Running => json!({"name": t.id}),
                    Stage::Weird => json!({"name": t.id, "done": "perhaps"}),
                    Stage::Failed => {
                        json!({"name": t.id, "done": true, "response": {"generateVideoResponse": {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["The video was filtered for safety reasons."]}}})
                    }
                    Stage::Succeeded if t.extra["operror"] == true => {
                        json!({"name": t.id, "done": true, "error": {"code": 13, "message": "Video generation failed due to an internal error.", "status": "INTERNAL"}})
                    }
                    Stage::Succeeded => {
                        let file = t.id.rsplit('/').next().unwrap().to_string();
                        json!({"name": t.id, "done": true, "response": {
                            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                            "generateVideoResponse": {"generatedSamples": [{"video": {"uri": format!("{}/v1beta/files/{file}:download?alt=media", core.base())}}]}}})
                    }
                };
                ok(v)
            }
            Op::Download => {
                // Redirect to a signed URL on another host name; `sim:expired` results
                // are past their retention already.
                let file = req
                    .path
                    .trim_start_matches("/v1beta/files/")
                    .trim_end_matches(":download")
                    .to_string();
                let Some(t) = core
                    .tasks()
                    .into_iter()
                    .find(|t| t.id.ends_with(&format!("/{file}")))
                else {
                    return refuse(404, "NOT_FOUND", "file not found");
                };
                let signed = core
                    .mint_file(&t, Some(2 * 86_400), None)
                    .replace("127.0.0.1", "localhost");
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header("location", signed)
                    .finish()
            }
            Op::List => ok(json!({"models": [{"name": "models/veo-3.1-generate-preview"}]})),
            _ => refuse(404, "NOT_FOUND", "not found"),
        }
    }
}
