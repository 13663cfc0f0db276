//! Luma Dream Machine (`/dream-machine/v1/generations...`): Bearer auth, `{"detail"}`
//! errors with the API's own wording, 201 + `state:"queued"` on create, then dreaming →
//! completed (`assets.video`) or failed (`failure_reason`).

use super::*;

pub struct Luma {
    pub keys: Vec<String>,
}

impl Luma {
    pub fn new(key: &str) -> Luma {
        Luma {
            keys: vec![key.to_string()],
        }
    }
}

const PREFIX: &str = "/dream-machine/v1";

fn detail(status: u16, message: &str) -> Response {
    json_response(status, json!({"detail": message}))
}

fn validate(b: &Value) -> Result<(), String> {
    let frames = &b["keyframes"];
    for f in ["frame0", "frame1"] {
        let k = &frames[f];
        if !k.is_null() {
            let ok = match k["type"].as_str() {
                Some("image") => k["url"].as_str().is_some_and(|u| u.starts_with("http")),
                Some("generation") => k["id"].is_string(),
                _ => false,
            };
            if !ok {
                return Err("Unknown request type".into());
            }
        }
    }
    let has_image = frames.is_object();
    match b["prompt"].as_str() {
        None if !has_image => return Err("Prompt is required".into()),
        Some(p) if p.chars().count() < 3 && !has_image => {
            return Err("Prompt is too short, minimum length is 3 characters".into());
        }
        Some(p) if p.chars().count() > 5000 => {
            return Err("Prompt is too long, maximum length is 5000 characters".into());
        }
        _ => {}
    }
    if b["loop"] == true && !frames["frame1"].is_null() {
        return Err("Loop is not supported for end frame".into());
    }
    if let Some(d) = b.get("duration")
        && !matches!(d.as_str(), Some("5s" | "9s"))
    {
        return Err(format!("Invalid duration {d}"));
    }
    if let Some(r) = b.get("resolution")
        && !matches!(r.as_str(), Some("540p" | "720p" | "1080p" | "4k"))
    {
        return Err(format!("Invalid resolution {r}"));
    }
    if let Some(a) = b.get("aspect_ratio")
        && !matches!(
            a.as_str(),
            Some("1:1" | "16:9" | "9:16" | "4:3" | "3:4" | "21:9" | "9:21")
        )
    {
        return Err(format!("Invalid aspect ratio {a}"));
    }
    if !matches!(
        b["model"].as_str(),
        Some("ray-2" | "ray-flash-2" | "ray-1-6")
    ) {
        return Err(format!("Invalid model {}", b["model"]));
    }
    Ok(())
}

fn generation(t: &SimTask, state: &str) -> Value {
    json!({
        "id": t.id, "generation_type": "video", "state": state, "failure_reason": null,
        "created_at": "2025-01-01T12:00:00.000Z", "model": t.model, "assets": null,
        "request": t.request
    })
}

#[async_trait]
impl Upstream for Luma {
    fn op(&self, req: &SimRequest) -> Op {
        let rest = req.path.strip_prefix(PREFIX).unwrap_or_default();
        match (req.method.as_str(), rest) {
            ("POST", "/generations/video" | "/generations") => Op::Create,
            ("GET", "/credits") => Op::List,
            ("GET", r) if r.starts_with("/generations/") => Op::Poll,
            _ => Op::Other,
        }
    }

    fn error_body(&self, _status: u16, _code: &str, message: &str) -> Value {
        json!({"detail": message})
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        let Some(account) = req
            .bearer()
            .filter(|k| self.keys.iter().any(|x| x == k))
            .map(str::to_string)
        else {
            return detail(401, "Invalid API key provided");
        };
        let rest = req.path.strip_prefix(PREFIX).unwrap_or_default();
        match req.op {
            Op::Create => {
                let body = req.json();
                if let Err(m) = validate(&body) {
                    return detail(400, &m);
                }
                let prompt = body["prompt"].as_str().unwrap_or_default().to_string();
                if blocked(&prompt) {
                    return detail(400, "Prompt contains blacklisted words");
                }
                let n = core.next_seq();
                let id = format!("123e4567-e89b-12d3-a456-{n:012}");
                let model = body["model"].as_str().unwrap_or_default().to_string();
                let t = core.create_task(&id, &model, body, &prompt, &account);
                json_response(201, generation(&t, "queued"))
            }
            Op::List => ok(json!({"credit_balance": 12345.0})),
            Op::Poll => {
                let id = rest.trim_start_matches("/generations/");
                let Some((stage, t)) = core.step(id, &account) else {
                    return detail(404, "Generation not found");
                };
                let v = match stage {
                    Stage::Queued => generation(&t, "queued"),
                    Stage::Running => generation(&t, "dreaming"),
                    Stage::Weird => generation(&t, "pending_review"),
                    Stage::Failed => {
                        let mut v = generation(&t, "failed");
                        v["failure_reason"] = json!("Advanced prompt moderation failed");
                        v
                    }
                    Stage::Succeeded => {
                        let url = match t.extra["video_url"].as_str() {
                            Some(u) => u.to_string(),
                            None => {
                                let u = core.mint_file(&t, None, None);
                                core.update_task(&t.id, |x| x.extra = json!({"video_url": u}));
                                u
                            }
                        };
                        let mut v = generation(&t, "completed");
                        v["assets"] = json!({"video": url, "image": format!("{}/_sim/thumb.jpg", core.base()), "progress_video": null});
                        v
                    }
                };
                ok(v)
            }
            _ => detail(404, "Not Found"),
        }
    }
}
