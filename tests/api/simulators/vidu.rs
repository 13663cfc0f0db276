//! Vidu's `/ent/v2/` API: one create endpoint per mode, `Authorization: Token <key>`,
//! flat JSON answers, errors as `{"code","reason","message"}`.
//!
//! Create answers `state:"created"` with the echoed parameters; polls move queueing →
//! processing → success (`creations[0].url` valid 24 simulated hours) or failed
//! (`err_code`). `sim:block` is a 400 `TaskPromptPolicyViolation`; `sim:broke` a 400
//! `CreditInsufficient` (the account is out of credit).

use super::*;

pub struct Vidu {
    pub keys: Vec<String>,
}

impl Vidu {
    pub fn new(key: &str) -> Vidu {
        Vidu {
            keys: vec![key.to_string()],
        }
    }
}

fn err(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"code": code, "reason": code, "message": message, "metadata": {"trace_id": "sim"}}),
    )
}

const PREFIX: &str = "/ent/v2/";

fn validate(endpoint: &str, b: &Value) -> Result<(), (&'static str, String)> {
    let invalid = |m: String| Err(("FieldInvalid", m));
    if !b["model"].is_string() {
        return Err(("FieldLacking", "model is required".into()));
    }
    let prompt_required = matches!(endpoint, "text2video" | "reference2video");
    if prompt_required && b["prompt"].as_str().is_none_or(|p| p.is_empty()) {
        return Err(("FieldLacking", "prompt is required".into()));
    }
    let images = b["images"].as_array().map(Vec::len).unwrap_or(0);
    let subjects = b["subjects"].as_array();
    let (min, max) = match endpoint {
        "text2video" => (0, 0),
        "img2video" => (1, 1),
        "start-end2video" => (2, 2),
        "reference2video" if subjects.is_some() => (0, 0),
        "reference2video" => (1, 7),
        _ => return invalid(format!("unknown endpoint {endpoint}")),
    };
    if images < min || images > max {
        return Err((
            "FieldItemCountOutOfRange",
            format!("images must have {min}..{max} items, got {images}"),
        ));
    }
    if let Some(subjects) = subjects {
        if endpoint != "reference2video" || subjects.is_empty() || subjects.len() > 7 {
            return Err((
                "FieldItemCountOutOfRange",
                "subjects must have 1..7 items".into(),
            ));
        }
        for s in subjects {
            let n = s["images"].as_array().map(Vec::len).unwrap_or(0)
                + s["videos"].as_array().map(Vec::len).unwrap_or(0);
            if !s["id"].is_string() || n == 0 || n > 3 {
                return invalid("each subject needs an id and 1..3 images".into());
            }
        }
    }
    if let Some(r) = b.get("resolution")
        && !matches!(r.as_str(), Some("360p" | "540p" | "720p" | "1080p"))
    {
        return invalid(format!("resolution {r} is invalid"));
    }
    if let Some(a) = b.get("aspect_ratio")
        && !matches!(a.as_str(), Some("16:9" | "9:16" | "1:1" | "3:4" | "4:3"))
    {
        return invalid(format!("aspect_ratio {a} is invalid"));
    }
    if let Some(d) = b.get("duration")
        && !d.as_u64().is_some_and(|d| (1..=16).contains(&d))
    {
        return invalid(format!("duration {d} is invalid"));
    }
    for f in ["audio", "bgm"] {
        if b.get(f).is_some_and(|v| !v.is_boolean()) {
            return invalid(format!("{f} must be a boolean"));
        }
    }
    Ok(())
}

#[async_trait]
impl Upstream for Vidu {
    fn op(&self, req: &SimRequest) -> Op {
        let rest = req.path.strip_prefix(PREFIX).unwrap_or_default();
        match (req.method.as_str(), rest) {
            ("POST", "text2video" | "img2video" | "start-end2video" | "reference2video") => {
                Op::Create
            }
            ("GET", r) if r.starts_with("tasks/") && r.ends_with("/creations") => Op::Poll,
            _ => Op::Other,
        }
    }

    fn error_body(&self, status: u16, code: &str, message: &str) -> Value {
        let code = match status {
            429 => "QuotaExceeded",
            s if s >= 500 => "InternalServiceFailure",
            _ => code,
        };
        json!({"code": code, "reason": code, "message": message})
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        let Some(account) = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Token "))
            .filter(|k| self.keys.iter().any(|x| x == k))
            .map(str::to_string)
        else {
            return err(401, "Unauthorized", "invalid or missing token");
        };
        let rest = req.path.strip_prefix(PREFIX).unwrap_or_default();
        match req.op {
            Op::Create => {
                let body = req.json();
                if let Err((code, m)) = validate(rest, &body) {
                    return err(400, code, &m);
                }
                let prompt = body["prompt"].as_str().unwrap_or_default().to_string();
                if blocked(&prompt) {
                    return err(
                        400,
                        "TaskPromptPolicyViolation",
                        "the prompt violates the content policy",
                    );
                }
                if prompt.contains("sim:broke") {
                    return err(400, "CreditInsufficient", "insufficient credits");
                }
                let id = format!("8093875720683{:05}", core.next_seq());
                let model = body["model"].as_str().unwrap_or_default().to_string();
                core.create_task(&id, &model, body.clone(), &prompt, &account);
                let mut answer = body;
                answer["task_id"] = json!(id);
                answer["type"] = json!(rest);
                answer["state"] = json!("created");
                answer["credits"] = json!(10);
                answer["created_at"] = json!("2025-04-14T15:29:10.002012956Z");
                ok(answer)
            }
            Op::Poll => {
                let id = rest
                    .trim_start_matches("tasks/")
                    .trim_end_matches("/creations");
                let Some((stage, t)) = core.step(id, &account) else {
                    return err(404, "TaskNotFound", "task not found");
                };
                let mut v = json!({"id": t.id, "err_code": "", "credits": 10, "payload": t.request["payload"], "creations": []});
                match stage {
                    Stage::Queued => v["state"] = json!("queueing"),
                    Stage::Running => v["state"] = json!("processing"),
                    Stage::Weird => v["state"] = json!("reviewing"),
                    Stage::Failed => {
                        v["state"] = json!("failed");
                        v["err_code"] = json!("CreationPolicyViolation");
                        v["credits"] = json!(0);
                    }
                    Stage::Succeeded => {
                        let url = match t.extra["video_url"].as_str() {
                            Some(u) => u.to_string(),
                            None => {
                                let u = core.mint_file(&t, Some(86_400), None);
                                core.update_task(&t.id, |x| x.extra = json!({"video_url": u}));
                                u
                            }
                        };
                        v["state"] = json!("success");
                        v["creations"] = json!([{"id": format!("{}1", t.id), "url": url,
                            "cover_url": format!("{}/_sim/cover.jpg", core.base()), "watermarked_url": ""}]);
                    }
                }
                ok(v)
            }
            _ if req.method == "POST"
                && rest.starts_with("tasks/")
                && rest.ends_with("/cancel") =>
            {
                let id = rest
                    .trim_start_matches("tasks/")
                    .trim_end_matches("/cancel");
                if core.task(id).is_none_or(|t| t.account != account) {
                    return err(404, "TaskNotFound", "task not found");
                }
                core.update_task(id, |t| t.extra["cancelled"] = json!(true));
                ok(json!({}))
            }
            _ => err(404, "NotFound", "not found"),
        }
    }
}
