//! Replicate predictions (`/v1/...`): Bearer auth, three create paths (official model,
//! pinned version, deployment) answering 201 `starting` with `urls` on the fake's own host,
//! then processing (growing `logs`) → succeeded (`output` a URL, or a list for `sim:list`)
//! / failed (`error`) / canceled (after `/cancel`) / aborted (`sim:abort`).
//!
//! Each model has a small input schema: unknown or mistyped inputs are a 422 with
//! `invalid_fields`, as Replicate answers a bad mapping.

// Validation returns the finished 422 response as its error; not a hot path.
#![allow(clippy::result_large_err)]

use super::*;

/// `(inputs with their kinds, required inputs)`.
type Schema = (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

pub struct Replicate {
    pub keys: Vec<String>,
}

impl Replicate {
    pub fn new(key: &str) -> Replicate {
        Replicate {
            keys: vec![key.to_string()],
        }
    }
}

/// The pinned version the tests use for `kwaivgi/kling-v2.1`.
pub const KLING_VERSION: &str = "daad218feb714b03e2a1ac445986aebb9d05243cd00da2af17be2e4049f48f69";

/// `(input, kind)` with kind `str`, `uri`, `uris<=N`, `int:a..b`, `bool`, `enum:a|b`.
fn schema(model: &str) -> Option<Schema> {
    Some(match model {
        "minimax/video-01" => (
            &[("prompt", "str"), ("prompt_optimizer", "bool")],
            &["prompt"],
        ),
        "bytedance/seedance-1-lite" => (
            &[
                ("prompt", "str"),
                ("image", "uri"),
                ("last_frame_image", "uri"),
                ("reference_images", "uris<=4"),
                ("duration", "int:2..12"),
                ("resolution", "enum:480p|720p|1080p"),
                ("aspect_ratio", "enum:16:9|4:3|1:1|3:4|9:16|21:9|9:21"),
                ("camera_fixed", "bool"),
            ],
            &["prompt"],
        ),
        "kwaivgi/kling-v2.1" => (
            &[
                ("prompt", "str"),
                ("start_image", "uri"),
                ("end_image", "uri"),
                ("mode", "enum:standard|pro"),
                ("duration", "int:5..10"),
                ("negative_prompt", "str"),
            ],
            &["prompt", "start_image"],
        ),
        _ => return None,
    })
}

fn invalid(field: &str, description: &str) -> Response {
    json_response(
        422,
        json!({"title": "Input validation failed", "status": 422,
               "detail": format!("- input.{field}: {description}"),
               "invalid_fields": [{"type": "invalid", "field": format!("input.{field}"), "description": description}]}),
    )
}

fn validate(model: &str, input: &Value) -> Result<(), Response> {
    let (fields, required) = schema(model)
        .ok_or_else(|| json_response(404, json!({"detail": "Not found.", "status": 404})))?;
    let obj = input
        .as_object()
        .ok_or_else(|| invalid("input", "must be an object"))?;
    for r in required {
        if !obj.contains_key(*r) {
            return Err(invalid(r, "is required"));
        }
    }
    for (k, v) in obj {
        let Some((_, kind)) = fields.iter().find(|(f, _)| f == k) else {
            return Err(invalid(k, "Additional property is not allowed"));
        };
        let uri = |u: &Value| u.as_str().is_some_and(|u| u.starts_with("http"));
        let ok = match *kind {
            "str" => v.is_string(),
            "bool" => v.is_boolean(),
            "uri" => uri(v),
            k if k.starts_with("uris<=") => {
                let max: usize = k.trim_start_matches("uris<=").parse().unwrap();
                v.as_array()
                    .is_some_and(|l| !l.is_empty() && l.len() <= max && l.iter().all(uri))
            }
            k if k.starts_with("int:") => {
                let (a, b) = k.trim_start_matches("int:").split_once("..").unwrap();
                let (a, b): (i64, i64) = (a.parse().unwrap(), b.parse().unwrap());
                v.as_i64().is_some_and(|d| (a..=b).contains(&d))
            }
            e => e
                .trim_start_matches("enum:")
                .split('|')
                .any(|x| v.as_str() == Some(x)),
        };
        if !ok {
            return Err(invalid(k, &format!("does not match {kind}")));
        }
    }
    Ok(())
}

fn prediction(core: &Core, t: &SimTask, status: &str) -> Value {
    let get = format!("{}/v1/predictions/{}", core.base(), t.id);
    json!({
        "id": t.id, "model": t.model, "version": t.extra["version"], "status": status,
        "input": t.request["input"], "output": null, "error": null, "logs": "",
        "data_removed": false, "created_at": "2025-06-01T12:00:00.123Z",
        "started_at": null, "completed_at": null, "metrics": {},
        "urls": {"get": get, "cancel": format!("{get}/cancel"), "web": format!("{}/p/{}", core.base(), t.id)}
    })
}

/// A prediction as a poll (or the `completed` webhook) shows it at `stage`.
fn render(core: &Core, stage: Stage, t: &SimTask) -> Value {
    match stage {
        Stage::Queued => prediction(core, t, "starting"),
        Stage::Running => {
            let mut v = prediction(core, t, "processing");
            v["logs"] = json!(format!("Generating frames {}/120\n", t.polls * 10));
            v["started_at"] = json!("2025-06-01T12:00:04.5Z");
            v
        }
        Stage::Weird => prediction(core, t, "booting"),
        Stage::Failed => {
            let mut v = prediction(core, t, "failed");
            v["error"] = json!("Prediction failed: content flagged as sensitive (E005)");
            v["metrics"] = json!({"predict_time": 3.1});
            v
        }
        Stage::Succeeded => {
            let url = match t.extra["video_url"].as_str() {
                Some(u) => u.to_string(),
                None => {
                    let u = core.mint_file(t, Some(3600), None);
                    core.update_task(&t.id, |x| x.extra["video_url"] = json!(u));
                    u
                }
            };
            let mut v = prediction(core, t, "succeeded");
            let list = t.request["input"]["prompt"]
                .as_str()
                .is_some_and(|p| p.contains("sim:list"));
            v["output"] = if list {
                json!([format!("{}/_sim/poster.webp", core.base()), url])
            } else {
                json!(url)
            };
            v["completed_at"] = json!("2025-06-01T12:01:10.9Z");
            v["metrics"] = json!({"predict_time": 66.4, "total_time": 70.8});
            v
        }
    }
}

#[async_trait]
impl Upstream for Replicate {
    fn op(&self, req: &SimRequest) -> Op {
        let s = req.segments();
        match (req.method.as_str(), s.as_slice()) {
            ("POST", ["v1", "models", _, _, "predictions"])
            | ("POST", ["v1", "predictions"])
            | ("POST", ["v1", "deployments", _, _, "predictions"]) => Op::Create,
            ("GET", ["v1", "predictions", _]) => Op::Poll,
            ("GET", ["v1", "account"]) => Op::List,
            _ => Op::Other,
        }
    }

    fn error_body(&self, status: u16, _code: &str, message: &str) -> Value {
        if status == 429 {
            json!({"detail": "Request was throttled. Your rate limit resets in ~1s."})
        } else {
            json!({"title": "Error", "detail": message, "status": status})
        }
    }

    // The webhook body is the prediction itself.
    fn callback(&self, core: &Core, stage: Stage, t: &SimTask) -> Option<(String, Value)> {
        let url = t.request["webhook"].as_str()?.to_string();
        Some((url, render(core, stage, t)))
    }

    async fn handle(&self, core: &Core, req: &SimRequest) -> Response {
        let Some(account) = req
            .bearer()
            .filter(|k| self.keys.iter().any(|x| x == k))
            .map(str::to_string)
        else {
            return json_response(
                401,
                json!({"title": "Unauthenticated", "detail": "You did not pass a valid authentication token", "status": 401}),
            );
        };
        let s = req.segments();
        match req.op {
            Op::Create => {
                let body = req.json();
                let (model, version) = match s.as_slice() {
                    ["v1", "models", o, n, _] => (format!("{o}/{n}"), Value::Null),
                    ["v1", "deployments", o, n, _] => (format!("{o}/{n}"), Value::Null),
                    _ => match body["version"].as_str() {
                        Some(KLING_VERSION) => ("kwaivgi/kling-v2.1".into(), json!(KLING_VERSION)),
                        _ => {
                            return json_response(
                                422,
                                json!({"title": "Invalid version", "detail": "The specified version does not exist (or perhaps you don't have permission to use it?)", "status": 422}),
                            );
                        }
                    },
                };
                if let Err(r) = validate(&model, &body["input"]) {
                    return r;
                }
                let prompt = body["input"]["prompt"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if blocked(&prompt) {
                    return invalid("prompt", "flagged as sensitive");
                }
                let id = format!("gm3qorzdhgbfurvj{:010}", core.next_seq());
                let t = core.create_task(&id, &model, body, &prompt, &account);
                core.update_task(&id, |x| x.extra = json!({"version": version}));
                let t = core.task(&t.id).unwrap();
                json_response(201, prediction(core, &t, "starting"))
            }
            Op::List => ok(json!({"type": "organization", "username": "acme", "name": "Acme"})),
            Op::Poll => {
                let id = s[2];
                let Some(t) = core.task(id).filter(|t| t.account == account) else {
                    return json_response(404, json!({"detail": "Not found.", "status": 404}));
                };
                if t.extra["canceled"] == true {
                    return ok(prediction(core, &t, "canceled"));
                }
                if t.request["input"]["prompt"]
                    .as_str()
                    .is_some_and(|p| p.contains("sim:abort"))
                {
                    return ok(prediction(core, &t, "aborted"));
                }
                let (stage, t) = core.step(id, &account).unwrap();
                ok(render(core, stage, &t))
            }
            _ if req.method == "POST"
                && matches!(s.as_slice(), ["v1", "predictions", _, "cancel"]) =>
            {
                let id = s[2];
                let Some(t) = core.task(id).filter(|t| t.account == account) else {
                    return json_response(404, json!({"detail": "Not found.", "status": 404}));
                };
                core.update_task(id, |x| x.extra["canceled"] = json!(true));
                ok(prediction(core, &t, "canceled"))
            }
            _ => json_response(404, json!({"detail": "Not found.", "status": 404})),
        }
    }
}
