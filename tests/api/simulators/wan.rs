//! DashScope video synthesis (`/api/v1`): the async header, both body formats, task
//! polling with `UNKNOWN` for ids it does not know, cancel while `PENDING`.

use super::*;

pub struct WanSim {
    pub key: String,
}

const CREATE: &str = "/api/v1/services/aigc/video-generation/video-synthesis";

fn dash_error(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"code": code, "message": message, "request_id": "sim-req"}),
    )
}

const SIZES: [&str; 13] = [
    "832*480",
    "480*832",
    "624*624",
    "1280*720",
    "720*1280",
    "960*960",
    "1088*832",
    "832*1088",
    "1920*1080",
    "1080*1920",
    "1440*1440",
    "1632*1248",
    "1248*1632",
];

fn validate(b: &Value) -> Result<(), String> {
    let model = b["model"].as_str().ok_or("model is required")?;
    let input = &b["input"];
    let p = &b["parameters"];
    if input["prompt"].as_str().is_none() {
        return Err("input.prompt is required".into());
    }
    let media = model.contains("2.7");
    if media {
        for m in input["media"].as_array().into_iter().flatten() {
            let t = m["type"].as_str().unwrap_or_default();
            let ok = if model.contains("-r2v") {
                matches!(t, "reference_image" | "reference_video")
            } else {
                matches!(
                    t,
                    "first_frame" | "last_frame" | "driving_audio" | "first_clip"
                )
            };
            if !ok || m["url"].as_str().is_none() {
                return Err(format!("media type {t} is invalid for {model}"));
            }
        }
        if input.get("img_url").is_some() || p.get("size").is_some() {
            return Err("wan2.7 takes input.media and parameters.resolution".into());
        }
        if let Some(r) = p.get("ratio")
            && !matches!(r.as_str(), Some("16:9" | "9:16" | "1:1" | "4:3" | "3:4"))
        {
            return Err("ratio is invalid".into());
        }
    } else if model.contains("-kf2v") {
        if input["first_frame_url"].as_str().is_none() || input["last_frame_url"].as_str().is_none()
        {
            return Err("first_frame_url and last_frame_url are required".into());
        }
    } else if model.contains("-i2v") {
        if input["img_url"].as_str().is_none() {
            return Err("input.img_url is required".into());
        }
    } else if model.contains("-r2v") {
        let n = input["reference_urls"].as_array().map_or(0, Vec::len);
        if !(1..=5).contains(&n) {
            return Err("reference_urls needs 1 to 5 items".into());
        }
    }
    if let Some(s) = p.get("size")
        && !s.as_str().is_some_and(|s| SIZES.contains(&s))
    {
        return Err("size is invalid".into());
    }
    if (model.contains("-t2v") || model.contains("-r2v")) && !media && p.get("resolution").is_some()
    {
        return Err("t2v and r2v take parameters.size".into());
    }
    if let Some(r) = p.get("resolution")
        && !matches!(r.as_str(), Some("480P" | "720P" | "1080P"))
    {
        return Err("resolution must be 480P, 720P or 1080P".into());
    }
    if let Some(d) = p.get("duration")
        && !d.as_i64().is_some_and(|d| (2..=15).contains(&d))
    {
        return Err("duration is out of range".into());
    }
    for flag in ["prompt_extend", "watermark", "audio"] {
        if p.get(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(format!("{flag} must be a boolean"));
        }
    }
    Ok(())
}

#[async_trait]
impl Upstream for WanSim {
    fn op(&self, req: &SimRequest) -> Op {
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", CREATE) => Op::Create,
            ("GET", "/api/v1/tasks") => Op::List,
            ("GET", p) if p.starts_with("/api/v1/tasks/") => Op::Poll,
            _ => Op::Other,
        }
    }

    fn error_body(&self, status: u16, _code: &str, message: &str) -> Value {
        let code = match status {
            429 => "Throttling.RateQuota",
            s if s >= 500 => "InternalError",
            _ => "InvalidParameter",
        };
        json!({"code": code, "message": message, "request_id": "sim-req"})
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        if req.bearer() != Some(self.key.as_str()) {
            return dash_error(401, "InvalidApiKey", "Invalid API-key provided.");
        }
        let account = self.key.as_str();
        match (req.op, req.method.as_str()) {
            (Op::Create, _) => {
                if req.header("x-dashscope-async") != Some("enable") {
                    return dash_error(
                        403,
                        "AccessDenied",
                        "current user api does not support synchronous calls",
                    );
                }
                let b = req.json();
                if let Err(m) = validate(&b) {
                    return dash_error(400, "InvalidParameter", &m);
                }
                let prompt = b["input"]["prompt"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if blocked(&prompt) {
                    return dash_error(
                        400,
                        "DataInspectionFailed",
                        "Input data may contain inappropriate content.",
                    );
                }
                let id = format!("0385dc79-5ff8-4d82-bcb6-{:012}", core.next_seq());
                let model = b["model"].as_str().unwrap_or_default().to_string();
                core.create_task(&id, &model, b, &prompt, account);
                ok(
                    json!({"output": {"task_status": "PENDING", "task_id": id}, "request_id": "sim-req"}),
                )
            }
            (Op::List, _) => ok(json!({"request_id": "sim-req", "data": [], "total": 0})),
            (Op::Poll, _) => {
                let id = req.path.trim_start_matches("/api/v1/tasks/");
                let Some((stage, t)) = core.step(id, account) else {
                    return ok(
                        json!({"request_id": "sim-req", "output": {"task_id": id, "task_status": "UNKNOWN"}}),
                    );
                };
                let mut out = json!({"task_id": t.id, "submit_time": "2025-07-27 21:05:15.212"});
                let mut v = json!({"request_id": "sim-req"});
                match stage {
                    Stage::Queued => out["task_status"] = json!("PENDING"),
                    Stage::Running => out["task_status"] = json!("RUNNING"),
                    Stage::Weird => out["task_status"] = json!("SUSPENDED"),
                    Stage::Failed => {
                        out["task_status"] = json!("FAILED");
                        out["code"] = json!("DataInspectionFailed");
                        out["message"] = json!("Output data may contain inappropriate content.");
                    }
                    Stage::Succeeded => {
                        let url = match t.extra.get("url").and_then(Value::as_str) {
                            Some(u) => u.to_string(),
                            None => {
                                let u = core.mint_file(&t, Some(86_400), None);
                                core.update_task(&t.id, |x| x.extra = json!({"url": u}));
                                u
                            }
                        };
                        out["task_status"] = json!("SUCCEEDED");
                        out["video_url"] = json!(url);
                        out["end_time"] = json!("2025-07-27 21:07:58.027");
                        // `usage` is what DashScope bills: seconds made, videos, and the
                        // output's short side (`SR`) from `resolution` or `size` ("1280*720").
                        let p = &t.request["parameters"];
                        let secs = super::made_seconds(&t.request)
                            .or(p["duration"].as_u64())
                            .unwrap_or(5);
                        let sr = p["resolution"]
                            .as_str()
                            .and_then(|r| r.trim_end_matches(['P', 'p']).parse::<u64>().ok())
                            .or_else(|| {
                                p["size"].as_str().and_then(|s| {
                                    s.split('*').filter_map(|n| n.parse::<u64>().ok()).min()
                                })
                            })
                            .unwrap_or(1080);
                        v["usage"] = json!({"duration": secs, "video_count": 1, "SR": sr});
                    }
                }
                v["output"] = out;
                ok(v)
            }
            _ => dash_error(404, "NotFound", "not found"),
        }
    }
}
