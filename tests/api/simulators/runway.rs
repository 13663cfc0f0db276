//! Runway's developer API (`/v1/text_to_video`, `/v1/image_to_video`, `/v1/tasks/{id}`).
//!
//! Checks the `key_<128 hex>` Bearer key and the `X-Runway-Version` header, validates
//! `model`, `ratio` and `duration` against per-model enums, answers `{id}` only, and moves
//! tasks PENDING (or THROTTLED for a `sim:throttle` prompt) → RUNNING → SUCCEEDED.
//! `DELETE` cancels a running task or deletes a finished one (then GET is 404).

use super::*;

pub struct Runway {
    pub keys: Vec<String>,
}

impl Runway {
    pub fn new(key: &str) -> Runway {
        Runway {
            keys: vec![key.to_string()],
        }
    }
}

fn err(status: u16, message: &str) -> Response {
    json_response(status, json!({"error": message}))
}

const GEN4: &[&str] = &[
    "1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672",
];
const VEO: &[&str] = &["1280:720", "720:1280", "1920:1080", "1080:1920"];
const SEEDANCE: &[&str] = &[
    "992:432",
    "864:496",
    "752:560",
    "640:640",
    "560:752",
    "496:864",
    "1470:630",
    "1280:720",
    "1112:834",
    "960:960",
    "834:1112",
    "720:1280",
    "2206:946",
    "1920:1080",
    "1664:1248",
    "1440:1440",
    "1248:1664",
    "1080:1920",
    "3840:1646",
    "3840:2160",
    "3840:2880",
    "3840:3840",
    "2880:3840",
    "2160:3840",
];

/// `(endpoints, ratios, durations)` per model, as the API's union declares them.
fn model_enums(model: &str, t2v: bool) -> Option<(&'static [&'static str], Vec<u64>)> {
    Some(match (model, t2v) {
        ("gen4_turbo", false) => (GEN4, vec![5, 10]),
        ("gen4.5", false) => (GEN4, (2..=10).collect()),
        ("gen4.5", true) => (&GEN4[..2], (2..=10).collect()),
        ("veo3", _) => (VEO, vec![8]),
        ("veo3.1" | "veo3.1_fast", _) => (VEO, vec![4, 6, 8]),
        ("seedance2" | "seedance2_fast" | "seedance2_mini", _) => (SEEDANCE, (4..=12).collect()),
        _ => return None,
    })
}

fn asset_ok(u: &Value) -> bool {
    u.as_str()
        .is_some_and(|u| u.starts_with("https://") || u.starts_with("data:"))
}

fn validate(path: &str, b: &Value) -> Result<(), String> {
    let model = b["model"].as_str().ok_or("model is required")?;
    let t2v = path.ends_with("text_to_video");
    let (ratios, durations) = model_enums(model, t2v)
        .ok_or_else(|| format!("Validation of body failed: invalid model {model} for {path}"))?;
    if !b["ratio"].as_str().is_some_and(|r| ratios.contains(&r)) {
        return Err(format!("Invalid ratio {} for {model}", b["ratio"]));
    }
    if !b["duration"]
        .as_u64()
        .is_some_and(|d| durations.contains(&d))
    {
        return Err(format!("Invalid duration {} for {model}", b["duration"]));
    }
    if t2v {
        if !b["promptText"].is_string() {
            return Err("promptText is required".into());
        }
        if b.get("promptImage").is_some() {
            return Err("promptImage is not allowed on text_to_video".into());
        }
    } else {
        match &b["promptImage"] {
            Value::String(_) if asset_ok(&b["promptImage"]) => {}
            Value::Array(items)
                if !items.is_empty()
                    && items.iter().all(|i| {
                        asset_ok(&i["uri"])
                            && matches!(i["position"].as_str(), Some("first" | "last"))
                    }) => {}
            _ => return Err("promptImage must be an HTTPS URL or data URI".into()),
        }
    }
    for (field, kind) in [
        ("references", None),
        ("referenceVideos", Some("video")),
        ("referenceAudio", Some("audio")),
    ] {
        if let Some(list) = b.get(field) {
            if !model.starts_with("seedance2") {
                return Err(format!("{field} is not allowed for {model}"));
            }
            let ok = list.as_array().is_some_and(|l| {
                l.iter().all(|i| {
                    asset_ok(&i["uri"]) && kind.is_none_or(|k| i["type"].as_str() == Some(k))
                })
            });
            if !ok {
                return Err(format!("{field} items need an HTTPS uri"));
            }
        }
    }
    if b.get("audio").is_some() && !(model.starts_with("veo3.1") || model.starts_with("seedance2"))
    {
        return Err(format!("audio is not allowed for {model}"));
    }
    Ok(())
}

