//! Kling: JWT auth (verified independently with `jsonwebtoken`), `{code, message, data}`
//! envelopes, `external_task_id` unique per account, polls by task id or external id.

use super::*;
use base64::Engine as _;

pub struct KlingSim {
    /// Access key → secret key.
    pub accounts: HashMap<String, String>,
}

impl KlingSim {
    pub fn new(ak: &str, sk: &str) -> KlingSim {
        KlingSim {
            accounts: HashMap::from([(ak.to_string(), sk.to_string())]),
        }
    }
}

const MODELS: [&str; 11] = [
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
    "kling-v3",
    "kling-video-o1",
    "kling-v3-omni",
];

fn reply(status: u16, code: i64, message: &str) -> Response {
    json_response(
        status,
        json!({"code": code, "message": message, "request_id": "sim-req"}),
    )
}

fn envelope(data: Value) -> Response {
    ok(json!({"code": 0, "message": "SUCCEED", "request_id": "sim-req", "data": data}))
}

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    exp: i64,
    nbf: i64,
}

impl KlingSim {
    /// The access key of a valid token, or Kling's 401 answer.
    fn authenticate(&self, core: &Core, req: &SimRequest) -> Result<String, Response> {
        let Some(token) = req.bearer() else {
            return Err(reply(401, 1001, "Authorization header is empty"));
        };
        let payload = token
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .ok_or_else(|| reply(401, 1002, "Authorization is invalid"))?;
        let iss = payload["iss"].as_str().unwrap_or_default();
        let sk = self
            .accounts
            .get(iss)
            .ok_or_else(|| reply(401, 1002, "Authorization is invalid"))?;
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Claims>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(sk.as_bytes()),
            &v,
        )
        .map_err(|_| reply(401, 1002, "Authorization is invalid"))?
        .claims;
        let now = core.clock.now();
        if claims.nbf > now {
            return Err(reply(401, 1003, "Authorization is not yet valid"));
        }
        if claims.exp < now {
            return Err(reply(401, 1004, "Authorization has expired"));
        }
        Ok(claims.iss)
    }
}

fn validate(kind: &str, b: &Value) -> Result<(), String> {
    let model = b["model_name"].as_str().unwrap_or("kling-v1");
    if !MODELS.contains(&model) {
        return Err(format!("model_name {model} is invalid"));
    }
    if let Some(d) = b.get("duration")
        && !d
            .as_str()
            .is_some_and(|s| s.parse::<u32>().is_ok_and(|n| (3..=15).contains(&n)))
    {
        return Err("duration must be a string such as \"5\"".into());
    }
    if let Some(m) = b.get("mode")
        && !matches!(m.as_str(), Some("std" | "pro"))
    {
        return Err("mode is invalid".into());
    }
    if let Some(r) = b.get("aspect_ratio")
        && !matches!(r.as_str(), Some("16:9" | "9:16" | "1:1"))
    {
        return Err("aspect_ratio is invalid".into());
    }
    if let Some(s) = b.get("sound")
        && !matches!(s.as_str(), Some("on" | "off"))
    {
        return Err("sound is invalid".into());
    }
    match kind {
        "text2video" if b["prompt"].as_str().is_none_or(str::is_empty) => {
            return Err("prompt is required".into());
        }
        "image2video" if b.get("image").is_none() && b.get("image_tail").is_none() => {
            return Err("image or image_tail is required".into());
        }
        "image2video" if b.get("aspect_ratio").is_some() => {
            return Err("aspect_ratio is not supported for image2video".into());
        }
        "multi-image2video" => {
            let n = b["image_list"].as_array().map_or(0, Vec::len);
            if !(1..=4).contains(&n) || model != "kling-v1-6" {
                return Err("image_list needs 1-4 images on kling-v1-6".into());
            }
        }
        "omni-video" if !model.contains("o1") && !model.contains("omni") => {
            return Err("model_name does not support omni-video".into());
        }
        _ => {}
    }
    Ok(())
}

