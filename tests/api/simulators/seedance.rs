//! Volcengine Ark / BytePlus ModelArk content-generation tasks (`/api/v3/...`).

use super::*;

pub struct Ark {
    pub keys: Vec<String>,
    /// Queued-or-running tasks allowed per account before a create is refused with 429.
    pub max_active: usize,
}

impl Ark {
    pub fn new(key: &str) -> Ark {
        Ark {
            keys: vec![key.to_string()],
            max_active: 120,
        }
    }
}

const PREFIX: &str = "/api/v3/contents/generations/tasks";
pub const EXECUTION_EXPIRES_AFTER: i64 = 172_800;

fn err(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {"code": code, "message": format!("{message} Request id: sim"), "param": "", "type": "BadRequest"}}),
    )
}

fn validate(body: &Value) -> Result<(), (String, String)> {
    let bad = |p: &str, m: &str| Err((p.to_string(), m.to_string()));
    if !body["model"].is_string() {
        return bad("model", "model is required");
    }
    let Some(content) = body["content"].as_array() else {
        return bad("content", "content is required");
    };
    let mut frames = 0;
    let mut refs = 0;
    for item in content {
        let t = item["type"].as_str().unwrap_or_default();
        let role = item["role"].as_str();
        match (t, role) {
            ("text", _) => {}
            ("image_url", Some("first_frame" | "last_frame")) => frames += 1,
            ("image_url", Some("reference_image"))
            | ("video_url", Some("reference_video"))
            | ("audio_url", Some("reference_audio")) => refs += 1,
            ("image_url", None) => frames += 1,
            _ => return bad("content.role", "unsupported content type or role"),
        }
        if t != "text"
            && item[t]["url"]
                .as_str()
                .is_none_or(|u| !u.starts_with("http"))
        {
            return bad("content.url", "media items need a url");
        }
    }
    if frames > 0 && refs > 0 {
        return bad(
            "content",
            "first/last frame and reference modes cannot be mixed",
        );
    }
    if let Some(r) = body.get("resolution")
        && !matches!(r.as_str(), Some("480p" | "720p" | "1080p"))
    {
        return bad("resolution", "invalid resolution");
    }
    if let Some(r) = body.get("ratio")
        && !matches!(
            r.as_str(),
            Some("16:9" | "4:3" | "1:1" | "3:4" | "9:16" | "21:9" | "adaptive")
        )
    {
        return bad("ratio", "invalid ratio");
    }
    if let Some(d) = body.get("duration") {
        match d.as_i64() {
            Some(-1) | Some(2..=15) => {}
            _ => return bad("duration", "duration must be an integer in range"),
        }
    }
    for b in ["generate_audio", "watermark"] {
        if body.get(b).is_some_and(|v| !v.is_boolean()) {
            return bad(b, "must be a boolean");
        }
    }
    Ok(())
}

fn render(core: &Core, stage: Stage, t: &SimTask) -> Value {
    let base = json!({"id": t.id, "model": t.model, "created_at": t.created_at, "updated_at": core.clock.now()});
    let mut v = base;
    match stage {
        Stage::Queued => v["status"] = json!("queued"),
        Stage::Running => {
            if core.clock.now() > t.created_at + EXECUTION_EXPIRES_AFTER {
                v["status"] = json!("expired");
            } else {
                v["status"] = json!("running");
            }
        }
        Stage::Weird => v["status"] = json!("paused_for_review"),
        Stage::Failed => {
            v["status"] = json!("failed");
            v["error"] = json!({"code": "OutputVideoSensitiveContentDetected", "message": "The output video may contain sensitive information. Request id: sim"});
        }
        Stage::Succeeded => {
            let url = match t.extra.get("video_url").and_then(Value::as_str) {
                Some(u) => u.to_string(),
                None => {
                    let u = core.mint_file(t, Some(86_400), None);
                    core.update_task(&t.id, |x| x.extra = json!({"video_url": u}));
                    u
                }
            };
            v["status"] = json!("succeeded");
            v["content"] = json!({"video_url": url});
            // Tokens scale with the length made: 108900 for the documented 5 s at 720p.
            let secs = super::made_seconds(&t.request).or(t.request["duration"].as_u64());
            let tokens = secs.map_or(108_900, |s| 21_780 * s);
            v["usage"] = json!({"completion_tokens": tokens, "total_tokens": tokens});
            v["duration"] = secs.map_or(t.request["duration"].clone(), |s| json!(s));
            if let Some(a) = t.request.get("generate_audio") {
                v["generate_audio"] = a.clone();
            }
            v["resolution"] = t.request["resolution"].clone();
            v["ratio"] = t.request["ratio"].clone();
            v["framespersecond"] = json!(24);
        }
    }
    v
}

#[async_trait]
impl Upstream for Ark {
    fn op(&self, req: &SimRequest) -> Op {
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", PREFIX) => Op::Create,
            ("GET", PREFIX) => Op::List,
            ("GET", p) if p.starts_with(PREFIX) => Op::Poll,
            _ => Op::Other,
        }
    }

    fn error_body(&self, status: u16, code: &str, message: &str) -> Value {
        let code = if status == 429 {
            "RateLimitExceeded.EndpointRPMExceeded"
        } else if status >= 500 {
            "InternalServiceError"
        } else {
            code
        };
        json!({"error": {"code": code, "message": message, "param": "", "type": "Error"}})
    }

    fn callback(&self, core: &Core, stage: Stage, t: &SimTask) -> Option<(String, Value)> {
        let url = t.request["callback_url"].as_str()?.to_string();
        Some((url, render(core, stage, t)))
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        let Some(account) = req.bearer().filter(|k| self.keys.iter().any(|x| x == k)) else {
            return err(
                401,
                "AuthenticationError",
                "The API key in the request is missing or invalid.",
            );
        };
        match req.op {
            Op::Create => {
                let body = req.json();
                if let Err((param, msg)) = validate(&body) {
                    return err(400, "InvalidParameter", &format!("{msg} ({param})"));
                }
                let prompt = body["content"]
                    .as_array()
                    .and_then(|c| c.iter().find(|i| i["type"] == "text"))
                    .and_then(|i| i["text"].as_str())
                    .unwrap_or_default()
                    .to_string();
                if blocked(&prompt) {
                    return err(
                        400,
                        "InputTextSensitiveContentDetected",
                        "The request failed because the input text may contain sensitive information.",
                    );
                }
                let active = core
                    .tasks()
                    .iter()
                    .filter(|t| t.polls < 3 || t.outcome == Outcome::Never)
                    .count();
                if active >= self.max_active {
                    return err(
                        429,
                        "QuotaExceeded.TooManyQueuedTasks",
                        "Too many queued tasks.",
                    );
                }
                let id = format!("cgt-20250101120000-s{:04}", core.next_seq());
                let model = body["model"].as_str().unwrap_or_default().to_string();
                core.create_task(&id, &model, body, &prompt, account);
                ok(json!({"id": id}))
            }
            Op::List => ok(json!({"items": [], "total": 0})),
            Op::Poll => {
                let id = req.path.trim_start_matches(PREFIX).trim_start_matches('/');
                match core.step(id, account) {
                    Some((stage, t)) => ok(render(core, stage, &t)),
                    None => err(404, "ResourceNotFound", "The specified task is not found."),
                }
            }
            _ => err(404, "InvalidEndpoint.NotFound", "not found"),
        }
    }
}