/// `^key_[0-9a-f]{128}$`, as Runway documents its keys.
pub fn valid_key(k: &str) -> bool {
    k.strip_prefix("key_").is_some_and(|h| {
        h.len() == 128 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn uuid(n: u64) -> String {
    format!("63fd0f13-f29d-4e58-99d3-{n:012x}")
}

#[async_trait]
impl Upstream for Runway {
    fn op(&self, req: &SimRequest) -> Op {
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/v1/text_to_video" | "/v1/image_to_video") => Op::Create,
            ("GET", p) if p.starts_with("/v1/tasks/") => Op::Poll,
            ("GET", "/v1/organization") => Op::List,
            _ => Op::Other,
        }
    }

    fn error_body(&self, _status: u16, _code: &str, message: &str) -> Value {
        json!({"error": message})
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        let Some(account) = req
            .bearer()
            .filter(|k| valid_key(k) && self.keys.iter().any(|x| x == k))
            .map(str::to_string)
        else {
            return err(401, "Invalid API key.");
        };
        if req.header("x-runway-version").is_none() {
            return err(400, "You must provide a X-Runway-Version header.");
        }
        let task_id = req.path.strip_prefix("/v1/tasks/").unwrap_or_default();
        match (req.op, req.method.as_str()) {
            (Op::Create, _) => {
                let body = req.json();
                if let Err(m) = validate(&req.path, &body) {
                    return err(400, &m);
                }
                let prompt = body["promptText"].as_str().unwrap_or_default().to_string();
                if blocked(&prompt) {
                    return err(400, "Input text did not pass moderation.");
                }
                let id = uuid(core.next_seq());
                let model = body["model"].as_str().unwrap_or_default().to_string();
                core.create_task(&id, &model, body, &prompt, &account);
                core.update_task(&id, |t| {
                    t.extra = json!({"throttled": prompt.contains("sim:throttle")});
                });
                ok(json!({"id": id}))
            }
            (Op::List, _) => ok(json!({
                "creditBalance": 12000,
                "tier": {"maxMonthlyCreditSpend": 100000, "models": {}},
                "usage": {"models": {}}
            })),
            (Op::Poll, _) => {
                let Some(t) = core.task(task_id).filter(|t| t.account == account) else {
                    return err(404, "Task not found.");
                };
                let created = "2025-11-11T21:48:50.448Z";
                if t.extra["deleted"] == true {
                    return err(404, "Task not found.");
                }
                if t.extra["cancelled"] == true {
                    return ok(json!({"id": t.id, "createdAt": created, "status": "CANCELLED"}));
                }
                let Some((stage, t)) = core.step(task_id, &account) else {
                    return err(404, "Task not found.");
                };
                let mut v = json!({"id": t.id, "createdAt": created});
                match stage {
                    Stage::Queued if t.extra["throttled"] == true => {
                        v["status"] = json!("THROTTLED")
                    }
                    Stage::Queued => v["status"] = json!("PENDING"),
                    Stage::Running => {
                        v["status"] = json!("RUNNING");
                        v["progress"] = json!(0.42);
                    }
                    Stage::Weird => v["status"] = json!("PAUSED_FOR_REVIEW"),
                    Stage::Failed => {
                        v["status"] = json!("FAILED");
                        v["failure"] = json!("Input text did not pass moderation.");
                        v["failureCode"] = json!("SAFETY.INPUT.TEXT");
                        core.update_task(&t.id, |x| x.extra["done"] = json!(true));
                    }
                    Stage::Succeeded => {
                        let url = match t.extra["video_url"].as_str() {
                            Some(u) => u.to_string(),
                            None => {
                                let u = core.mint_file(&t, Some(86_400), None);
                                core.update_task(&t.id, |x| {
                                    x.extra["video_url"] = json!(u);
                                    x.extra["done"] = json!(true);
                                });
                                u
                            }
                        };
                        v["status"] = json!("SUCCEEDED");
                        v["output"] = json!([url]);
                    }
                }
                ok(v)
            }
            (_, "DELETE") if !task_id.is_empty() => {
                let Some(t) = core.task(task_id).filter(|t| t.account == account) else {
                    return err(404, "Task not found.");
                };
                if t.extra["done"] == true {
                    core.update_task(task_id, |x| x.extra["deleted"] = json!(true));
                } else {
                    core.update_task(task_id, |x| x.extra["cancelled"] = json!(true));
                }
                Response::builder().status(StatusCode::NO_CONTENT).finish()
            }
            _ => err(404, "Not found."),
        }
    }
}