fn task_data(core: &Core, stage: Stage, t: &SimTask) -> Value {
    let mut d = json!({
        "task_id": t.id,
        "task_info": {"external_task_id": t.extra["external_task_id"]},
        "created_at": t.created_at * 1000,
        "updated_at": core.clock.now_ms(),
    });
    match stage {
        Stage::Queued => d["task_status"] = json!("submitted"),
        Stage::Running => d["task_status"] = json!("processing"),
        Stage::Weird => d["task_status"] = json!("reviewing"),
        Stage::Failed => {
            d["task_status"] = json!("failed");
            d["task_status_msg"] = json!("Failure to pass the risk control system");
        }
        Stage::Succeeded => {
            let url = match t.extra.get("url").and_then(Value::as_str) {
                Some(u) => u.to_string(),
                None => {
                    let u = core.mint_file(t, Some(30 * 86_400), None);
                    core.update_task(&t.id, |x| x.extra["url"] = json!(u));
                    u
                }
            };
            // Kling reports the length it made as a decimal string and the units it
            // deducted as a numeric string: "1" for the documented 5 s task (one unit per
            // started 5 s here).
            let asked = t.request["duration"]
                .as_str()
                .and_then(|d| d.parse().ok())
                .unwrap_or(5);
            let secs = super::made_seconds(&t.request).unwrap_or(asked);
            d["task_status"] = json!("succeed");
            d["final_unit_deduction"] = json!(secs.div_ceil(5).to_string());
            d["task_result"] = json!({"videos": [{"id": "v1", "url": url, "watermark_url": "", "duration": format!("{secs}.042")}]});
        }
    }
    d
}

#[async_trait]
impl Upstream for KlingSim {
    fn op(&self, req: &SimRequest) -> Op {
        let segs = req.segments();
        match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["v1", "videos", _]) => Op::Create,
            ("GET", ["v1", "videos", _]) => Op::List,
            ("GET", ["v1", "videos", _, _]) => Op::Poll,
            _ => Op::Other,
        }
    }

    fn error_body(&self, status: u16, _code: &str, message: &str) -> Value {
        let code = match status {
            429 => 1302,
            s if s >= 500 => 5000,
            401 => 1002,
            _ => 1200,
        };
        json!({"code": code, "message": message, "request_id": "sim-req"})
    }

    // The callback body has the shape of a poll's `data`.
    fn callback(&self, core: &Core, stage: Stage, t: &SimTask) -> Option<(String, Value)> {
        let url = t.request["callback_url"].as_str()?.to_string();
        Some((url, task_data(core, stage, t)))
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        let account = match self.authenticate(core, req) {
            Ok(a) => a,
            Err(r) => return r,
        };
        let segs = req.segments();
        match req.op {
            Op::Create => {
                let kind = segs[2];
                if ![
                    "text2video",
                    "image2video",
                    "multi-image2video",
                    "omni-video",
                ]
                .contains(&kind)
                {
                    return reply(404, 1202, "method not found");
                }
                let b = req.json();
                if let Err(m) = validate(kind, &b) {
                    return reply(400, 1201, &m);
                }
                let prompt = b["prompt"].as_str().unwrap_or_default().to_string();
                if blocked(&prompt) {
                    return reply(
                        400,
                        1301,
                        "Trigger the content security policy of the platform",
                    );
                }
                let ext = b["external_task_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if !ext.is_empty()
                    && core.tasks().iter().any(|t| {
                        t.account == account && t.extra["external_task_id"] == ext.as_str()
                    })
                {
                    return reply(400, 1201, "external_task_id already exists");
                }
                let id = format!("8672837417591{:05}", core.next_seq());
                let model = b["model_name"].as_str().unwrap_or("kling-v1").to_string();
                core.create_task(&id, &model, b, &prompt, &account);
                core.update_task(&id, |t| {
                    t.extra = json!({"external_task_id": ext, "kind": kind});
                });
                let t = core.task(&id).unwrap();
                let mut d = task_data(core, Stage::Queued, &t);
                d["task_status"] = json!("submitted");
                envelope(d)
            }
            Op::List => envelope(json!([])),
            Op::Poll => {
                let (kind, key) = (segs[2], segs[3]);
                let id = core
                    .tasks()
                    .into_iter()
                    .find(|t| {
                        t.account == account
                            && t.extra["kind"] == kind
                            && (t.id == key || t.extra["external_task_id"] == key)
                    })
                    .map(|t| t.id);
                match id.and_then(|id| core.step(&id, &account)) {
                    Some((stage, t)) => envelope(task_data(core, stage, &t)),
                    None => reply(400, 1201, "task not found"),
                }
            }
            _ => reply(404, 1202, "method not found"),
        }
    }
}
